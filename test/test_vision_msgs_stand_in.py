"""
vision_msgs (stand-in or real) carries Classification and LabelInfo between processes.

Run as a script, this file is the listener half: it subscribes, prints what it got as JSON.
"""

import json
import os
import subprocess
import sys
import time

import pytest

BUILD_HINT = 'build the stand-in: tools/build_vision_msgs_stand_in.sh <venv>'
rclpy = pytest.importorskip('rclpy', reason='rclpy is not installed')
qos = pytest.importorskip('rclpy.qos', reason='rclpy is not installed')
vision_msgs = pytest.importorskip(
    'vision_msgs.msg', reason=f'vision_msgs does not import ({BUILD_HINT})')

LABEL_INFO_QOS = qos.QoSProfile(
    depth=1, reliability=qos.ReliabilityPolicy.RELIABLE,
    durability=qos.DurabilityPolicy.TRANSIENT_LOCAL)
LISTEN_TIMEOUT_S = 20.0

# RIHS01 type hashes of vision_msgs 4.x as generated upstream (field definitions only). The
# detection messages' were generated from ros-perception/vision_msgs tag 4.1.1 (its own
# CMakeLists, target vision_msgs__rosidl_generator_type_description, Kilted's rosidl).
UPSTREAM_TYPE_HASHES = {
    'Classification': 'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'ObjectHypothesis': 'RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'LabelInfo': 'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
    'VisionClass': 'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
    'Detection2DArray':
        'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968',
    'Detection2D': 'RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea',
    'BoundingBox2D': 'RIHS01_008eacbb0cf8f26e83795547bed013eec3675485ef386ec056d80eaaf1c1ce2f',
    'Pose2D': 'RIHS01_b0b5d1d7b4c20dd4fcde3ed1d4b289a919290572007d67a97043814db25d3648',
    'Point2D': 'RIHS01_eab0e83f44ab4de92ceaf76dd7d0e7638f2bdd1d16ffbe16c7a136c48e407247',
    'ObjectHypothesisWithPose':
        'RIHS01_41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc',
}


def ros_env():
    """Environment for ROS processes here: DDS on localhost, packages found in this prefix."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['AMENT_PREFIX_PATH'] = env.get('AMENT_PREFIX_PATH') or sys.prefix
    return env


@pytest.fixture
def ros_context(monkeypatch):
    """Yield an rclpy context of its own, set up with ros_env()."""
    for name, value in ros_env().items():
        monkeypatch.setenv(name, value)
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    context.try_shutdown()


def make_classification():
    """Return a Classification of a cat photo with two hypotheses."""
    msg = vision_msgs.Classification()
    msg.header.frame_id = 'camera_optical'
    msg.header.stamp.sec = 12
    msg.header.stamp.nanosec = 345
    msg.results = [
        vision_msgs.ObjectHypothesis(class_id='tabby', score=0.75),
        vision_msgs.ObjectHypothesis(class_id='Egyptian cat', score=0.125),
    ]
    return msg


def make_label_info():
    """Return a LabelInfo mapping two ImageNet indices to names."""
    msg = vision_msgs.LabelInfo()
    msg.header.frame_id = 'camera_optical'
    msg.class_map = [
        vision_msgs.VisionClass(class_id=281, class_name='tabby'),
        vision_msgs.VisionClass(class_id=285, class_name='Egyptian cat'),
    ]
    msg.threshold = 0.25
    return msg


def summarize(classification, label_info):
    """Turn the two messages into plain JSON-able values."""
    return {
        'classification': {
            'frame_id': classification.header.frame_id,
            'stamp': [classification.header.stamp.sec, classification.header.stamp.nanosec],
            'results': [[r.class_id, r.score] for r in classification.results],
        },
        'label_info': {
            'frame_id': label_info.header.frame_id,
            'class_map': [[c.class_id, c.class_name] for c in label_info.class_map],
            'threshold': label_info.threshold,
        },
    }


def listen(namespace):
    """Subscribe to both topics under namespace, print one of each as JSON; exit 1 on timeout."""
    rclpy.init()
    node = rclpy.create_node('vision_msgs_stand_in_listener')
    received = {}
    node.create_subscription(
        vision_msgs.Classification, f'{namespace}/classification',
        lambda msg: received.setdefault('classification', msg), 10)
    node.create_subscription(
        vision_msgs.LabelInfo, f'{namespace}/label_info',
        lambda msg: received.setdefault('label_info', msg), LABEL_INFO_QOS)
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while len(received) < 2 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    if len(received) < 2:
        sys.exit(f'listener got only {sorted(received)} on {namespace} '
                 f'within {LISTEN_TIMEOUT_S} s')
    print(json.dumps(summarize(received['classification'], received['label_info'])))


def test_type_hashes_match_upstream_vision_msgs(monkeypatch):
    from ament_index_python.packages import get_package_share_directory

    monkeypatch.setenv('AMENT_PREFIX_PATH', ros_env()['AMENT_PREFIX_PATH'])
    share = get_package_share_directory('vision_msgs')
    for name, expected in UPSTREAM_TYPE_HASHES.items():
        with open(os.path.join(share, 'msg', f'{name}.json')) as description:
            hashes = {h['type_name']: h['hash_string']
                      for h in json.load(description)['type_hashes']}
        assert hashes[f'vision_msgs/msg/{name}'] == expected, name


def test_separate_process_receives_classification_and_late_joined_label_info(ros_context):
    namespace = f'/vision_msgs_stand_in_test_{os.getpid()}'
    node = rclpy.create_node('vision_msgs_stand_in_talker', context=ros_context)
    classification_pub = node.create_publisher(
        vision_msgs.Classification, f'{namespace}/classification', 10)
    label_info_pub = node.create_publisher(
        vision_msgs.LabelInfo, f'{namespace}/label_info', LABEL_INFO_QOS)
    label_info_pub.publish(make_label_info())

    listener = subprocess.Popen(
        [sys.executable, __file__, namespace], env=ros_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + LISTEN_TIMEOUT_S + 10
        while listener.poll() is None and time.monotonic() < deadline:
            classification_pub.publish(make_classification())
            time.sleep(0.1)
        out, err = listener.communicate(timeout=5)
    finally:
        if listener.poll() is None:
            listener.kill()
        node.destroy_node()

    assert listener.returncode == 0, err
    assert json.loads(out) == {
        'classification': {
            'frame_id': 'camera_optical',
            'stamp': [12, 345],
            'results': [['tabby', 0.75], ['Egyptian cat', 0.125]],
        },
        'label_info': {
            'frame_id': 'camera_optical',
            'class_map': [[281, 'tabby'], [285, 'Egyptian cat']],
            'threshold': 0.25,
        },
    }


if __name__ == '__main__':
    listen(sys.argv[1])
