"""
ROS 2 node that keeps the classifier on the best model for an fps or accuracy target.

It plans from the benchmark profile (the paced figures nearest the camera rate, taken from
the classifier's end-to-end fps), then follows the classifier's measured network fps
(1000 / `<classifier>/inference_ms`) with jetson_classifier.switching.policy. It switches by
setting the classifier's `model` parameter; the classifier answers at once and builds the
model while the old one serves, so a switch has landed only when `<classifier>/active_model`
names it (and failed when that names another).
"""

import sys
import time
from typing import NamedTuple, Optional

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from std_msgs.msg import Float32, String

from jetson_classifier.benchmark.profile_builder import (machine_differences, thread_differences,
                                                         THREAD_SETTINGS)
from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.catalog import share_dir
from jetson_classifier.nodes.diagnostics import DiagnosticsPublisher
from jetson_classifier.nodes.node_main import run_node
from jetson_classifier.nodes.parameter_client import ParameterClient
from jetson_classifier.nodes.parameters import DECISION_HISTORY, descriptor, LATCHED
from jetson_classifier.pipeline.health import Level
from jetson_classifier.pipeline.rate_meter import NetworkFps
from jetson_classifier.switching.ladder import rungs_from_profile
from jetson_classifier.switching.policy import POLICIES, SwitchingPolicy

PROFILE_IN_SHARE = 'docs/benchmark/profile.json'
TICK_S = 0.25
# A set left unanswered this long was lost (a dropped response, a classifier that
# restarted): ask again. The classifier answers at once and builds the model afterwards.
SET_TIMEOUT_S = 10.0
# A model accepted but not serving after this long is asked for again (a TensorRT engine
# build on a Jetson takes minutes).
LANDING_TIMEOUT_S = 1800.0
TUNING_PARAMETERS = ('hysteresis', 'window_s', 'cooldown_s', 'retry_s')
POLICY_PARAMETERS = ('policy', 'min_fps', 'min_accuracy', *TUNING_PARAMETERS)


