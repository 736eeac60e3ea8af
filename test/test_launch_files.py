"""
The launch files as a robot's `ros2 launch` would run them, checked without `launch` itself.

`launch` and `launch_ros` have no PyPI wheels, so the files are read with `ast` and built
with stand-ins of their API; what they name is checked against setup.py (what gets installed)
and against the real nodes, started as processes with the shipped parameter files and asked
over DDS what they declare. The managed classifier is first driven the way launch_ros would
drive it by what its launch file registers and emits (lifecycle_launching).
"""

from pathlib import Path
import tempfile

from launch_file_reader import (build, installed_files, is_one_scoped_group, LaunchFile, Scope,
                                setup_keywords, visit)
from lifecycle_launching import asks, drive_as_launch_ros
from lifecycle_msgs.msg import Transition
import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import parameter_value_to_python
from ros_processes import domain_id, listener, node_process, PROFILE_VARIABLES, ros_params
from switcher_testing import write_test_profile
import yaml

from jetson_classifier.commands.demo import FAST_DDS_2_DISTROS
from jetson_classifier.nodes.parameter_client import ParameterClient
from jetson_classifier.nodes.switcher_node import PROFILE_IN_SHARE

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_DIR = ROOT / 'launch'
PACKAGE = 'jetson_classifier'
LAUNCH_FILES = {p.name: LaunchFile(p) for p in sorted(LAUNCH_DIR.glob('*.launch.py'))}
NODES = {node.executable: node for f in LAUNCH_FILES.values() for node in f.nodes}
LAUNCHED_BY = {node.executable: name for name, f in LAUNCH_FILES.items() for node in f.nodes}
NAMESPACE = '/launch_check'
PYTHON_TYPES = {'str': ParameterType.PARAMETER_STRING, 'float': ParameterType.PARAMETER_DOUBLE,
                'int': ParameterType.PARAMETER_INTEGER, 'bool': ParameterType.PARAMETER_BOOL}
# How launch_ros reads a launch argument as ParameterValue(value_type=...): a bool as YAML
# (launch/utilities/type_utils.py, get_typed_value).
FROM_TEXT = {'str': str, 'float': float, 'int': int, 'bool': yaml.safe_load}
# The launch API these files use, as documented for Humble, Jazzy and Kilted. The lifecycle
# part is in Humble's __init__.py files of ros2/launch (launch/actions, conditions, events)
# and ros2/launch_ros (launch_ros/actions, event_handlers, events/lifecycle); launch_ros's
# LifecycleTransition action is not (Iron on).
LAUNCH_API = {
    ('ament_index_python.packages', 'get_package_share_directory'),
    ('launch', 'LaunchDescription'),
    ('launch.actions', 'DeclareLaunchArgument'),
    ('launch.actions', 'EmitEvent'),
    ('launch.actions', 'GroupAction'),
    ('launch.actions', 'IncludeLaunchDescription'),
    ('launch.actions', 'RegisterEventHandler'),
    ('launch.actions', 'SetEnvironmentVariable'),
    ('launch.conditions', 'IfCondition'),
    ('launch.events', 'matches_action'),
    ('launch.launch_description_sources', 'PythonLaunchDescriptionSource'),
    ('launch.substitutions', 'EnvironmentVariable'),
    ('launch.substitutions', 'LaunchConfiguration'),
    ('launch_ros.actions', 'LifecycleNode'),
    ('launch_ros.actions', 'Node'),
    ('launch_ros.event_handlers', 'OnStateTransition'),
    ('launch_ros.events.lifecycle', 'ChangeState'),
    ('launch_ros.parameter_descriptions', 'ParameterValue'),
    ('lifecycle_msgs.msg', 'Transition'),
}


def config_parameters(node_name):
    """Return (top-level key, parameters) of config/<node_name>.yaml, that node's file."""
    document = yaml.safe_load((ROOT / 'config' / f'{node_name}.yaml').read_text())
    (key, body), = document.items()
    return key, body['ros__parameters']


def modules():
    """Map each console script to the module whose main() it runs."""
    scripts = setup_keywords(ROOT)['entry_points']['console_scripts']
    return {name.strip(): target.split(':')[0].strip()
            for name, target in (line.split('=') for line in scripts)}


