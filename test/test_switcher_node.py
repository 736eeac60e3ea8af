"""
The switcher node as a real process against a stand-in classifier process, over DDS.

The stand-in (test/fake_classifier.py) speaks the classifier's protocol: parameter `model`,
`~/inference_ms` and `~/fps`, refusals. A test plays CPU load by setting its `speed`.
"""

import contextlib
from pathlib import Path

import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import DurabilityPolicy, QoSProfile
from ros_processes import domain_id, listener, node_process, ros_env, ros_params
from std_msgs.msg import String

from jetson_classifier.benchmark_profile import build_profile, write_profile
from jetson_classifier.switcher_node import NetworkFps

SWITCHER = 'jetson_classifier.switcher_node'
FAKE = 'fake_classifier'
TEST_DIR = Path(__file__).resolve().parent
LATCHED = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# fps, top1: lite0 is dominated (slower and less accurate than lite1_int8): not on the front.
MODELS = {'lite0_int8': (400.0, 0.744), 'lite1_int8': (200.0, 0.759), 'lite0': (150.0, 0.751),
          'lite2_int8': (100.0, 0.770), 'lite2': (50.0, 0.776)}
FAST = {'window_s': 0.5, 'cooldown_s': 1.0, 'hysteresis': 0.25}


def profile_model(name, fps, top1):
    """Return a schema-valid profile entry for a model with this fps and top-1."""
    ms = 1000.0 / fps
    return {'name': name, 'backend': 'onnxruntime', 'precision': 'fp32', 'device': 'cpu',
            'input_size': 224, 'macs': None, 'params': None, 'file_bytes': None, 'batch': 1,
            'latency_ms': {'p50': ms, 'p90': ms, 'p99': ms, 'mean': ms}, 'fps': fps,
            'throughput_fps': {}, 'top1': top1, 'top5': None, 'grouped_top1': None,
            'peak_rss_mb': None}


@pytest.fixture(scope='module')
def profile_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('profile') / 'profile.json'
    models = [profile_model(name, *values) for name, values in MODELS.items()]
    write_profile(build_profile(models, 'photos', 10, machine={}), path)
    return path


@pytest.fixture(scope='module')
def env():
    env = ros_env(domain_id())
    env['PYTHONPATH'] += f':{TEST_DIR}'
    return env


@pytest.fixture(scope='module')
def ros(env):
    with listener(domain_id(), env) as node:
        yield node


class Graph:
    """Start the switcher and the stand-in classifier; watch and set their parameters."""

    def __init__(self, ros, env, profile):
        self.ros, self.env, self.profile = ros, env, profile
        self._clients = {}
        self.active = ros.subscribe(String, '/switcher/active_model', LATCHED)
        self.decisions = ros.subscribe(String, '/switcher/decision', LATCHED)

    @contextlib.contextmanager
    def switcher(self, **params):
        """Run the switcher; yield once this process hears its topics, so it misses nothing."""
        with node_process(SWITCHER, ros_params(profile=str(self.profile), **params),
                          env=self.env, ready_text='switching /classifier') as switcher:
            assert self.ros.spin_until(lambda: all(
                self.ros.node.count_publishers(topic) == 1
                for topic in ('/switcher/active_model', '/switcher/decision')), 10.0)
            yield switcher

    def classifier(self, model, **params):
        return node_process(FAKE, ros_params(profile=str(self.profile), model=model, **params),
                            env=self.env, ready_text='fake classifier running')

    def set_params(self, node, timeout_s=10.0, **values):
        """Set parameters of `node`; return [(successful, reason)] per parameter."""
        parameters = [Parameter(k, value=v) for k, v in values.items()]
        future = self._client(node, timeout_s).set_parameters(parameters)
        assert self.ros.spin_until(future.done, timeout_s)
        return [(r.successful, r.reason) for r in future.result().results]

    def model_of_classifier(self):
        future = self._client('classifier', 5.0).get_parameters(['model'])
        assert self.ros.spin_until(future.done, 5.0)
        value = future.result().values[0]
        assert value.type == ParameterType.PARAMETER_STRING
        return value.string_value

    def _client(self, node, timeout_s):
        """Return a parameter client of `node` once its services are discovered."""
        if node not in self._clients:
            self._clients[node] = AsyncParameterClient(self.ros.node, node)
        assert self.ros.spin_until(self._clients[node].services_are_ready, timeout_s)
        return self._clients[node]

    def wait_actives(self, models, timeout_s=15.0):
        """Spin until the switcher has reported exactly `models` active, in order."""
        reached = self.ros.spin_until(lambda: self.active_models() == models, timeout_s)
        assert reached, f'active {self.active_models()}, decisions {self.decision_lines()}'

    def active_models(self):
        return [m.data for _, m in self.active]

    def decision_lines(self):
        return [m.data for _, m in self.decisions]


