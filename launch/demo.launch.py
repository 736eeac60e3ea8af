"""
Launch the whole chain with a stand-in camera: image source -> classifier -> switcher.

    ros2 launch jetson_classifier demo.launch.py
    ros2 launch jetson_classifier demo.launch.py source:=/data/shelf_photos rate_hz:=15.0

The image source replays the built-in photos (or `source`: a folder, image or video) on
`image`, or JPEG on `image/compressed` with input_transport:=compressed. Every argument of
tradeoff.launch.py and classifier.launch.py works here too. Scoped like them.
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
    image = LaunchConfiguration('image')
    arguments = [
        DeclareLaunchArgument(
            'source', default_value='',
            description='Image folder, image or video file to replay; empty: built-in photos'),
        DeclareLaunchArgument(
            'rate_hz', default_value='30.0', description='Frames per second of the image source'),
        DeclareLaunchArgument(
            'image_source_params_file',
            default_value=os.path.join(share, 'config', 'image_source.yaml'),
            description='YAML file with the image source parameters'),
        # The classifier's too (classifier.launch.py declares them alike): the camera needs them.
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Camera topic (sensor_msgs/Image); with input_transport:=compressed '
                        'the classifier reads <image>/compressed'),
        DeclareLaunchArgument(
            'input_transport', default_value='raw', choices=['raw', 'compressed'],
            description='raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage'),
    ]
    common = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        os.path.join(share, 'launch', 'common.launch.py')))
    tradeoff = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        os.path.join(share, 'launch', 'tradeoff.launch.py')))
    image_source = Node(
        package=PACKAGE,
        executable='image_source',
        name='image_source',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=[
            LaunchConfiguration('image_source_params_file'),
            {
                'source': ParameterValue(LaunchConfiguration('source'), value_type=str),
                'rate_hz': ParameterValue(LaunchConfiguration('rate_hz'), value_type=float),
                'transport': ParameterValue(
                    LaunchConfiguration('input_transport'), value_type=str),
                'use_sim_time': ParameterValue(
                    LaunchConfiguration('use_sim_time'), value_type=bool),
            },
        ],
        ros_arguments=['--log-level', LaunchConfiguration('log_level')],
        remappings=[('image', image), ('image/compressed', [image, '/compressed'])],
    )
    return LaunchDescription([
        GroupAction([common, *arguments, tradeoff, image_source], scoped=True)])
