"""ROS 2 node that replays images, a video or built-in photos as a camera stream."""

import sys

import time

from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from sensor_msgs.msg import CompressedImage, Image

from jetson_classifier.errors import ClassifierError, ImageError
from jetson_classifier.nodes.diagnostics import DiagnosticsPublisher
from jetson_classifier.nodes.node_main import run_node
from jetson_classifier.nodes.parameters import descriptor
from jetson_classifier.pipeline.frame_sources import load_frames
from jetson_classifier.pipeline.health import Level
from jetson_classifier.pipeline.image_conversion import (rgb_to_compressed, rgb_to_image,
                                                         SUPPORTED_ENCODINGS)
from jetson_classifier.pipeline.rate_meter import RateMeter

ENCODINGS = SUPPORTED_ENCODINGS
TRANSPORTS = ('raw', 'compressed', 'both')
# Seconds the rate sent is measured over.
RATE_WINDOW_S = 2.0


class ImageSource(Node):
    """Publish frames, converted once at start, on `image` and/or `image/compressed`."""

    def __init__(self):
        super().__init__('image_source')
        source = self.declare_parameter('source', '', descriptor(
            'Image folder (name order), image or video file; empty: built-in photos',
            read_only=True)).value
        rate_hz = self.declare_parameter('rate_hz', 30.0, descriptor(
            'Frames per second', floats=(0.1, 1000.0))).value
        width = self.declare_parameter('width', 0, descriptor(
            'Frame width in pixels; 0: native (or keep aspect if height is set)',
            read_only=True, integers=(0, 16384))).value
        height = self.declare_parameter('height', 0, descriptor(
            'Frame height in pixels; 0: native (or keep aspect if width is set)',
            read_only=True, integers=(0, 16384))).value
        encoding = self.declare_parameter('encoding', 'rgb8', descriptor(
            'Pixel encoding of sensor_msgs/Image', ', '.join(ENCODINGS), read_only=True)).value
        transport = self.declare_parameter('transport', 'raw', descriptor(
            'raw: Image on image; compressed: JPEG CompressedImage on image/compressed; both',
            'raw, compressed or both', read_only=True)).value
        frame_id = self.declare_parameter('frame_id', 'camera', descriptor(
            'header.frame_id of every frame', read_only=True)).value
        loop = self.declare_parameter('loop', True, descriptor(
            'Start again after the last frame; false: exit after it', read_only=True)).value
        max_frames = self.declare_parameter('max_frames', 0, descriptor(
            'Exit after publishing this many frames; 0: unlimited', read_only=True,
            integers=(0, 2**31 - 1))).value
        self._min_subscribers = self.declare_parameter('wait_for_subscribers', 0, descriptor(
            'Hold the first frame until this many subscribers are matched', read_only=True,
            integers=(0, 1000))).value
        if encoding not in ENCODINGS:
            raise ImageError(f'parameter encoding: {encoding!r} is not one of {ENCODINGS}')
        if transport not in TRANSPORTS:
            raise ClassifierError(
                f'parameter transport: {transport!r} is not one of {TRANSPORTS}')

        frames = load_frames(source, width, height, max_count=max_frames)
        self._publishers_and_messages = []
        if transport in ('raw', 'both'):
            self._publishers_and_messages.append((
                self.create_publisher(Image, 'image', qos_profile_sensor_data),
                [self._image_message(rgb, encoding, frame_id) for rgb in frames]))
        if transport in ('compressed', 'both'):
            self._publishers_and_messages.append((
                self.create_publisher(CompressedImage, 'image/compressed',
                                      qos_profile_sensor_data),
                [self._compressed_message(rgb, encoding, frame_id) for rgb in frames]))
        self._frame_count = len(frames)
        self._frame_limit = max_frames or (0 if loop else self._frame_count)
        self._published = 0
        self._subscribers_ready = self._min_subscribers == 0
        self._sent = RateMeter(RATE_WINDOW_S)
        self._source = source or 'built-in photos'
        self.finished = Future()
        self._timer = self.create_timer(1.0 / rate_hz, self._on_timer)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.diagnostics = DiagnosticsPublisher(self, 'image source', self._report_status)
        rows, cols = frames[0].shape[:2]
        self.get_logger().info(
            f'publishing {self._frame_count} frames (first {cols}x{rows} {encoding}) from '
            f'{source or "built-in photos"} at {rate_hz} Hz, transport {transport}')

    @staticmethod
    def _image_message(rgb, encoding, frame_id):
        msg = Image()
        msg.header.frame_id = frame_id
        msg.height, msg.width = rgb.shape[:2]
        msg.encoding = encoding
        msg.step, msg.data = rgb_to_image(rgb, encoding)
        return msg

    @staticmethod
    def _compressed_message(rgb, encoding, frame_id):
        msg = CompressedImage()
        msg.header.frame_id = frame_id
        msg.format = f'{encoding}; jpeg compressed bgr8'
        msg.data = rgb_to_compressed(rgb, 'jpeg')
        return msg

    def _on_set_parameters(self, parameters):
        """Apply a new rate_hz (its descriptor's range was checked before this is called)."""
        for parameter in parameters:
            if parameter.name == 'rate_hz':
                self._timer.timer_period_ns = int(1e9 / parameter.value)
        return SetParametersResult(successful=True)

    def _enough_subscribers(self):
        matched = sum(publisher.get_subscription_count()
                      for publisher, _ in self._publishers_and_messages)
        if matched < self._min_subscribers:
            self.get_logger().info(
                f'waiting for {self._min_subscribers} subscriber(s), {matched} matched',
                throttle_duration_sec=5.0)
            return False
        return True

    def _on_timer(self):
        if self._frame_limit and self._published == self._frame_limit:
            # Finish one period after the last frame, so the middleware has sent it.
            self._timer.cancel()
            self.finished.set_result(self._published)
            return
        if not self._subscribers_ready:
            # Start one period after the match, so subscribers have matched this publisher too.
            self._subscribers_ready = self._enough_subscribers()
            return
        index = self._published % self._frame_count
        stamp = self.get_clock().now().to_msg()
        for publisher, messages in self._publishers_and_messages:
            messages[index].header.stamp = stamp
            publisher.publish(messages[index])
        self._published += 1
        self._sent.add(time.monotonic())

    def _report_status(self):
        """Return (level, message, hardware id, values) for /diagnostics."""
        rate_hz = self.get_parameter('rate_hz').value
        sent_hz = self._sent.rate(time.monotonic())
        matched = sum(publisher.get_subscription_count()
                      for publisher, _ in self._publishers_and_messages)
        values = {'source': self._source, 'rate Hz': rate_hz, 'rate sent Hz': sent_hz,
                  'frames published': self._published, 'subscribers': matched}
        if not self._subscribers_ready:
            return (Level.OK, f'waiting for {self._min_subscribers} subscriber(s), '
                    f'{matched} matched', '', values)
        return Level.OK, f'{sent_hz:.1f} Hz sent of {rate_hz:g} Hz', '', values


def main(args=None):
    """Run the image source until Ctrl-C or its last frame; a bad parameter exits with 1."""
    return run_node(ImageSource, 'image_source', args,
                    spin=lambda node: rclpy.spin_until_future_complete(node, node.finished))


if __name__ == '__main__':
    sys.exit(main())
