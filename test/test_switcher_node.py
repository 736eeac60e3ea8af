"""
The switcher node as a real process against a stand-in classifier process, over DDS.

The stand-in (test/fake_classifier.py) speaks the classifier's protocol: parameter `model`,
`~/inference_ms` and `~/fps`, refusals. A test plays CPU load by setting its `speed`.
"""

import os
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
import pytest
from ros_processes import domain_id, listener, node_process, ros_env, ros_params
from switcher_testing import SWITCHER, SwitcherGraph, write_test_profile

from jetson_classifier.benchmark.profile_builder import machine_info

FAKE = 'fake_classifier'
TEST_DIR = Path(__file__).resolve().parent
# fps, top1: lite0 is dominated (slower and less accurate than lite1_int8): not on the front.
MODELS = {'lite0_int8': (400.0, 0.744), 'lite1_int8': (200.0, 0.759), 'lite0': (150.0, 0.751),
          'lite2_int8': (100.0, 0.770), 'lite2': (50.0, 0.776)}
FAST = {'window_s': 0.5, 'cooldown_s': 1.0, 'hysteresis': 0.25}


@pytest.fixture(scope='module')
def profile_path(tmp_path_factory):
    return write_test_profile(tmp_path_factory.mktemp('profile') / 'profile.json', MODELS)


@pytest.fixture(scope='module')
def env():
    env = ros_env(domain_id())
    env['PYTHONPATH'] += f':{TEST_DIR}'
    return env


@pytest.fixture(scope='module')
def ros(env):
    with listener(domain_id(), env) as node:
        yield node


def fake_classifier(graph, model, **params):
    """Run the stand-in classifier on `model` with the graph's profile."""
    return graph.start(FAKE, 'fake classifier running', profile=str(graph.profile), model=model,
                       **params)


@pytest.fixture
def graph(ros, env, profile_path):
    yield SwitcherGraph(ros, env, profile_path)
    ros.unsubscribe_all()


def test_plan_is_applied_when_the_classifier_comes_up_after_the_switcher(graph):
    with graph.switcher(min_fps=150.0, **FAST) as switcher:
        switcher.wait_for_output('waiting for /classifier')
        with fake_classifier(graph, 'lite2') as classifier:
            graph.wait_actives(['lite2', 'lite1_int8'])
            assert graph.model_of_classifier() == 'lite1_int8'
            assert 'switched to lite1_int8' in classifier.output()
    assert graph.decision_lines() == [
        'plan lite1_int8: most accurate rung expected to meet min_fps 150 (200.0 fps, '
        'top-1 0.759) [back-to-back]']


def test_steps_down_under_load_and_back_up_when_it_lifts_without_oscillating(graph):
    with graph.switcher(min_fps=150.0, **FAST), fake_classifier(graph, 'lite1_int8'):
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
    assert ' s; lite0_int8 predicted 200.0 fps (0.50 x 400.0 expected ' in lines[1], lines
    assert lines[1].endswith(') [end-to-end 30.0 fps]'), lines
    assert lines[2].startswith('step up lite0_int8 -> lite1_int8: lite1_int8 predicted 200.0 fps '
                               '(2.00 x 100.0 measured when left) >= 187.5 '
                               '(min_fps 150 + 25%) for '), lines


@pytest.mark.parametrize('how, why', [
    ('refuse', "cannot load model 'lite1_int8': test refusal"),  # in the SetParameters answer
    ('fail_to_build', 'it failed to build; /classifier keeps lite2')])  # accepted, then failed
def test_a_refused_rung_is_reported_and_the_next_one_planned(graph, how, why):
    with graph.switcher(min_fps=150.0, **FAST) as switcher, \
            fake_classifier(graph, 'lite2', **{how: ['lite1_int8']}):
        graph.wait_actives(['lite2', 'lite0_int8'])
        graph.ros.spin_for(2.0)
    assert f'refused model lite1_int8: {why}' in switcher.output()
    lines = graph.decision_lines()
    assert len(lines) == 2, lines
    assert lines[1].startswith(
        'plan lite0_int8: most accurate rung expected to meet min_fps 150 (400.0 fps, top-1 '
        f'0.744) [back-to-back]; lite1_int8 refused ({why.split(";")[0]}'), lines


