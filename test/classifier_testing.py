"""Running the real classifier node in tests and reading what it publishes."""

import time

import pytest
from rclpy.parameter import Parameter
from ros_processes import node_process, ros_params
from std_msgs.msg import Float32, String

from jetson_classifier.nodes.parameters import LATCHED

vision_msgs = pytest.importorskip(
    'vision_msgs.msg', reason='vision_msgs does not import (build the stand-in: '
    'tools/build_vision_msgs_stand_in.sh <venv>)')
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100

NODE = 'jetson_classifier.nodes.classifier_node'
SOURCE = 'jetson_classifier.nodes.image_source_node'
CATS = {'tabby', 'tiger cat', 'Egyptian cat'}
CUPS = {'espresso', 'cup', 'coffee mug'}
CHELSEA_SIZE, COFFEE_SIZE = (451, 300), (600, 400)


def classifier(**params):
    return node_process(NODE, ros_params(**params), ready_text='classifying', timeout_s=30.0)


def image_source(**params):
    return node_process(SOURCE, ros_params(**params), ready_text='publishing')


def stamp_s(msg):
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def outputs(ros):
    """Subscribe to every output of the node; return the lists they fill."""
    return {
        'classification': ros.subscribe(vision_msgs.Classification, 'classifier/classification',
                                        100),
        'label': ros.subscribe(String, 'classifier/label', 100),
        'fps': ros.subscribe(Float32, 'classifier/fps', 10),
        'inference_ms': ros.subscribe(Float32, 'classifier/inference_ms', 10),
        'label_info': ros.subscribe(vision_msgs.LabelInfo, 'classifier/label_info', LATCHED),
        'active_model': ros.subscribe(String, 'classifier/active_model', LATCHED),
        'diagnostics': ros.subscribe(DiagnosticArray, '/diagnostics', 10),
    }


def classifier_status(received):
    """Return key -> value of the classifier's latest diagnostics status, or None."""
    level_values = _latest(received)
    return None if level_values is None else level_values[1]


def _latest(received):
    """Return (level, key -> value) of the classifier's latest status, or None."""
    for _, array in reversed(received):
        for status in array.status:
            if status.name == '/classifier: classification':
                return status.level, {kv.key: kv.value for kv in status.values}
    return None


def diagnostics(received):
    """Return (level, key -> value) of the classifier's latest diagnostics status."""
    level_values = _latest(received)
    assert level_values is not None, 'no diagnostics from the classifier'
    return level_values


def wait_for_diagnostics(ros, received, condition, timeout_s=5.0):
    """
    Spin until the latest diagnostics satisfy condition(values); return those values.

    Other nodes (an image source) publish on /diagnostics too, and may be heard first.
    """
    def satisfied():
        values = classifier_status(received)
        return values is not None and condition(values)
    ros.spin_until(satisfied, timeout_s)
    return diagnostics(received)[1]


def set_parameter(ros, parameters, name, value, timeout_s=20.0):
    """Set one parameter of the node; return (SetParametersResult, seconds the call took)."""
    assert ros.spin_until(parameters.services_are_ready, 10.0)
    start = time.monotonic()
    response = ros.call(lambda: parameters.set_parameters([Parameter(name, value=value)]),
                        timeout_s)
    return response.results[0], time.monotonic() - start


def get_parameter(ros, parameters, name):
    return ros.call(lambda: parameters.get_parameters([name]), 10.0).values[0].string_value


def top_label(out, msg):
    """
    Look a Classification's best class_id up in ~/label_info, as vision_msgs says to.

    The LabelInfo that holds is the latest stamped no later than the Classification.
    """
    stamp = stamp_s(msg)
    label_info = max((info for _, info in out['label_info'] if stamp_s(info) <= stamp),
                     key=stamp_s)
    return {c.class_id: c.class_name for c in label_info.class_map}[int(msg.results[0].class_id)]


def labels_between(out, start, end=float('inf')):
    """Return the top-1 labels that arrived between the monotonic times start and end."""
    return [top_label(out, msg) for at, msg in out['classification']
            if start < at < end and msg.results]


def wait_for_active_model(ros, out, model, timeout_s=30.0):
    """Spin until ~/active_model last said `model`; return when (monotonic)."""
    assert ros.spin_until(lambda: out['active_model'] and out['active_model'][-1][1].data == model,
                          timeout_s), [m.data for _, m in out['active_model']]
    return out['active_model'][-1][0]


def publish_until_classified(ros, publisher, msg, out, timeout_s=5.0):
    """Publish msg (a good frame) until its classification comes back; return it."""
    def answer():
        return next((m for _, m in out['classification'] if stamp_s(m) == stamp_s(msg)), None)
    deadline = time.monotonic() + timeout_s
    while answer() is None and time.monotonic() < deadline:
        publisher.publish(msg)
        ros.spin_until(answer, 0.5)
    return answer()


def wait_for_subscriber(ros, publisher):
    assert ros.spin_until(lambda: publisher.get_subscription_count() > 0, 20.0)
