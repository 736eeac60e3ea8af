"""The image source node as a real process: what arrives over DDS in another process."""

import cv2
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from rclpy.parameter import Parameter
from ros_processes import node_process, ros_params
from sensor_msgs.msg import CompressedImage, Image

from jetson_classifier.pipeline.frame_sources import builtin_photos, resize

MODULE = 'jetson_classifier.nodes.image_source_node'
READY = 'publishing'


@pytest.fixture(scope='module')
def photos():
    return builtin_photos()


def pixels(msg):
    return np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)


def receive_until_exit(ros, source, grace_s=1.0, timeout_s=30.0):
    """Spin while `source` publishes, and a little after it exits on its own."""
    assert ros.spin_until(lambda: not source.running(), timeout_s)
    ros.spin_for(grace_s)
    assert source.wait(timeout_s) == 0


def test_frames_are_the_builtin_photos_in_order_in_rgb8(ros, photos):
    received = ros.subscribe(Image, 'image')
    params = ros_params(max_frames=8, rate_hz=10.0, wait_for_subscribers=1)
    with node_process(MODULE, params, ready_text=READY) as source:
        receive_until_exit(ros, source)
    assert len(received) >= 6
    first = received[0][1]
    assert (first.encoding, first.header.frame_id) == ('rgb8', 'camera')
    assert (first.height, first.width, first.step) == (300, 451, 451 * 3)
    np.testing.assert_array_equal(pixels(first), photos[0])
    shapes = [p.shape for p in photos]
    for _, msg in received:
        index = shapes.index(pixels(msg).shape)
        np.testing.assert_array_equal(pixels(msg), photos[index])
    order = [shapes.index(pixels(msg).shape) for _, msg in received]
    assert all(later == (earlier + 1) % 4 for earlier, later in zip(order, order[1:])), order


def test_without_loop_the_node_exits_after_the_last_photo(ros, photos):
    received = ros.subscribe(Image, 'image')
    params = ros_params(loop=False, rate_hz=20.0, wait_for_subscribers=1)
    with node_process(MODULE, params, ready_text=READY) as source:
        receive_until_exit(ros, source)
    assert [(msg.height, msg.width, 3) for _, msg in received] == [p.shape for p in photos]


def test_bgr8_frames_are_resized_photos_with_channels_swapped(ros, photos):
    received = ros.subscribe(Image, 'image')
    params = ros_params(encoding='bgr8', width=320, height=240, max_frames=2, rate_hz=10.0,
                        wait_for_subscribers=1, frame_id='front_camera')
    with node_process(MODULE, params, ready_text=READY) as source:
        receive_until_exit(ros, source)
    assert received
    msg = received[0][1]
    assert (msg.encoding, msg.width, msg.height, msg.step) == ('bgr8', 320, 240, 960)
    assert msg.header.frame_id == 'front_camera'
    np.testing.assert_array_equal(pixels(msg), resize(photos[0], 320, 240)[..., ::-1])


def test_compressed_transport_publishes_jpeg_of_the_photo(ros, photos):
    raw = ros.subscribe(Image, 'image')
    compressed = ros.subscribe(CompressedImage, 'image/compressed')
    params = ros_params(transport='compressed', max_frames=1, rate_hz=10.0,
                        wait_for_subscribers=1)
    with node_process(MODULE, params, ready_text=READY) as source:
        receive_until_exit(ros, source)
    assert raw == []
    assert len(compressed) == 1
    msg = compressed[0][1]
    assert msg.format == 'rgb8; jpeg compressed bgr8'
    bgr = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr.shape == photos[0].shape
    error = np.abs(bgr[..., ::-1].astype(np.int16) - photos[0]).mean()
    assert error < 4.0


def test_rate_is_roughly_rate_hz_and_stamps_are_now(ros):
    received = ros.subscribe(Image, 'image')
    params = ros_params(rate_hz=10.0, width=64, height=48)
    with node_process(MODULE, params, ready_text=READY):
        ros.spin_until(lambda: len(received) >= 16, timeout_s=15.0)
        now_ns = ros.node.get_clock().now().nanoseconds
    assert len(received) >= 16
    stamps = [msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 for _, msg in received]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 6.0 < rate < 14.0
    assert abs(now_ns * 1e-9 - stamps[-1]) < 2.0


def test_rate_hz_changes_at_run_time_but_source_is_read_only(ros):
    received = ros.subscribe(Image, 'image')
    with node_process(MODULE, ros_params(rate_hz=2.0, width=32, height=24), ready_text=READY):
        client = ros.parameter_client('image_source')
        rate_result, source_result = ros.call(lambda: client.set_parameters(
            [Parameter('rate_hz', value=20.0), Parameter('source', value='/tmp')])).results
        received.clear()
        ros.spin_for(1.5)
    assert rate_result.successful
    assert not source_result.successful
    assert len(received) >= 12


def test_diagnostics_report_the_rate_sent_under_the_node_s_own_name(ros):
    arrays = ros.subscribe(DiagnosticArray, '/diagnostics', 20)

    def status():
        return next((s for _, array in reversed(arrays) for s in array.status
                     if s.name == '/camera/image_source: image source'), None)
    params = ros_params(rate_hz=10.0, width=32, height=24)
    with node_process(MODULE, ['-r', '__ns:=/camera', *params], ready_text=READY):
        assert ros.spin_until(lambda: status() is not None
                              and float(values_of(status())['frames published']) > 25, 10.0)
    values = values_of(status())
    assert float(values['rate sent Hz']) == pytest.approx(10.0, abs=1.5)
    assert status().level == b'\x00' and 'Hz sent of 10 Hz' in status().message


def values_of(status):
    return {kv.key: kv.value for kv in status.values}


def test_720p_stream_arrives_nearly_complete_with_the_camera_profile(ros):
    received = ros.subscribe(Image, 'image')
    params = ros_params(width=1280, height=720, max_frames=60, rate_hz=30.0,
                        wait_for_subscribers=1)
    with node_process(MODULE, params, ready_text=READY) as source:
        receive_until_exit(ros, source)
    assert {(msg.width, msg.height) for _, msg in received} == {(1280, 720)}
    assert len(received) >= 54


def test_ctrl_c_stops_the_node_with_exit_code_0_and_no_traceback():
    with node_process(MODULE, ready_text=READY, expect_clean_exit=False) as source:
        pass
    assert source.process.returncode == 0
    assert 'Traceback' not in source.output()


def test_unknown_encoding_exits_with_an_error_naming_the_parameter():
    with node_process(MODULE, ros_params(encoding='32FC1'), expect_clean_exit=False) as source:
        assert source.wait(20.0) == 1
    assert "parameter encoding: '32FC1'" in source.output()
    assert 'Traceback' not in source.output()