@pytest.fixture
def graph(ros, env, profile_path):
    yield Graph(ros, env, profile_path)
    ros.unsubscribe_all()


# --- the fps window, without ROS --------------------------------------------------------------

def test_network_fps_is_1000_over_the_median_inference_ms_in_the_window():
    meter = NetworkFps(window_s=1.0)
    for t, ms in ((0.0, 40.0), (0.5, 10.0), (0.9, 12.5), (1.1, 400.0), (1.2, 20.0)):
        meter.add(t, ms)
    # At 1.2 the window is [0.2, 1.2]: median of 10, 12.5, 400, 20 is 16.25 ms.
    assert meter.fps(1.2) == pytest.approx(1000.0 / 16.25)
    assert meter.fps(1.6) == pytest.approx(1000.0 / 20.0)


def test_network_fps_is_none_once_the_newest_sample_is_older_than_the_window():
    meter = NetworkFps(window_s=1.0)
    meter.add(0.0, 10.0)
    assert meter.fps(1.0) == pytest.approx(100.0)
    assert meter.fps(1.01) is None


def test_network_fps_ignores_bad_samples_and_forgets_on_clear():
    meter = NetworkFps(window_s=2.0)
    for ms in (0.0, -5.0, float('nan'), float('inf')):
        meter.add(0.0, ms)
    assert meter.fps(0.0) is None
    meter.add(0.0, 8.0)
    meter.clear()
    assert meter.fps(0.0) is None


def test_network_fps_window_has_a_floor_so_zero_window_still_measures():
    meter = NetworkFps(window_s=0.0)
    meter.add(0.0, 20.0)
    assert meter.window_s == 0.5
    assert meter.fps(0.4) == pytest.approx(50.0)


# --- the node against the stand-in classifier ---------------------------------------------------

def test_plan_is_applied_when_the_classifier_comes_up_after_the_switcher(graph):
    with graph.switcher(min_fps=150.0, **FAST) as switcher:
        switcher.wait_for_output('waiting for /classifier')
        with graph.classifier('lite2') as classifier:
            graph.wait_actives(['lite2', 'lite1_int8'])
            assert graph.model_of_classifier() == 'lite1_int8'
            assert 'switched to lite1_int8' in classifier.output()
    assert graph.decision_lines() == [
        'plan lite1_int8: most accurate rung expected to meet min_fps 150 (200.0 fps, '
        'top-1 0.759)']


def test_steps_down_under_load_and_back_up_when_it_lifts_without_oscillating(graph):
    with graph.switcher(min_fps=150.0, **FAST), graph.classifier('lite1_int8'):
        graph.wait_actives(['lite1_int8'])
        graph.ros.spin_for(2.0)
        assert len(graph.decision_lines()) == 1

        assert graph.set_params('classifier', speed=0.5) == [(True, '')]
        graph.wait_actives(['lite1_int8', 'lite0_int8'])
        # Loaded: lite0_int8 runs 200 fps, lite1_int8 predicted 100 < 187.5: stay.
        graph.ros.spin_for(3.0)
        assert len(graph.decision_lines()) == 2

        assert graph.set_params('classifier', speed=1.0) == [(True, '')]
        graph.wait_actives(['lite1_int8', 'lite0_int8', 'lite1_int8'])
        # Unloaded: lite2_int8 predicted 100 < 187.5: stay.
        graph.ros.spin_for(3.0)
    lines = graph.decision_lines()
    assert graph.active_models() == ['lite1_int8', 'lite0_int8', 'lite1_int8']
    assert len(lines) == 3, lines
    assert lines[1].startswith('step down lite1_int8 -> lite0_int8: 100.0 fps < min_fps 150 '
                               'for '), lines
    assert lines[1].endswith(' s [end-to-end 30.0 fps]'), lines
    assert lines[2].startswith('step up lite0_int8 -> lite1_int8: lite1_int8 predicted 200.0 fps '
                               '(1.00 x 200.0 expected) >= 187.5 (min_fps 150 + 25%) for '), lines


