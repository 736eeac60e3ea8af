"""
The launch files as a robot's `ros2 launch` would run them, checked without `launch` itself.

`launch` and `launch_ros` have no PyPI wheels, so the files are read with `ast`; what they
name is checked against setup.py (what gets installed) and against the real nodes, started
as processes with the shipped parameter files and asked over DDS what they declare.
"""

from pathlib import Path
import tempfile

from launch_file_reader import installed_files, LaunchFile, setup_keywords
import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.parameter import parameter_value_to_python
from ros_processes import domain_id, listener, node_process, PROFILE_VARIABLES, ros_params
from switcher_testing import write_test_profile
import yaml

from jetson_classifier.nodes.parameter_client import ParameterClient
from jetson_classifier.nodes.switcher_node import PROFILE_IN_SHARE

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'jetson_classifier'
LAUNCH_FILES = {p.name: LaunchFile(p) for p in sorted((ROOT / 'launch').glob('*.launch.py'))}
NODES = {node.executable: node for f in LAUNCH_FILES.values() for node in f.nodes}
NAMESPACE = '/launch_check'
PYTHON_TYPES = {'str': ParameterType.PARAMETER_STRING, 'float': ParameterType.PARAMETER_DOUBLE,
                'int': ParameterType.PARAMETER_INTEGER, 'bool': ParameterType.PARAMETER_BOOL}
# The launch API these files use, as documented for Humble, Jazzy and Kilted.
LAUNCH_API = {
    ('ament_index_python.packages', 'get_package_share_directory'),
    ('launch', 'LaunchDescription'),
    ('launch.actions', 'DeclareLaunchArgument'),
    ('launch.actions', 'IncludeLaunchDescription'),
    ('launch.actions', 'SetEnvironmentVariable'),
    ('launch.launch_description_sources', 'PythonLaunchDescriptionSource'),
    ('launch.substitutions', 'EnvironmentVariable'),
    ('launch.substitutions', 'LaunchConfiguration'),
    ('launch_ros.actions', 'Node'),
    ('launch_ros.parameter_descriptions', 'ParameterValue'),
}


def config_parameters(executable):
    """Return (top-level key, parameters) of config/<executable>.yaml."""
    document = yaml.safe_load((ROOT / 'config' / f'{executable}.yaml').read_text())
    (key, body), = document.items()
    return key, body['ros__parameters']


def modules():
    """Map each console script to the module whose main() it runs."""
    scripts = setup_keywords(ROOT)['entry_points']['console_scripts']
    return {name.strip(): target.split(':')[0].strip()
            for name, target in (line.split('=') for line in scripts)}


def declared_with_includes(name, seen=()):
    """Return the launch arguments a file declares, with those of the files it includes."""
    launch_file = LAUNCH_FILES[name]
    names = set(launch_file.arguments)
    for include in launch_file.includes - set(seen):
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
    assert set(NODES) == {'classifier', 'switcher', 'image_source'}
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
    for name, launch_file in LAUNCH_FILES.items():
        undeclared = launch_file.configurations - declared_with_includes(name)
        assert not undeclared, f'{name} uses undeclared launch arguments {undeclared}'


def test_arguments_with_choices_default_to_one_of_them():
    for launch_file in LAUNCH_FILES.values():
        for argument in launch_file.arguments.values():
            if argument.choices is not None:
                assert argument.default in argument.choices, argument


def test_launch_files_use_only_the_documented_launch_api():
    for name, launch_file in LAUNCH_FILES.items():
        unknown = {i for i in launch_file.imports if i[0] != 'os'} - LAUNCH_API
        assert not unknown, f'{name} imports {unknown}'


def test_the_classifier_launch_exports_both_fast_dds_profile_variables():
    launch_file = LAUNCH_FILES['classifier.launch.py']
    assert launch_file.constant('PROFILE_VARIABLES') == PROFILE_VARIABLES
    assert 'fastdds_camera_profile.xml' in launch_file.named_files
    assert 'SetEnvironmentVariable' in {name for _, name in launch_file.imports}


def test_config_files_address_the_node_names_the_launch_files_give():
    for executable, node in NODES.items():
        key, _ = config_parameters(executable)
        assert key == f'/**/{node.name}', f'config/{executable}.yaml'


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


@pytest.fixture(scope='module')
def running_nodes(catalog, switcher_overrides):
    """
    Start each launched node alone, with its shipped parameter file, in a namespace.

    Alone, so that what it reports is what it was given (a switcher would change the
    classifier's model).
    """
    scripts = modules()
    described = {}
    with listener(domain_id()) as ros:
        for executable in NODES:
            overrides = switcher_overrides if executable == 'switcher' else {}
            with node_process(scripts[executable], [
                    '-r', f'__ns:={NAMESPACE}',
                    '--params-file', str(ROOT / 'config' / f'{executable}.yaml'),
                    *ros_params(**overrides)]) as process:
                described[executable] = describe_node(ros, process, executable)
                described[executable]['overridden'] = set(overrides)
    return described


def test_config_file_parameters_are_declared_by_their_node_and_take_effect(running_nodes):
    for executable in NODES:
        declared = running_nodes[executable]['parameters']
        _, parameters = config_parameters(executable)
        for name, value in parameters.items():
            assert name in declared, f'config/{executable}.yaml: {name} is not declared'
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


def test_launch_argument_defaults_agree_with_the_config_files():
    arguments = {name: argument for f in LAUNCH_FILES.values()
                 for name, argument in f.arguments.items()}
    for executable, node in NODES.items():
        _, parameters = config_parameters(executable)
        for name, parameter in node.parameters.items():
            if parameter.configuration is None:
                assert parameters[name] == parameter.constant, f'{executable} {name}'
                continue
            default = arguments[parameter.configuration].default
            as_type = {'str': str, 'float': float, 'int': int}[parameter.value_type]
            assert as_type(default) == parameters[name], f'{executable} {name}'


def test_launch_files_remap_the_topics_the_nodes_really_use(running_nodes):
    for executable, node in NODES.items():
        topics = running_nodes[executable]['topics']
        remapped = [source.strip("'") for source, _ in node.remappings]
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
