"""The demo as a user runs it: real processes over DDS, a real switch, a summary and a chart."""

import json
from pathlib import Path
import subprocess
import sys

import pytest
from ros_processes import domain_id, ros_env

from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.commands.demo import demo_environment, PROFILE_VARIABLES
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.pipeline.frame_sources import builtin_photos

ROOT = Path(__file__).resolve().parent.parent
CAMERA_PROFILE = str(ROOT / 'config' / 'fastdds_camera_profile.xml')


def test_environment_keeps_what_the_robot_set():
    env = demo_environment({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET',
                            'FASTRTPS_DEFAULT_PROFILES_FILE': '/etc/robot.xml',
                            'AMENT_PREFIX_PATH': '/opt/ros/jazzy'})
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SUBNET'
    assert env['AMENT_PREFIX_PATH'] == '/opt/ros/jazzy'
    assert env['FASTRTPS_DEFAULT_PROFILES_FILE'] == '/etc/robot.xml'
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' not in env


@pytest.mark.parametrize('distro, variable', [
    (None, 'FASTDDS_DEFAULT_PROFILES_FILE'), ('kilted', 'FASTDDS_DEFAULT_PROFILES_FILE'),
    ('humble', 'FASTRTPS_DEFAULT_PROFILES_FILE'), ('jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE')])
def test_environment_names_the_camera_profile_in_the_variable_fast_dds_reads(distro, variable):
    env = demo_environment({} if distro is None else {'ROS_DISTRO': distro})
    assert env[variable] == CAMERA_PROFILE
    assert [name for name in PROFILE_VARIABLES if name in env] == [variable]
    assert env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert env['AMENT_PREFIX_PATH'] == sys.prefix
    assert env['PYTHONPATH'].split(':')[0] == str(ROOT)


def plausible_labels(models, catalog):
    """Return the top-3 labels each model gives each built-in photo."""
    labels = set()
    for model in models:
        classifier = Classifier(model, catalog=catalog)
        for photo in builtin_photos():
            labels.update(p.label for p in classifier.classify(photo, top_k=3))
        classifier.close()
    return labels


@pytest.mark.slow
def test_short_demo_shows_real_labels_and_steps_down_when_the_target_rises(catalog, tmp_path):
    env = ros_env(domain_id(), profile=None)
    run = subprocess.run(
        [sys.executable, '-m', 'jetson_classifier.commands.demo', '--duration', '20',
         '--output', str(tmp_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=400)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    summary = json.loads((tmp_path / 'summary.json').read_text())

    assert summary['exit_codes'] == {'switcher': 0, 'classifier': 0, 'image_source': 0}, output
    assert summary['raised_at_s'] is not None
    assert summary['switches_after_raise'] >= 1, output
    raised = summary['targets'][-1]['min_fps']
    assert raised > summary['targets'][0]['min_fps']
    profile_fps = {m['name']: m['fps'] for m in load_profile(summary['profile'])['models']}
    step = next(s for s in summary['switches'] if s['t_s'] >= summary['raised_at_s'])
    assert profile_fps[step['to']] > profile_fps[step['from']], step
    assert any(f'min_fps {raised:g}' in d['decision'] for d in summary['decisions']), output

    seen = set(summary['labels_seen'])
    assert len(seen) >= 3, seen
    assert seen <= plausible_labels(summary['models_used'], catalog), seen
    assert sum(m['frames'] for m in summary['models']) >= 100
    assert all(m['network_fps'] > 0 for m in summary['models'] if m['frames'])

    assert (tmp_path / 'chart.png').stat().st_size > 10_000
    assert 'switch(es), models used:' in (tmp_path / 'summary.txt').read_text()
    status_lines = [line for line in run.stdout.splitlines() if line.startswith('[')]
    assert len(status_lines) >= 18, output


@pytest.mark.slow
def test_two_cameras_in_one_classifier_are_each_labelled_at_their_rate_and_the_switcher_works(
        catalog, tmp_path):
    env = ros_env(domain_id(), profile=None)
    run = subprocess.run(
        [sys.executable, '-m', 'jetson_classifier.commands.demo', '--duration', '20',
         '--cameras', 'front', 'rear', '--rate', '20', '--output', str(tmp_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=400)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    summary = json.loads((tmp_path / 'summary.json').read_text())

    assert set(summary['exit_codes'].values()) == {0}, output
    assert set(summary['exit_codes']) == {'image_source_front', 'image_source_rear',
                                          'classifier', 'switcher'}
    front, rear = summary['cameras']['front'], summary['cameras']['rear']
    assert front['end_to_end_fps'] == pytest.approx(20.0, rel=0.2), summary['cameras']
    assert rear['end_to_end_fps'] == pytest.approx(10.0, rel=0.2), summary['cameras']
    assert summary['switches_after_raise'] >= 1, output
    assert set(summary['labels_seen']) <= plausible_labels(summary['models_used'], catalog)
    assert any(' | rear: ' in line for line in run.stdout.splitlines()), output
