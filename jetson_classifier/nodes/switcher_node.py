"""
ROS 2 node that keeps the classifier on the best model for an fps or accuracy target.

It plans from the benchmark profile, then follows the classifier's measured network fps
(1000 / `<classifier>/inference_ms`) with jetson_classifier.switching.policy, and switches by
setting the classifier's `model` parameter.
"""

import sys
import time
from typing import NamedTuple, Optional

from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile
from rclpy.task import Future
from std_msgs.msg import Float32, String

from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.catalog import share_dir
from jetson_classifier.nodes.node_main import run_node
from jetson_classifier.nodes.parameter_client import ParameterClient, RESEND_AFTER_S
from jetson_classifier.pipeline.rate_meter import NetworkFps
from jetson_classifier.switching.policy import POLICIES, rungs_from_profile, SwitchingPolicy

PROFILE_IN_SHARE = 'docs/benchmark/profile.json'
TICK_S = 0.25
# Requests left unanswered this long were lost (a dropped response, a classifier that
# restarted): ask again. A set may wait on a model load, which can take long (a TensorRT
# engine build).
GET_TIMEOUT_S = RESEND_AFTER_S
SET_TIMEOUT_S = 120.0
TUNING_PARAMETERS = ('hysteresis', 'window_s', 'cooldown_s', 'retry_s')
POLICY_PARAMETERS = ('policy', 'min_fps', 'min_accuracy', *TUNING_PARAMETERS)
# Late subscribers (an operator's `ros2 topic echo`) get the model and the recent decisions.
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
DECISION_HISTORY = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Request(NamedTuple):
    """A parameter service call in flight: when it was sent, its future, the model it sets."""

    sent: float
    future: Future
    model: Optional[str]


def _descriptor(description, read_only=False, low=None, high=None, constraints=''):
    ranges = {}
    if low is not None:
        ranges['floating_point_range'] = [FloatingPointRange(from_value=low, to_value=high)]
    return ParameterDescriptor(description=description, read_only=read_only,
                               additional_constraints=constraints, **ranges)


def default_profile_path():
    """Return the profile shipped with the package; ClassifierError when there is none."""
    path = share_dir() / PROFILE_IN_SHARE
    if not path.is_file():
        raise ClassifierError(f'parameter profile: not set, and no shipped profile at {path}; '
                              'run the benchmark and pass -p profile:=<its JSON>')
    return path


