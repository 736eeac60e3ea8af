"""
Launch the classifier and the switcher that holds its fps or accuracy target.

    ros2 launch jetson_classifier tradeoff.launch.py image:=/camera/image_raw min_fps:=30.0
    ros2 launch jetson_classifier tradeoff.launch.py policy:=min_accuracy min_accuracy:=0.76

The switcher plans from a benchmark profile measured on this robot (`profile`), then follows
the classifier's network fps and sets its `model` parameter. Every classifier.launch.py
argument (image, model, backend, precision, input_transport, params_file, namespace,
use_sim_time, log_level, dds_profile) works here too; the switcher runs in the same namespace.
Scoped like classifier.launch.py: an including launch file keeps none of it.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'jetson_classifier'


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument(
            'policy', default_value='min_fps', choices=['min_fps', 'min_accuracy', 'manual'],
            description='min_fps: most accurate model that holds min_fps; min_accuracy: '
                        'fastest model that reaches min_accuracy; manual: only report'),
        DeclareLaunchArgument(
            'min_fps', default_value='30.0',
            description='Network fps (1000 / inference ms) to hold with policy min_fps'),
        DeclareLaunchArgument(
            'min_accuracy', default_value='0.75',
            description='Top-1 fraction to reach with policy min_accuracy'),
        DeclareLaunchArgument(
            'profile', default_value='',
            description='Benchmark profile JSON measured on this robot; empty: the shipped one'),
        DeclareLaunchArgument(
            'switcher_params_file', default_value=os.path.join(share, 'config', 'switcher.yaml'),
            description='YAML file with the switcher parameters'),
    ]
    common = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        os.path.join(share, 'launch', 'common.launch.py')))
    classifier = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        os.path.join(share, 'launch', 'classifier.launch.py')))
    switcher = Node(
        package=PACKAGE,
        executable='switcher',
        name='switcher',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=[
            LaunchConfiguration('switcher_params_file'),
            {
                'policy': ParameterValue(LaunchConfiguration('policy'), value_type=str),
                'min_fps': ParameterValue(LaunchConfiguration('min_fps'), value_type=float),
                'min_accuracy': ParameterValue(
                    LaunchConfiguration('min_accuracy'), value_type=float),
                'profile': ParameterValue(LaunchConfiguration('profile'), value_type=str),
                'use_sim_time': ParameterValue(
                    LaunchConfiguration('use_sim_time'), value_type=bool),
            },
        ],
        ros_arguments=['--log-level', LaunchConfiguration('log_level')],
    )
    # The classifier's own arguments stay in its scope; common.launch.py gives the switcher
    # the same namespace, clock, log level and Fast DDS profile.
    return LaunchDescription([
        GroupAction([common, *arguments, classifier, switcher], scoped=True)])
