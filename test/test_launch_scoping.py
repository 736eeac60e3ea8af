"""
Including this package's launch files leaks nothing into the launch file that includes them.

`launch` and `launch_ros` have no wheels here, so the launch files are built with stand-ins of
their API and visited by the rules launch's own source gives (launch_file_reader.visit cites
them). That proves each file's actions sit in a scoped GroupAction and what follows from
launch's rules, not that launch keeps them: where launch and launch_ros import (a sourced ROS 2
install), the last test has the real launch visit the same bring-up.
"""

import asyncio
import os
from pathlib import Path

from launch_file_reader import build, is_one_scoped_group, NODE_KINDS, Scope, stand_ins, visit
import pytest
from ros_processes import PROFILE_VARIABLES
import yaml

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_DIR = ROOT / 'launch'
FASTDDS, FASTRTPS = PROFILE_VARIABLES
SHIPPED_PROFILE = 'fastdds_camera_profile.xml'
ROBOT_PROFILE = '/etc/robot/fastdds.xml'
# What a robot's bring-up holds before it includes classifier.launch.py.
ROBOT_ENVIRONMENT = {'PATH': '/usr/bin'}
# The launch files that start a classifier, plain and managed.
CLASSIFIER_LAUNCHES = ('classifier.launch.py', 'lifecycle_classifier.launch.py')


def bring_up(include_arguments=(), launch_file='classifier.launch.py'):
    """Return a robot's bring-up: include `launch_file`, then start a node of its own."""
    return stand_ins.LaunchDescription([
        stand_ins.IncludeLaunchDescription(
            stand_ins.PythonLaunchDescriptionSource(str(LAUNCH_DIR / launch_file)),
            launch_arguments=list(include_arguments)),
        stand_ins.Node(package='robot_bringup', executable='planner', name='planner'),
    ])


def started(description, scope, monkeypatch, distro='kilted', launch_dir=LAUNCH_DIR):
    """Visit `description` under ROS_DISTRO `distro`; return [(node, Scope it sees)]."""
    monkeypatch.setenv('ROS_DISTRO', distro)
    executed = []
    visit(description, scope, executed, launch_dir)
    return [(action, seen) for action, seen in executed if action.kind in NODE_KINDS]


def by_name(nodes):
    return {node.kwargs['name']: scope for node, scope in nodes}


def test_every_launch_file_but_the_building_block_is_one_scoped_group():
    for path in sorted(LAUNCH_DIR.glob('*.launch.py')):
        # common.launch.py is unscoped on purpose: the others include it inside their group.
        assert is_one_scoped_group(path) is (path.name != 'common.launch.py'), path.name


@pytest.mark.parametrize('launch_file', CLASSIFIER_LAUNCHES)
@pytest.mark.parametrize('distro, variable', [
    ('humble', FASTRTPS), ('jazzy', FASTRTPS), ('kilted', FASTDDS), ('rolling', FASTDDS)])
def test_a_node_after_the_include_sees_none_of_the_classifiers_settings(
        distro, variable, launch_file, monkeypatch):
    seen = by_name(started(bring_up(launch_file=launch_file),
                           Scope({}, dict(ROBOT_ENVIRONMENT)), monkeypatch, distro))
    classifier, planner = seen['classifier'], seen['planner']
    # The classifier gets its arguments and the one profile variable its distro reads...
    assert classifier.configurations['model'] == 'lite0_int8'
    assert classifier.configurations['use_sim_time'] == 'false'
    assert [name for name in PROFILE_VARIABLES if name in classifier.environment] == [variable]
    assert classifier.environment[variable].endswith(SHIPPED_PROFILE)
    # ...and the bring-up's own node after it gets none of them.
    assert planner.configurations == {}
    assert planner.environment == ROBOT_ENVIRONMENT


@pytest.mark.parametrize('distro, exported, read', [
    ('kilted', FASTDDS, FASTDDS), ('kilted', FASTRTPS, FASTDDS), ('humble', FASTRTPS, FASTRTPS),
    ('humble', FASTDDS, FASTRTPS)])
def test_a_profile_the_robot_exported_is_kept(distro, exported, read, monkeypatch):
    robot = {**ROBOT_ENVIRONMENT, exported: ROBOT_PROFILE}
    seen = by_name(started(bring_up(), Scope({}, dict(robot)), monkeypatch, distro))
    assert seen['classifier'].environment == {**robot, read: ROBOT_PROFILE}
    assert seen['planner'].environment == robot


