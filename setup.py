"""ament_python package setup: installs with `colcon build` on a robot and `pip install .`."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'jetson_classifier'
# Executable name -> module with main(): ros2 run jetson_classifier <name>.
EXECUTABLES = {
    'classifier': 'nodes.classifier_node',
    'lifecycle_classifier': 'nodes.lifecycle_classifier_node',
    'switcher': 'nodes.switcher_node',
    'image_source': 'nodes.image_source_node',
    'prepare_models': 'commands.prepare_models',
    'build_engine': 'commands.build_engine',
    'finetune': 'commands.finetune',
    'benchmark': 'benchmark.command',
    'demo': 'commands.demo',
}
CONSOLE_SCRIPTS = {'jetson-classifier': 'commands.cli', **EXECUTABLES}

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml') + glob('config/*.xml')),
        (f'share/{PACKAGE}/config/groups', glob('config/groups/*.yaml')),
        # The measured profile the switcher plans from when its `profile` parameter is empty.
        (f'share/{PACKAGE}/docs/benchmark', glob('docs/benchmark/profile.json')),
        # pip puts console scripts in bin/; launch_ros and `ros2 run` look in lib/<package>/.
        (f'lib/{PACKAGE}', [f'scripts/{name}' for name in EXECUTABLES]),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='jetson_classifier maintainers',
    maintainer_email='maintainers@jetson-classifier.invalid',
    description='Image classification for robots: fast enough to act on, measured on the target.',
    license='Apache-2.0',
    entry_points={'console_scripts': [
        f'{name} = {PACKAGE}.{module}:main' for name, module in CONSOLE_SCRIPTS.items()]},
)