def test_diagnostics_report_the_target_the_active_model_and_the_last_decision(graph):
    arrays = graph.ros.subscribe(DiagnosticArray, '/diagnostics', 20)

    def status():
        return next((s for _, array in reversed(arrays) for s in array.status
                     if s.name == '/switcher: switching'), None)
    with graph.switcher(min_fps=150.0, **FAST), fake_classifier(graph, 'lite2'):
        graph.wait_actives(['lite2', 'lite1_int8'])
        assert graph.ros.spin_until(
            lambda: status() is not None and 'lite1_int8 for' in status().message, 10.0)
    values = {kv.key: kv.value for kv in status().values}
    assert (values['policy'], values['active model'], values['target model']) == (
        'min_fps=150', 'lite1_int8', 'lite1_int8')
    assert values['last decision'].startswith('plan lite1_int8')
    assert status().level == b'\x00'


def test_restarted_classifier_is_given_the_planned_model_again(graph):
    with graph.switcher(min_fps=150.0, **FAST) as switcher:
        with fake_classifier(graph, 'lite2'):
            graph.wait_actives(['lite2', 'lite1_int8'])
        switcher.wait_for_output('/classifier went away')
        with fake_classifier(graph, 'lite2') as classifier:
            graph.wait_actives(['lite2', 'lite1_int8', 'lite2', 'lite1_int8'])
            assert 'switched to lite1_int8' in classifier.output()
        assert len(graph.decision_lines()) == 1, graph.decision_lines()


def test_changing_the_target_at_runtime_plans_again_and_bad_values_are_refused(graph):
    with graph.switcher(min_fps=150.0, **FAST), fake_classifier(graph, 'lite2'):
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


def switcher_status(arrays):
    """Return key -> value of the switcher's latest diagnostics status ({} before any)."""
    return next(({kv.key: kv.value for kv in s.values} for _, array in reversed(arrays)
                 for s in array.status if s.name == '/switcher: switching'), {})


def test_a_profile_of_another_machine_is_named_in_a_warning_and_the_diagnostics(
        ros, env, tmp_path):
    machine = dict(machine_info(), cpu_count=os.cpu_count() + 62)
    graph = SwitcherGraph(ros, env, write_test_profile(tmp_path / 'p.json', MODELS, machine))
    arrays = ros.subscribe(DiagnosticArray, '/diagnostics', 20)
    difference = f'cpu_count {os.cpu_count() + 62} vs {os.cpu_count()}'
    with graph.switcher() as switcher:
        assert ros.spin_until(lambda: 'profile machine' in switcher_status(arrays), 10.0)
    assert switcher_status(arrays)['profile machine'] == f'another: {difference}'
    assert f'was made on another machine ({difference})' in switcher.output()


def test_a_profile_timed_with_other_cpu_threads_is_named_in_a_warning_and_the_diagnostics(
        ros, env, tmp_path):
    # threads 0 is one per core, as the benchmark's default; only spin_wait differs.
    timed_with = {'threads': os.cpu_count(), 'spin_wait': False}
    graph = SwitcherGraph(ros, env, write_test_profile(tmp_path / 'p.json', MODELS,
                                                       benchmark=timed_with))
    arrays = ros.subscribe(DiagnosticArray, '/diagnostics', 20)
    with graph.switcher() as switcher, fake_classifier(graph, 'lite2', spin_wait=True):
        assert ros.spin_until(lambda: switcher_status(arrays).get(
            'profile threads', '').startswith('another'), 10.0)
    assert switcher_status(arrays)['profile threads'] == 'another: spin_wait false vs true'
    assert ('was timed with other CPU threads than /classifier runs (spin_wait false vs true)'
            in switcher.output())


def test_missing_profile_stops_the_node_with_an_error_naming_the_file(env, tmp_path):
    missing = tmp_path / 'none.json'
    with node_process(SWITCHER, ros_params(profile=str(missing)), env=env,
                      expect_clean_exit=False) as switcher:
        assert switcher.wait(20.0) == 1
    assert f'cannot read profile {missing}: No such file or directory' in switcher.output()
    assert 'Traceback' not in switcher.output()