def test_refused_rung_is_reported_and_the_next_one_planned(graph):
    with graph.switcher(min_fps=150.0, **FAST) as switcher, \
            graph.classifier('lite2', refuse=['lite1_int8']):
        graph.wait_actives(['lite2', 'lite0_int8'])
        graph.ros.spin_for(2.0)
    assert "refused model lite1_int8: cannot load model 'lite1_int8': test refusal" in \
        switcher.output()
    lines = graph.decision_lines()
    assert len(lines) == 2, lines
    assert lines[1].startswith(
        'plan lite0_int8: most accurate rung expected to meet min_fps 150 (400.0 fps, top-1 '
        "0.744); lite1_int8 refused (cannot load model 'lite1_int8': test refusal)"), lines


def test_restarted_classifier_is_given_the_planned_model_again(graph):
    with graph.switcher(min_fps=150.0, **FAST) as switcher:
        with graph.classifier('lite2'):
            graph.wait_actives(['lite2', 'lite1_int8'])
        switcher.wait_for_output('/classifier went away')
        with graph.classifier('lite2') as classifier:
            graph.wait_actives(['lite2', 'lite1_int8', 'lite2', 'lite1_int8'])
            assert 'switched to lite1_int8' in classifier.output()
        assert len(graph.decision_lines()) == 1, graph.decision_lines()


def test_changing_the_target_at_runtime_plans_again_and_bad_values_are_refused(graph):
    with graph.switcher(min_fps=150.0, **FAST), graph.classifier('lite2'):
        graph.wait_actives(['lite2', 'lite1_int8'])
        assert graph.set_params('switcher', min_fps=300.0) == [(True, '')]
        graph.wait_actives(['lite2', 'lite1_int8', 'lite0_int8'])
        assert graph.set_params('switcher', hysteresis=0.5, min_accuracy=0.77) == [
            (True, ''), (True, '')]
        assert graph.set_params('switcher', policy='min_accuracy') == [(True, '')]
        graph.wait_actives(['lite2', 'lite1_int8', 'lite0_int8', 'lite2_int8'])
        assert graph.set_params('switcher', min_accuracy=0.0) == [
            (False, 'min_accuracy must be a top-1 fraction in (0, 1], got 0.0')]
        assert graph.set_params('switcher', policy='max_fps') == [
            (False, "policy must be one of ('min_fps', 'min_accuracy', 'manual'), got 'max_fps'")]
        assert graph.set_params('switcher', policy='manual') == [(True, '')]
        assert graph.set_params('classifier', model='lite2') == [(True, '')]
        graph.wait_actives(['lite2', 'lite1_int8', 'lite0_int8', 'lite2_int8', 'lite2'])
        graph.ros.spin_for(2.0)
        assert graph.model_of_classifier() == 'lite2'
    assert [line.split(':')[0] for line in graph.decision_lines()] == [
        'plan lite1_int8', 'plan lite0_int8', 'plan lite2_int8']


def test_ladder_names_missing_from_the_profile_are_skipped_with_a_warning(graph):
    with graph.switcher(ladder=['lite2', 'mobilenet_v3', 'lite0']) as switcher:
        pass
    output = switcher.output()
    assert "ladder rung 'mobilenet_v3' is not in the profile: skipped" in output
    assert "switching /classifier model along ['lite0', 'lite2']" in output


def test_missing_profile_stops_the_node_with_an_error_naming_the_file(env, tmp_path):
    missing = tmp_path / 'none.json'
    with node_process(SWITCHER, ros_params(profile=str(missing)), env=env,
                      expect_clean_exit=False) as switcher:
        assert switcher.wait(20.0) == 1
    assert f'cannot read profile {missing}: No such file or directory' in switcher.output()
    assert 'Traceback' not in switcher.output()
