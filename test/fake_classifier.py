"""
A stand-in classifier node for switcher tests: the real node's protocol, no inference.

Node `classifier` with parameters `model`, `threads` and `spin_wait` (only read by the
switcher); publishes `~/inference_ms` and `~/fps` at rate_hz as if each model ran at its
profile fps times `speed` (a test lowers it to play a loaded CPU), and `~/active_model` on
every switch. Models in `refuse`, or not in the profile, are refused
in the SetParameters answer; models in `fail_to_build` are accepted and then not served,
as a build that fails.
"""

import sys

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from std_msgs.msg import Float32, String

from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.inference.backends import SPIN_WAIT
from jetson_classifier.nodes.node_main import run_node
from jetson_classifier.nodes.parameters import LATCHED


class FakeClassifier(Node):
    """Publish the timings a classifier running `model` at `speed` x its profile fps would."""

    def __init__(self):
        super().__init__('classifier')
        profile = self.declare_parameter(
            'profile', '', ParameterDescriptor(read_only=True)).value
        self._fps = {m['name']: m['fps'] for m in load_profile(profile)['models']}
        self._refuse = self.declare_parameter(
            'refuse', Parameter.Type.STRING_ARRAY, ParameterDescriptor(read_only=True)).value
        self._fail_to_build = self.declare_parameter(
            'fail_to_build', Parameter.Type.STRING_ARRAY,
            ParameterDescriptor(read_only=True)).value or []
        rate_hz = self.declare_parameter('rate_hz', 30.0).value
        self.declare_parameter('speed', 1.0)
        self.declare_parameter('model', 'lite2')
        self.declare_parameter('threads', 0)
        self.declare_parameter('spin_wait', SPIN_WAIT)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._inference_ms = self.create_publisher(Float32, '~/inference_ms',
                                                   qos_profile_sensor_data)
        self._end_to_end = self.create_publisher(Float32, '~/fps', qos_profile_sensor_data)
        self._active = self.create_publisher(String, '~/active_model', LATCHED)
        self._serving = self.get_parameter('model').value
        self._active.publish(String(data=self._serving))
        self._rate_hz = rate_hz
        self.create_timer(1.0 / rate_hz, self._on_frame)
        self.get_logger().info(f'fake classifier running {self.get_parameter("model").value}')

    def _on_set_parameters(self, parameters):
        for p in parameters:
            if p.name == 'model' and (p.value in (self._refuse or []) or p.value not in self._fps):
                return SetParametersResult(successful=False,
                                           reason=f'cannot load model {p.value!r}: test refusal')
        for p in parameters:
            if p.name == 'model' and p.value in self._fail_to_build:
                self.get_logger().info(f'failed to build {p.value}')
                self._active.publish(String(data=self._serving))
            elif p.name == 'model':
                self.get_logger().info(f'switched to {p.value}')
                self._serving = p.value
                self._active.publish(String(data=p.value))
        return SetParametersResult(successful=True)

    def _on_frame(self):
        network_fps = self._fps[self._serving] * \
            self.get_parameter('speed').value
        self._inference_ms.publish(Float32(data=1000.0 / network_fps))
        self._end_to_end.publish(Float32(data=min(network_fps, self._rate_hz)))


def main(args=None):
    """Run until Ctrl-C, as the package's nodes do."""
    return run_node(FakeClassifier, 'classifier', args)


if __name__ == '__main__':
    sys.exit(main())