class SwitcherNode(Node):
    """Switch the classifier's `model` along the ladder to hold min_fps or min_accuracy."""

    def __init__(self):
        super().__init__('switcher')
        classifier = self.declare_parameter('classifier_node', '/classifier', _descriptor(
            'Classifier node whose model parameter is switched', read_only=True)).value
        self.declare_parameter('policy', 'min_fps', _descriptor(
            'min_fps: most accurate model that holds min_fps; min_accuracy: fastest model that '
            'reaches min_accuracy; manual: only report', constraints=' | '.join(POLICIES)))
        self.declare_parameter('min_fps', 30.0, _descriptor(
            'Network fps (1000 / inference ms) to hold', low=0.0, high=100000.0))
        self.declare_parameter('min_accuracy', 0.75, _descriptor(
            'Top-1 accuracy to reach, a fraction (the profile top1 scale)', low=0.0, high=1.0))
        profile = self.declare_parameter('profile', '', _descriptor(
            f'Benchmark profile JSON; empty: the shipped {PROFILE_IN_SHARE}',
            read_only=True)).value
        ladder = self.declare_parameter('ladder', Parameter.Type.STRING_ARRAY, _descriptor(
            'Model names to switch between; unset: the Pareto front of the profile',
            read_only=True)).value
        self.declare_parameter('hysteresis', 0.15, _descriptor(
            'Step up only when the better model is predicted this fraction above min_fps',
            low=0.0, high=10.0))
        self.declare_parameter('window_s', 3.0, _descriptor(
            'Seconds a condition must hold before a switch; also the fps smoothing window',
            low=0.0, high=3600.0))
        self.declare_parameter('cooldown_s', 6.0, _descriptor(
            'Least seconds between two switches', low=0.0, high=3600.0))
        self.declare_parameter('retry_s', 60.0, _descriptor(
            'Seconds before a model left for being too slow is tried again, twice as long '
            'after each try that finds it still too slow; 0: only when predicted to hold',
            low=0.0, high=86400.0))

        profile_path = profile or default_profile_path()
        self._rungs, warnings = rungs_from_profile(load_profile(profile_path), ladder)
        for warning in warnings:
            self.get_logger().warning(warning)
        self._refusals = {}
        self._policy = self._make_policy(self._policy_values())

        self._classifier = classifier.rstrip('/')
        self._classifier_client = ParameterClient(self, self._classifier)
        self._network = NetworkFps(self._policy.window_s)
        self._end_to_end_fps = None
        self._active = self._target = None
        self._apply = self._classifier_up = False
        self._getting = self._setting = None
        self.create_subscription(Float32, f'{self._classifier}/inference_ms',
                                 self._on_inference_ms, qos_profile_sensor_data)
        self.create_subscription(Float32, f'{self._classifier}/fps', self._on_fps,
                                 qos_profile_sensor_data)
        self._active_publisher = self.create_publisher(String, '~/active_model', LATCHED)
        self._decision_publisher = self.create_publisher(String, '~/decision', DECISION_HISTORY)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._decide(self._policy.initial())
        self.create_timer(TICK_S, self._on_tick)
        self.get_logger().info(
            f'switching {self._classifier} model along {[r.name for r in self._rungs]} '
            f'(profile {profile_path}), policy {self._describe_policy()}')

    def _policy_values(self, changes=()):
        """Return the policy parameters' values, with `changes` (Parameters) applied."""
        values = {name: self.get_parameter(name).value for name in POLICY_PARAMETERS}
        values.update((p.name, p.value) for p in changes if p.name in values)
        return values

    def _make_policy(self, values, speed_factor=None):
        """Build a policy that keeps the session's refused rungs banned; ValueError if invalid."""
        policy = SwitchingPolicy(self._rungs, **values, speed_factor=speed_factor)
        for model, reason in self._refusals.items():
            policy.refused(None, model, reason)
        return policy

    def _describe_policy(self):
        return str(self._policy.constraint or 'manual')

    def _on_set_parameters(self, parameters):
        """
        Refuse values the policy refuses; else apply them (before rclpy stores them).

        A new target plans again; tuning changes keep the rung and the windows.
        """
        values, changed = self._policy_values(parameters), {p.name for p in parameters}
        try:
            policy = self._make_policy(values, self._policy.speed_factor)
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        # The limit that matters is the parameter named like the policy (min_fps, min_accuracy).
        if 'policy' in changed or values['policy'] in changed:
            self._policy = policy
            self.get_logger().info(f'policy now {self._describe_policy()}: planning again')
            self._decide(self._policy.initial())
        for name in changed.intersection(TUNING_PARAMETERS):
            setattr(self._policy, name, values[name])
        self._network.window_s = self._policy.window_s
        return SetParametersResult(successful=True)

    def _on_inference_ms(self, msg):
        self._network.add(time.monotonic(), msg.data)

    def _on_fps(self, msg):
        self._end_to_end_fps = msg.data

    def _on_tick(self):
        now = time.monotonic()
        if not self._classifier_client.services_are_ready():
            self._on_classifier_missing()
            return
        if not self._classifier_up:
            self._classifier_up = True
            self._apply = self._target is not None
            self.get_logger().info(f'{self._classifier} is up')
        self._expire_requests(now)
        if self._getting is None and self._setting is None:
            self._getting = Request(now, self._classifier_client.get_parameters(['model']), None)
            self._getting.future.add_done_callback(self._on_model_got)
        # Observe only a settled classifier: not while a switch is in flight or about to be sent.
        if self._active is not None and self._setting is None and not self._apply:
            self._decide(self._policy.observe(now, self._network.fps(now), self._active))
        self._send_target(now)

    def _on_classifier_missing(self):
        """Forget what the classifier ran and its requests; re-apply the target when it is back."""
        if self._classifier_up:
            self.get_logger().warning(f'{self._classifier} went away: waiting for it')
        self._classifier_up = False
        self._active = self._getting = self._setting = None
        self.get_logger().info(f'waiting for {self._classifier} parameter services',
                               throttle_duration_sec=10.0)

    def _expire_requests(self, now):
        """Give up requests unanswered too long (rclpy forgets them); ask again on this tick."""
        if self._getting is not None and now - self._getting.sent > GET_TIMEOUT_S:
            late, self._getting = self._getting, None
            late.future.cancel()
        if self._setting is not None and now - self._setting.sent > SET_TIMEOUT_S:
            self.get_logger().warning(f'{self._classifier} did not answer a model switch in '
                                      f'{SET_TIMEOUT_S:g} s: asking again')
            late, self._setting, self._apply = self._setting, None, True
            late.future.cancel()

    def _decide(self, decision):
        """Act on a policy Decision (None: nothing to do): report it and aim at its target."""
        if decision is None:
            return
        self._report(decision.reason)
        self._target, self._apply = decision.target, True

    def _report(self, reason):
        if self._end_to_end_fps is not None:
            reason += f' [end-to-end {self._end_to_end_fps:.1f} fps]'
        self.get_logger().info(reason)
        self._decision_publisher.publish(String(data=reason))

    def _send_target(self, now):
        if not self._apply or self._setting is not None or self._active is None:
            return
        self._apply = False
        if self._active == self._target:
            return
        future = self._classifier_client.set_parameters([Parameter('model', value=self._target)])
        self._setting = Request(now, future, self._target)
        future.add_done_callback(self._on_model_set)
        # A model read before this switch may answer after it: ignore its stale answer.
        self._getting = None

    def _on_model_got(self, future):
        if self._getting is None or future is not self._getting.future:
            return
        self._getting = None
        response = future.result()
        if response is not None and response.values and response.values[0].string_value:
            self._set_active(response.values[0].string_value)

    def _on_model_set(self, future):
        if self._setting is None or future is not self._setting.future:
            return
        model, self._setting = self._setting.model, None
        response = future.result()
        if response is None or not response.results:
            self._apply = True
            return
        result = response.results[0]
        if result.successful:
            self._set_active(model)
            return
        reason = result.reason or 'no reason given'
        self.get_logger().warning(f'{self._classifier} refused model {model}: {reason}')
        self._refusals[model] = reason
        decision = self._policy.refused(time.monotonic(), model, reason)
        if decision is None:
            self._report(f'{model} refused ({reason}); no other rung to try: '
                         f'{self._classifier} keeps {self._active}')
            self._target = self._active
        self._decide(decision)

    def _set_active(self, model):
        if model == self._active:
            return
        self._active = model
        self._network.clear()
        self._active_publisher.publish(String(data=model))
        self.get_logger().info(f'{self._classifier} runs {model}')


def main(args=None):
    """Run the switcher until Ctrl-C; a bad profile or parameter exits with code 1."""
    return run_node(SwitcherNode, 'switcher', args, errors=(ClassifierError, ValueError))


if __name__ == '__main__':
    sys.exit(main())
