"""Helpers for the switcher tests: profiles from fps and top-1 alone, a watched ROS graph."""

import contextlib

from rcl_interfaces.msg import ParameterType
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_processes import node_process, ros_params
from std_msgs.msg import String

from jetson_classifier.benchmark.profile_builder import build_profile, write_profile
from jetson_classifier.nodes.parameter_client import ParameterClient

SWITCHER = 'jetson_classifier.nodes.switcher_node'
LATCHED = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def profile_model(name, fps, top1):
    """Return a profile entry for a model measured at `fps` with `top1` (a fraction)."""
    ms = 1000.0 / fps
    return {'name': name, 'backend': 'onnxruntime', 'precision': 'fp32', 'device': 'cpu',
            'input_size': 224, 'macs': None, 'params': None, 'file_bytes': None, 'batch': 1,
            'latency_ms': {'p50': ms, 'p90': ms, 'p99': ms, 'mean': ms}, 'fps': fps,
            'throughput_fps': {}, 'top1': top1, 'top5': None, 'grouped_top1': None,
            'peak_rss_mb': None}


def write_test_profile(path, models, machine=None, benchmark=None):
    """Write a profile of `models` ({name: (fps, top1)}) made on `machine` to `path`."""
    entries = [profile_model(name, fps, top1) for name, (fps, top1) in models.items()]
    profile = build_profile(entries, 'test', 0, machine=machine or {})
    if benchmark:
        profile['benchmark'] = benchmark  # the settings the models were timed with
    write_profile(profile, path)
    return path


class SwitcherGraph:
    """Start the switcher and a classifier; watch the switcher's topics, set parameters."""

    def __init__(self, ros, env, profile):
        self.ros, self.env, self.profile = ros, env, profile
        self._clients = {}
        self.active = ros.subscribe(String, '/switcher/active_model', LATCHED)
        self.decisions = ros.subscribe(String, '/switcher/decision', LATCHED)

    @contextlib.contextmanager
    def switcher(self, **params):
        """Run the switcher; yield once its topics matched this process's subscriptions."""
        with node_process(SWITCHER, ros_params(profile=str(self.profile), **params),
                          env=self.env, ready_text='switching /classifier') as switcher:
            assert self.ros.spin_until(lambda: all(
                s.get_publisher_count() == 1 for s in self.ros.node.subscriptions
                if s.topic_name in ('/switcher/active_model', '/switcher/decision')), 10.0)
            yield switcher

    def start(self, module, ready_text, **params):
        """Run another node `module` with `params` for a with-block."""
        return node_process(module, ros_params(**params), env=self.env, ready_text=ready_text)

    def set_params(self, node, timeout_s=10.0, **values):
        """Set parameters of `node`; return [(successful, reason)] per parameter."""
        parameters = [Parameter(k, value=v) for k, v in values.items()]
        client = self._client(node, timeout_s)
        response = self.ros.call(lambda: client.set_parameters(parameters), timeout_s)
        return [(r.successful, r.reason) for r in response.results]

    def model_of_classifier(self):
        """Ask the classifier for its model parameter."""
        client = self._client('classifier', 5.0)
        value = self.ros.call(lambda: client.get_parameters(['model'])).values[0]
        assert value.type == ParameterType.PARAMETER_STRING
        return value.string_value

    def _client(self, node, timeout_s):
        """Return a parameter client of `node` once its services are discovered."""
        if node not in self._clients:
            self._clients[node] = ParameterClient(self.ros.node, node)
        assert self.ros.spin_until(self._clients[node].services_are_ready, timeout_s)
        return self._clients[node]

    def wait_actives(self, models, timeout_s=15.0):
        """Spin until the switcher has reported exactly `models` active; return the time."""
        reached = self.ros.spin_until(lambda: self.active_models() == models, timeout_s)
        assert reached, f'active {self.active_models()}, decisions {self.decision_lines()}'
        return self.active[-1][0]

    def active_models(self):
        """Return the models the switcher reported active, in order."""
        return [m.data for _, m in self.active]

    def decision_lines(self):
        """Return the switcher's decisions, in order."""
        return [m.data for _, m in self.decisions]