class Request(NamedTuple):
    """
    A model switch in flight: when it was sent, its future (None once accepted), the model.

    `seen` counts the classifier's ~/active_model messages before it was sent: the first one
    after it says whether the model built (the two may arrive in either order).
    """

    sent: float
    future: Optional[Future]
    model: str
    seen: int


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
        classifier = self.declare_parameter('classifier_node', '/classifier', descriptor(
            'Classifier node whose model parameter is switched', read_only=True)).value
        self.declare_parameter('policy', 'min_fps', descriptor(
            'min_fps: most accurate model that holds min_fps; min_accuracy: fastest model that '
            'reaches min_accuracy; manual: only report', ' | '.join(POLICIES)))
        self.declare_parameter('min_fps', 30.0, descriptor(
            'Network fps (1000 / inference ms) to hold', floats=(0.0, 100000.0)))
        self.declare_parameter('min_accuracy', 0.75, descriptor(
            'Top-1 accuracy to reach, a fraction (the profile top1 scale)', floats=(0.0, 1.0)))
        profile = self.declare_parameter('profile', '', descriptor(
            f'Benchmark profile JSON; empty: the shipped {PROFILE_IN_SHARE}',
            read_only=True)).value
        ladder = self.declare_parameter('ladder', Parameter.Type.STRING_ARRAY, descriptor(
            'Model names to switch between; unset: the Pareto front of the profile',
            read_only=True)).value
        self.declare_parameter('hysteresis', 0.15, descriptor(
            'Step up only when the better model is predicted this fraction above min_fps',
            floats=(0.0, 10.0)))
        self.declare_parameter('window_s', 3.0, descriptor(
            'Seconds a condition must hold before a switch; also the fps smoothing window',
            floats=(0.0, 3600.0)))
        self.declare_parameter('cooldown_s', 6.0, descriptor(
            'Least seconds between two switches', floats=(0.0, 3600.0)))
        self.declare_parameter('retry_s', 60.0, descriptor(
            'Seconds before a model left for being too slow is tried again, twice as long '
            'after each try that finds it still too slow; 0: only when predicted to hold',
            floats=(0.0, 86400.0)))

        profile_path = profile or default_profile_path()
        loaded = load_profile(profile_path)
        self._rungs, warnings = rungs_from_profile(loaded, ladder)
        machine = loaded.get('machine') or {}
        differences = '; '.join(machine_differences(machine))
        self._profile_machine = (f'another: {differences}' if differences else
                                 'this one' if machine else 'not recorded')
        if differences:
            warnings.append(
                f'profile {profile_path} was made on another machine ({differences}): its '
                'speeds, scaled by the measured speed of one rung, may not hold for the others '
                'here; run the benchmark on this machine and pass -p profile:=<its JSON>')
        for warning in warnings:
            self.get_logger().warning(warning)
        self._profile_path, self._timed_with = profile_path, loaded.get('benchmark') or {}
        self._profile_threads, self._threads_read = 'not read from the classifier yet', 0
        self._refusals = {}
        self._policy = self._make_policy(self._policy_values())

        self._classifier = classifier.rstrip('/')
        self._classifier_client = ParameterClient(self, self._classifier)
        self._network = NetworkFps(self._policy.window_s)
        self._end_to_end_fps = None
        self._active = self._target = self._setting = self._last_decision = None
        self._models_seen = 0
        self._apply = self._classifier_up = False
        self.create_subscription(Float32, f'{self._classifier}/inference_ms',
                                 self._on_inference_ms, qos_profile_sensor_data)
        self.create_subscription(Float32, f'{self._classifier}/fps', self._on_fps,
                                 qos_profile_sensor_data)
        self.create_subscription(String, f'{self._classifier}/active_model',
                                 self._on_classifier_model, LATCHED)
        self._active_publisher = self.create_publisher(String, '~/active_model', LATCHED)
        self._decision_publisher = self.create_publisher(String, '~/decision', DECISION_HISTORY)
        self.diagnostics = DiagnosticsPublisher(self, 'switching', self._report_status)
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
        if msg.data > 0:  # the camera rate, while the classifier keeps up with it
            self._policy.camera_hz = msg.data

    def _on_tick(self):
        now = time.monotonic()
        if not self._classifier_client.services_are_ready():
            self._on_classifier_missing()
            return
        if not self._classifier_up:
            self._classifier_up = True
            self._apply = self._target is not None
            self.get_logger().info(f'{self._classifier} is up')
        self._expire_request(now)
        if self._threads_read != self._models_seen:  # a model announced: its threads may differ
            self._threads_read = self._models_seen
            self._classifier_client.get_parameters(THREAD_SETTINGS).add_done_callback(
                self._on_classifier_threads)
        # Observe only a settled classifier: not while a switch is in flight or about to be sent.
        if self._active is not None and self._setting is None and not self._apply:
            self._decide(self._policy.observe(now, self._network.fps(now), self._active))
        self._send_target(now)

    def _on_classifier_threads(self, future):
        """Compare the classifier's CPU thread settings with the profile's; warn if they differ."""
        response = future.result()
        values = [parameter_value_to_python(v) for v in (response.values if response else ())]
        if len(values) != len(THREAD_SETTINGS) or None in values:
            self._profile_threads = f'not compared: {self._classifier} does not declare them'
            return
        differences = '; '.join(thread_differences(self._timed_with, *values))
        unrecorded = ', '.join(p for p in THREAD_SETTINGS if p not in self._timed_with)
        compared = (f'another: {differences}' if differences else f"{self._classifier}'s") + (
            f' ({unrecorded} not recorded)' if unrecorded else '')
        if differences and compared != self._profile_threads:
            self.get_logger().warning(
                f'profile {self._profile_path} was timed with other CPU threads than '
                f'{self._classifier} runs ({differences}): its CPU speeds may not hold; run '
                'the benchmark with the same --threads and --spin-wait')
        self._profile_threads = compared

    def _on_classifier_missing(self):
        """Forget what the classifier ran and its requests; re-apply the target when it is back."""
        if self._classifier_up:
            self.get_logger().warning(f'{self._classifier} went away: waiting for it')
        self._classifier_up = False
        self._active = self._setting = None
        self.get_logger().info(f'waiting for {self._classifier} parameter services',
                               throttle_duration_sec=10.0)

    def _expire_request(self, now):
        """Give up a switch unanswered, or accepted and not landed, too long; ask again."""
        request = self._setting
        if request is None:
            return
        waiting = now - request.sent
        if request.future is not None and waiting > SET_TIMEOUT_S:
            request.future.cancel()  # rclpy forgets it, so a late answer is dropped
        elif request.future is not None or waiting <= LANDING_TIMEOUT_S:
            return
        self.get_logger().warning(f'{self._classifier} did not switch to {request.model} in '
                                  f'{waiting:.0f} s: asking again')
        self._setting, self._apply = None, True

    def _decide(self, decision):
        """Act on a policy Decision (None: nothing to do): report it and aim at its target."""
        if decision is None:
            return
        self._report(decision.reason)
        self._target, self._apply = decision.target, True

    def _report(self, reason):
        if self._end_to_end_fps is not None:
            reason += f' [end-to-end {self._end_to_end_fps:.1f} fps]'
        self._last_decision = reason
        self.get_logger().info(reason)
        self._decision_publisher.publish(String(data=reason))

    def _send_target(self, now):
        if not self._apply or self._setting is not None or self._active is None:
            return
        self._apply = False
        if self._active == self._target:
            return
        future = self._classifier_client.set_parameters([Parameter('model', value=self._target)])
        self._setting = Request(now, future, self._target, self._models_seen)
        future.add_done_callback(self._on_model_set)

    def _on_model_set(self, future):
        """Take the answer to a switch: accepted (the classifier builds it) or refused."""
        if self._setting is None or future is not self._setting.future:
            return
        model = self._setting.model
        response = future.result()
        if response is None or not response.results:
            self._setting, self._apply = None, True
            return
        result = response.results[0]
        if result.successful:
            self._setting = self._setting._replace(future=None)
            self._settle_switch()
            return
        self._setting = None
        self._refuse(model, result.reason or 'no reason given')

    def _on_classifier_model(self, msg):
        """Take the model the classifier names as serving: at start and after every build."""
        self._models_seen += 1
        self._set_active(msg.data)
        self._settle_switch()

    def _settle_switch(self):
        """End a switch that was accepted and answered on ~/active_model: landed, or failed."""
        request = self._setting
        if request is None or request.future is not None or self._models_seen == request.seen:
            return
        self._setting = None
        if self._active != request.model:
            self._refuse(request.model, f'it failed to build; {self._classifier} keeps '
                                        f'{self._active} (its log says why)')

    def _refuse(self, model, reason):
        """Ban a model the classifier would not serve and plan the next rung that way."""
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

    def _report_status(self):
        """Return (level, message, hardware id, values) for /diagnostics."""
        now = time.monotonic()
        fps = self._network.fps(now)
        target = self._policy.constraint
        values = {'policy': self._describe_policy(), 'classifier': self._classifier,
                  'active model': self._active or '', 'target model': self._target or '',
                  'switching to': self._setting.model if self._setting else '',
                  'network fps': fps or 0.0, 'camera Hz': self._policy.camera_hz or 0.0,
                  'refused models': ', '.join(sorted(self._refusals)),
                  'profile machine': self._profile_machine,
                  'profile threads': self._profile_threads,
                  'last decision': self._last_decision or ''}
        if not self._classifier_up:
            return Level.WARN, f'waiting for {self._classifier}', '', values
        message = f'{self._active} for {target or "manual"}'
        below = (target is not None and target.kind == 'min_fps' and fps is not None
                 and fps < target.value)
        if below:
            message += f', {fps:.1f} fps below it'
        return Level.WARN if below else Level.OK, message, '', values


def main(args=None):
    """Run the switcher until Ctrl-C; a bad profile or parameter exits with code 1."""
    return run_node(SwitcherNode, 'switcher', args, errors=(ClassifierError, ValueError))


if __name__ == '__main__':
    sys.exit(main())