def declared_with_includes(name, seen=()):
    """Return the launch arguments a file declares, with those of unscoped files it includes."""
    launch_file = LAUNCH_FILES[name]
    names = set(launch_file.arguments)
    for include in launch_file.includes - set(seen):
        if not is_one_scoped_group(LAUNCH_DIR / include):
            names |= declared_with_includes(include, (*seen, name))
    return names


def test_launch_files_and_every_file_they_name_are_installed():
    installed = installed_files(ROOT)
    assert LAUNCH_FILES, 'no launch files found'
    for name, launch_file in LAUNCH_FILES.items():
        assert installed.get(f'launch/{name}') == f'share/{PACKAGE}/launch'
        for named in launch_file.named_files:
            folder = 'launch' if named.endswith('.launch.py') else 'config'
            assert (ROOT / folder / named).is_file(), f'{name} names missing {folder}/{named}'
            assert installed.get(f'{folder}/{named}') == f'share/{PACKAGE}/{folder}', named


def test_launch_files_start_executables_the_package_installs_where_launch_ros_looks():
    installed = installed_files(ROOT)
    scripts = modules()
    assert set(NODES) == {'classifier', 'lifecycle_classifier', 'switcher', 'image_source'}
    for executable in NODES:
        assert installed.get(f'scripts/{executable}') == f'lib/{PACKAGE}', executable
        wrapper = (ROOT / 'scripts' / executable).read_text()
        assert f'from {scripts[executable]} import main' in wrapper


def test_the_shipped_profile_is_installed_where_the_switcher_looks_for_it():
    if not (ROOT / PROFILE_IN_SHARE).is_file():
        pytest.skip(f'no shipped benchmark profile at {PROFILE_IN_SHARE}')
    folder = PROFILE_IN_SHARE.rsplit('/', 1)[0]
    assert installed_files(ROOT).get(PROFILE_IN_SHARE) == f'share/{PACKAGE}/{folder}'


def test_every_launch_configuration_is_declared_by_the_file_or_what_it_includes():
    # A scoped include's arguments do not reach the includer, so only unscoped ones count.
    for name, launch_file in LAUNCH_FILES.items():
        undeclared = launch_file.configurations - declared_with_includes(name)
        assert not undeclared, f'{name} uses undeclared launch arguments {undeclared}'


def test_arguments_declared_in_several_files_agree():
    first = {}
    for name, launch_file in LAUNCH_FILES.items():
        for argument in launch_file.arguments.values():
            earlier = first.setdefault(argument.name, (name, argument))
            assert earlier[1] == argument, f'{name} and {earlier[0]} declare {argument.name} apart'


def test_arguments_with_choices_default_to_one_of_them():
    for launch_file in LAUNCH_FILES.values():
        for argument in launch_file.arguments.values():
            if argument.choices is not None:
                assert argument.default in argument.choices, argument


def test_launch_files_use_only_the_documented_launch_api():
    for name, launch_file in LAUNCH_FILES.items():
        unknown = {i for i in launch_file.imports if i[0] != 'os'} - LAUNCH_API
        assert not unknown, f'{name} imports {unknown}'


def test_the_common_launch_sets_the_profile_variable_by_the_demos_rule():
    launch_file = LAUNCH_FILES['common.launch.py']
    assert launch_file.constant('PROFILE_VARIABLES') == PROFILE_VARIABLES
    assert launch_file.constant('FAST_DDS_2_DISTROS') == FAST_DDS_2_DISTROS
    assert 'fastdds_camera_profile.xml' in launch_file.named_files
    assert 'SetEnvironmentVariable' in {name for _, name in launch_file.imports}


def test_config_files_address_the_node_names_the_launch_files_give():
    for executable, node in NODES.items():
        key, _ = config_parameters(node.name)
        assert key == f'/**/{node.name}', f'config/{node.name}.yaml'


@pytest.fixture(scope='module')
def switcher_overrides(tmp_path_factory):
    """
    Return the parameters the switcher needs beyond its file: none with a shipped profile.

    Without one (its `profile: ''` means the shipped one) it gets a small test profile.
    """
    if (ROOT / 'docs' / 'benchmark' / 'profile.json').is_file():
        return {}
    path = tmp_path_factory.mktemp('profile') / 'profile.json'
    write_test_profile(path, {'lite0_int8': (60.0, 0.74), 'lite2_int8': (30.0, 0.77)})
    return {'profile': str(path)}


