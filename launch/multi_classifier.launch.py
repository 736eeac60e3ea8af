"""
Launch two classifiers in two namespaces, each on its own camera (front and rear).

    ros2 launch jetson_classifier multi_classifier.launch.py \
        front_image:=/front_camera/image_raw rear_image:=/rear_camera/image_raw \
        rear_model:=lite0_160_int8

Their topics, parameters and diagnostics are under /front/classifier and /rear/classifier;
use_sim_time, log_level and dds_profile hold for both. Each includes classifier.launch.py in a
scoped GroupAction of its own, the way to include it from a robot's bring-up: the launch
arguments an include is given are set in the includer's scope (launch's
include_launch_description.py), so without the group the rear classifier would inherit what
the front one was given.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PACKAGE = 'jetson_classifier'


def classifier_in(namespace, image, model):
    """Include classifier.launch.py in `namespace` on `image`, in a scope of its own."""
    source = PythonLaunchDescriptionSource(os.path.join(
        get_package_share_directory(PACKAGE), 'launch', 'classifier.launch.py'))
    return GroupAction([IncludeLaunchDescription(source, launch_arguments=[
        ('namespace', namespace), ('image', image), ('model', model)])], scoped=True)


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument(
            'front_image', default_value='/front_camera/image_raw',
            description='Front camera topic (sensor_msgs/Image)'),
        DeclareLaunchArgument(
            'front_model', default_value='lite0_int8',
            description='Model of the front classifier (catalog name or ONNX path)'),
        DeclareLaunchArgument(
            'rear_image', default_value='/rear_camera/image_raw',
            description='Rear camera topic (sensor_msgs/Image)'),
        DeclareLaunchArgument(
            'rear_model', default_value='lite0_int8',
            description='Model of the rear classifier (catalog name or ONNX path)'),
    ]
    front = classifier_in('front', LaunchConfiguration('front_image'),
                          LaunchConfiguration('front_model'))
    rear = classifier_in('rear', LaunchConfiguration('rear_image'),
                         LaunchConfiguration('rear_model'))
    return LaunchDescription([GroupAction([*arguments, front, rear], scoped=True)])
