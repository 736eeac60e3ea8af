"""`colcon build` of the package, as on a robot, and its installed executables run."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest
from ros_processes import domain_id, node_process, ros_env, ros_params

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'jetson_classifier'


def _setup_executables():
    """Return the ros2-run executables setup.py declares (read without running setup)."""
    namespace = {}
    source = (ROOT / 'setup.py').read_text()
    exec(source[source.index('EXECUTABLES = {'):source.index('CONSOLE_SCRIPTS')], namespace)
    return namespace['EXECUTABLES']


@pytest.fixture(scope='module')
def install(tmp_path_factory):
    """Build the tracked files of this checkout with colcon; return the package's prefix."""
    if shutil.which('colcon') is None:
        pytest.skip('colcon is not installed (pip install colcon-core colcon-ros)')
    workspace = tmp_path_factory.mktemp('ws')
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, check=True,
                             capture_output=True).stdout.decode().split('\0')
    for name in filter(None, tracked):
        target = workspace / 'src' / PACKAGE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    build = subprocess.run(['colcon', 'build', '--packages-select', PACKAGE], cwd=workspace,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    return workspace / 'install' / PACKAGE


def installed_env(prefix):
    """Environment a sourced workspace would give: the install first, this checkout not at all."""
    env = ros_env(domain_id())
    env['AMENT_PREFIX_PATH'] = os.pathsep.join([str(prefix), env['AMENT_PREFIX_PATH']])
    python = f'python{sys.version_info.major}.{sys.version_info.minor}'
    env['PYTHONPATH'] = str(prefix / 'lib' / python / 'site-packages')
    return env


def test_colcon_installs_executables_launch_files_config_and_the_index_marker(install):
    executables = {p.name for p in (install / 'lib' / PACKAGE).iterdir()}
    assert set(_setup_executables()) <= executables
    share = install / 'share' / PACKAGE
    assert {p.name for p in (share / 'launch').iterdir()} == {
        p.name for p in (ROOT / 'launch').glob('*.launch.py')}
    for name in ('models.yaml', 'classifier.yaml', 'fastdds_camera_profile.xml'):
        assert (share / 'config' / name).is_file(), name
    assert (share / 'config' / 'groups' / 'imagenet_coarse.yaml').is_file()
    assert (share / 'package.xml').is_file()
    assert (install / 'share' / 'ament_index' / 'resource_index' / 'packages' / PACKAGE).is_file()


def test_installed_classifier_node_runs_from_the_install_and_finds_its_shared_catalog(
        install, catalog):
    with node_process('installed classifier', ros_params(model='lite0_160_int8'),
                      env=installed_env(install), ready_text='classifying', timeout_s=30.0,
                      executable=str(install / 'lib' / PACKAGE / 'classifier')) as node:
        pass
    assert 'lite0_160_int8' in node.output()


@pytest.mark.parametrize('ament_prefix_path', [None, '/nonexistent'])
def test_installed_tool_outside_a_sourced_workspace_says_so_in_one_line(
        install, ament_prefix_path):
    env = installed_env(install)
    env.pop('AMENT_PREFIX_PATH')
    if ament_prefix_path:
        env['AMENT_PREFIX_PATH'] = ament_prefix_path
    result = subprocess.run([str(install / 'lib' / PACKAGE / 'prepare_models'), 'lite0_int8'],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith('prepare_models: cannot find the installed jetson_classifier '
                                    'files (')
    assert 'source the setup script' in result.stderr and 'Traceback' not in result.stderr


def test_installed_prepare_models_reads_the_installed_catalog(install, catalog):
    result = subprocess.run([str(install / 'lib' / PACKAGE / 'prepare_models'), 'lite0_int8'],
                            env=installed_env(install), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'lite0_int8: up to date' in result.stdout