def describe_node(ros, process, executable, namespace=NAMESPACE):
    """Ask a running node for its parameters {name: (type, value)} and its topics."""
    full_name = f'{namespace}/{NODES[executable].name}'
    client = ParameterClient(ros.node, full_name)
    ready = ros.spin_until(lambda: client.services_are_ready() or not process.running(), 60.0)
    assert ready and process.running(), f'{full_name} did not come up'
    parameters = {}
    for name in ros.call(client.list_parameters).result.names:
        # One at a time: rclpy answers a request naming an unset parameter with no values.
        values = ros.call(lambda: client.get_parameters([name])).values
        parameters[name] = ((values[0].type, parameter_value_to_python(values[0])) if values
                            else (ParameterType.PARAMETER_NOT_SET, None))
    return {'parameters': parameters, 'topics': node_topics(ros, full_name)}


def _topics_of(ros, name, namespace):
    return {topic for topic, _ in (
        ros.node.get_subscriber_names_and_types_by_node(name, namespace)
        + ros.node.get_publisher_names_and_types_by_node(name, namespace))}


def node_topics(ros, full_name, settle_s=0.5, tries=20):
    """Return the topics a node publishes or subscribes to, once the graph has settled."""
    namespace, name = full_name.rsplit('/', 1)
    assert ros.spin_until(
        lambda: (name, namespace) in ros.node.get_node_names_and_namespaces(), 30.0), (
        f'{full_name} answers parameter calls but is not in the graph')
    seen = _topics_of(ros, name, namespace)
    for _ in range(tries):
        ros.spin_for(settle_s)
        now = _topics_of(ros, name, namespace)
        if now == seen:
            return now
        seen = now
    raise AssertionError(f'the topics of {full_name} kept changing: {sorted(seen)}')


def executed_actions(launch_file, **arguments):
    """Return [(action, Scope)]: the nodes, event handlers and events launch runs of a file."""
    executed = []
    visit(build(LAUNCH_DIR / launch_file), Scope(arguments, {}), executed, LAUNCH_DIR)
    return executed


@pytest.fixture(scope='module')
def running_nodes(catalog, switcher_overrides):
    """
    Start each launched node alone, with its shipped parameter file, in a namespace.

    Alone, so that what it reports is what it was given (a switcher would change the
    classifier's model). A managed node is first driven by its launch file's autostart.
    """
    scripts = modules()
    described = {}
    with listener(domain_id()) as ros:
        for executable, node in NODES.items():
            overrides = switcher_overrides if executable == 'switcher' else {}
            with node_process(scripts[executable], [
                    '-r', f'__ns:={NAMESPACE}',
                    '--params-file', str(ROOT / 'config' / f'{node.name}.yaml'),
                    *ros_params(**overrides)]) as process:
                autostart = (drive_as_launch_ros(ros, f'{NAMESPACE}/{node.name}',
                                                 executed_actions(LAUNCHED_BY[executable]))
                             if node.kind == 'LifecycleNode' else None)
                described[executable] = describe_node(ros, process, executable)
                described[executable].update(overridden=set(overrides), autostart=autostart)
    return described


def test_config_file_parameters_are_declared_by_their_node_and_take_effect(running_nodes):
    for executable, node in NODES.items():
        declared = running_nodes[executable]['parameters']
        _, parameters = config_parameters(node.name)
        for name, value in parameters.items():
            assert name in declared, f'config/{node.name}.yaml: {name} is not declared'
            kind, actual = declared[name]
            if name not in running_nodes[executable]['overridden']:
                assert (type(actual), actual) == (type(value), value), f'{executable} {name}'


def test_parameters_the_launch_files_pass_are_declared_with_the_type_given(running_nodes):
    for executable, node in NODES.items():
        declared = running_nodes[executable]['parameters']
        for name, parameter in node.parameters.items():
            assert name in declared, f'{executable}: launch passes undeclared {name}'
            kind, value = declared[name]
            if parameter.configuration is None:
                assert type(parameter.constant) is type(value), f'{executable} {name}'
            else:
                assert PYTHON_TYPES[parameter.value_type] == kind, f'{executable} {name}'


