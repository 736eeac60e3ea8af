"""
Launch the whole chain with a stand-in camera: image source -> classifier -> switcher.

    ros2 launch jetson_classifier demo.launch.py
    ros2 launch jetson_classifier demo.launch.py source:=/data/shelf_photos rate_hz:=15.0

The image source replays the built-in photos (or `source`: a folder, image or video) on
`image`, or JPEG on `image/compressed` with input_transport:=compressed. Every argument of
tradeoff.launch.py and classifier.launch.py works here too.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'jetson_classifier'


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
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
    ]
    # First, so that the Fast DDS profile classifier.launch.py exports reaches the camera too.
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
            },
        ],
        remappings=[('image', LaunchConfiguration('image')),
                    ('image/compressed', [LaunchConfiguration('image'), '/compressed'])],
    )
    return LaunchDescription(arguments + [tradeoff, image_source])