def test_arguments_given_to_the_include_are_the_includers_own(monkeypatch):
    # IncludeLaunchDescription sets them in the includer's scope before the included file
    # runs: the model must show that too, or it would prove too much.
    seen = by_name(started(bring_up([('model', 'lite2')]), Scope({}, {}), monkeypatch))
    assert seen['classifier'].configurations['model'] == 'lite2'
    assert seen['planner'].configurations == {'model': 'lite2'}


def test_the_classifier_launch_unscoped_would_leak_into_the_bring_up(monkeypatch, tmp_path):
    for path in LAUNCH_DIR.glob('*.launch.py'):
        text = path.read_text()
        if path.name == 'classifier.launch.py':
            assert 'scoped=True' in text
            text = text.replace('scoped=True', 'scoped=False')
        (tmp_path / path.name).write_text(text)
    planner = by_name(started(bring_up(), Scope({}, {}), monkeypatch,
                              launch_dir=tmp_path))['planner']
    assert planner.configurations['model'] == 'lite0_int8'
    assert planner.environment[FASTDDS].endswith(SHIPPED_PROFILE)


def test_multi_classifier_gives_each_classifier_its_namespace_camera_and_model(monkeypatch):
    nodes = started(build(LAUNCH_DIR / 'multi_classifier.launch.py'),
                    Scope({'rear_model': 'lite2'}, {}), monkeypatch)
    assert [(scope.resolve(node.kwargs['namespace']), scope.configurations['image'],
             scope.configurations['model']) for node, scope in nodes] == [
        ('front', '/front_camera/image_raw', 'lite0_int8'),
        ('rear', '/rear_camera/image_raw', 'lite2')]


def test_use_sim_time_and_log_level_reach_every_node_of_every_launch_file(monkeypatch):
    reached = set()
    for path in sorted(LAUNCH_DIR.glob('*.launch.py')):
        given = Scope({'use_sim_time': 'true', 'log_level': 'debug'}, {})
        for node, scope in started(build(path), given, monkeypatch):
            where = (path.name, node.kwargs['name'])
            values = next(p for p in node.kwargs['parameters'] if isinstance(p, dict))
            use_sim_time = values['use_sim_time']
            assert use_sim_time.kwargs['value_type'] is bool, where
            assert scope.resolve(use_sim_time.args[0]) == 'true', where
            assert [scope.resolve(a) for a in node.kwargs['ros_arguments']] == [
                '--log-level', 'debug'], where
            reached.add(node.kwargs['executable'])
    assert reached == {'classifier', 'lifecycle_classifier', 'switcher', 'image_source'}


def test_the_real_launch_gives_a_node_after_the_include_none_of_the_classifiers_settings(
        monkeypatch):
    pytest.importorskip('launch.actions', reason='launch is not installed')
    pytest.importorskip('launch_ros.actions', reason='launch_ros is not installed')
    import launch
    import launch.launch_description_sources
    import launch.utilities
    import launch_ros.actions

    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    bring_up = launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(
            launch.launch_description_sources.PythonLaunchDescriptionSource(
                str(LAUNCH_DIR / 'classifier.launch.py'))),
        launch_ros.actions.Node(package='jetson_classifier', executable='image_source',
                                name='planner'),
    ])
    context = launch.LaunchContext()
    loop = asyncio.new_event_loop()
    context._set_asyncio_loop(loop)  # as LaunchService does; the loop never runs: no process
    try:
        visited = launch.utilities.visit_all_entities_and_collect_futures(bring_up, context)
        nodes = {entity.node_name.rsplit('/', 1)[-1]: entity.process_details
                 for entity, _ in visited if isinstance(entity, launch_ros.actions.Node)}
        configurations = dict(context.launch_configurations)
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()
    read = FASTRTPS if os.environ.get('ROS_DISTRO') in ('humble', 'iron', 'jazzy') else FASTDDS
    classifier, planner = nodes['classifier'], nodes['planner']
    assert [name for name in PROFILE_VARIABLES if name in classifier['env']] == [read]
    assert not any(name in planner['env'] for name in PROFILE_VARIABLES)
    assert configurations == {}
    command = classifier['cmd']
    assert command[command.index('--log-level') + 1] == 'info'
    parameters = {}
    for index in [i + 1 for i, argument in enumerate(command) if argument == '--params-file']:
        for body in yaml.safe_load(Path(command[index]).read_text()).values():
            parameters.update(body.get('ros__parameters', {}))
    assert parameters['model'] == 'lite0_int8' and parameters['use_sim_time'] is False