def test_launch_argument_defaults_agree_with_the_config_files_and_the_nodes(running_nodes):
    arguments = {name: argument for f in LAUNCH_FILES.values()
                 for name, argument in f.arguments.items()}
    for executable, node in NODES.items():
        _, parameters = config_parameters(node.name)
        declared = running_nodes[executable]['parameters']
        for name, parameter in node.parameters.items():
            # The file's value; for a parameter it leaves out (use_sim_time), the node's own.
            expected = parameters[name] if name in parameters else declared[name][1]
            if parameter.configuration is None:
                assert expected == parameter.constant, f'{executable} {name}'
                continue
            default = arguments[parameter.configuration].default
            assert FROM_TEXT[parameter.value_type](default) == expected, f'{executable} {name}'


def test_launch_files_remap_the_topics_the_nodes_really_use(running_nodes):
    for executable, node in NODES.items():
        topics = running_nodes[executable]['topics']
        remapped = [source for source, _ in node.remappings]
        if not remapped:
            continue
        in_use = [name for name in remapped if f'{NAMESPACE}/{name}' in topics]
        assert in_use, f'{executable} uses none of {remapped}: {sorted(topics)}'
        # The compressed twin of a topic is used instead of it with the other transport.
        for name in set(remapped) - set(in_use):
            assert name.endswith('/compressed') and name.rsplit('/', 1)[0] in in_use, (
                f'{executable} remaps {name}, which it does not use: {sorted(topics)}')


def test_wildcard_keys_reach_a_node_in_any_namespace():
    key, parameters = config_parameters('image_source')
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / 'params.yaml'
        path.write_text(yaml.safe_dump({key: {'ros__parameters': {
            **parameters, 'rate_hz': 7.5, 'frame_id': 'front'}}}))
        with listener(domain_id()) as ros, node_process(
                modules()['image_source'],
                ['-r', '__ns:=/robot7/camera', '--params-file', str(path)]) as process:
            described = describe_node(ros, process, 'image_source', '/robot7/camera')
    assert described['parameters']['rate_hz'] == (ParameterType.PARAMETER_DOUBLE, 7.5)
    assert described['parameters']['frame_id'] == (ParameterType.PARAMETER_STRING, 'front')


def test_autostart_asks_configure_after_the_node_starts_and_activate_once_it_is_inactive():
    executed = executed_actions('lifecycle_classifier.launch.py')
    # Launch runs a group's actions in order: the handler is there before the node can move.
    assert [action.kind for action, _ in executed] == [
        'RegisterEventHandler', 'LifecycleNode', 'EmitEvent']
    (register, _), (node, _), (configure, _) = executed
    assert asks(configure.kwargs['event'], node) == Transition.TRANSITION_CONFIGURE
    handler = register.argument(0, 'event_handler')
    assert [asks(entity.kwargs['event'], node) for entity in handler.kwargs['entities']] == [
        Transition.TRANSITION_ACTIVATE]
    assert handler.kwargs['handle_once'] is True
    assert [action.kind for action, _ in executed_actions(
        'lifecycle_classifier.launch.py', autostart='false')] == ['LifecycleNode']


def test_autostart_takes_the_managed_classifier_to_active(running_nodes):
    # Its topics, checked by the remapping test, are those of a classifier that serves.
    autostart = running_nodes['lifecycle_classifier']['autostart']
    assert autostart['asked'] == [Transition.TRANSITION_CONFIGURE,
                                  Transition.TRANSITION_ACTIVATE]
    assert autostart['transitions'][-3:] == [
        ('configuring', 'inactive'), ('inactive', 'activating'), ('activating', 'active')]


def test_autostart_with_a_model_that_cannot_load_logs_why_and_never_asks_activate(ros):
    with node_process(modules()['lifecycle_classifier'], [
            '-r', f'__ns:={NAMESPACE}', *ros_params(model='lite9')]) as process:
        autostart = drive_as_launch_ros(ros, f'{NAMESPACE}/classifier',
                                        executed_actions('lifecycle_classifier.launch.py'))
    assert autostart['asked'] == [Transition.TRANSITION_CONFIGURE]
    assert autostart['transitions'][-1] == ('configuring', 'unconfigured')
    assert "configure failed: unknown model 'lite9'" in process.output()
