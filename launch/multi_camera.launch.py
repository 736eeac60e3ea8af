"""
Launch one classifier on several cameras: one model, one batch of every camera's newest frame.

    ros2 launch jetson_classifier multi_camera.launch.py namespace:=cell
    ros2 launch jetson_classifier multi_camera.launch.py params_file:=/path/to/my_cell.yaml

The cameras (and each one's roi and detections input) come from `params_file`, by default
the picking cell in config/picking_cell.yaml: camera c is read on c/image in the
classifier's namespace and labelled on ~/c/classification, ~/c/label, ~/c/fps (or
~/c/detections). Put the camera drivers' topics there (namespace:=...) or remap them in your
own launch file. Every classifier.launch.py argument works here too; tradeoff.launch.py
takes the same params_file for a switcher on top. Scoped like multi_classifier.launch.py:
an includer keeps none of this file's launch configurations.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PACKAGE = 'jetson_classifier'


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    params_file = DeclareLaunchArgument(
        'params_file', default_value=os.path.join(share, 'config', 'picking_cell.yaml'),
        description='YAML file with the classifier parameters, its cameras among them')
    classifier = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'classifier.launch.py')),
        launch_arguments=[('params_file', LaunchConfiguration('params_file'))])
    return LaunchDescription([GroupAction([params_file, classifier], scoped=True)])
