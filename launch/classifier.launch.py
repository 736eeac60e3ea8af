"""
Launch the classifier node on a camera topic.

    ros2 launch jetson_classifier classifier.launch.py image:=/camera/image_raw model:=lite0_int8

Every parameter comes from `params_file` (default: the package's config/classifier.yaml); the
arguments model, backend, precision, input_transport and use_sim_time override it. The node
gets the Fast DDS camera profile (common.launch.py): export the same for the camera driver,
since it is the publisher's shared-memory segment that must hold a whole frame.

Everything here is scoped: a bring-up that includes this file keeps none of its launch
configurations or environment variables (only what it passes as launch_arguments, which
IncludeLaunchDescription sets in the includer's scope: wrap the include in a GroupAction to
scope those too, as multi_classifier.launch.py does).
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


def classifier_actions(node_action=Node, executable='classifier'):
    """
    Return the actions that start a classifier: common.launch.py, the arguments, the node last.

    lifecycle_classifier.launch.py passes LifecycleNode (launch_ros's Node with the same
    keywords) and its executable: the managed classifier gets the same arguments and parameters.
    """
    share = get_package_share_directory(PACKAGE)
    image = LaunchConfiguration('image')
    arguments = [
        DeclareLaunchArgument(
            'image', default_value='image',
            description='Camera topic (sensor_msgs/Image); with input_transport:=compressed '
                        'the classifier reads <image>/compressed'),
        DeclareLaunchArgument(
            'model', default_value='lite0_int8',
            description='Catalog name (config/models.yaml) or ONNX path of the first model'),
        DeclareLaunchArgument(
            'backend', default_value='auto', choices=['auto', 'tensorrt', 'onnxruntime'],
            description='Inference backend; auto: the fastest available'),
        DeclareLaunchArgument(
            'precision', default_value='', choices=['', 'fp32', 'fp16', 'int8'],
            description="TensorRT engine precision; empty: the model's own"),
        DeclareLaunchArgument(
            'input_transport', default_value='raw', choices=['raw', 'compressed'],
            description='raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage'),
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'classifier.yaml'),
            description='YAML file with the classifier parameters'),
    ]
    classifier = node_action(
        package=PACKAGE,
        executable=executable,
        name='classifier',
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=[
            LaunchConfiguration('params_file'),
            {
                'model': ParameterValue(LaunchConfiguration('model'), value_type=str),
                'backend': ParameterValue(LaunchConfiguration('backend'), value_type=str),
                'precision': ParameterValue(LaunchConfiguration('precision'), value_type=str),
                'input_transport': ParameterValue(
                    LaunchConfiguration('input_transport'), value_type=str),
                'use_sim_time': ParameterValue(
                    LaunchConfiguration('use_sim_time'), value_type=bool),
            },
        ],
        ros_arguments=['--log-level', LaunchConfiguration('log_level')],
        remappings=[('image', image), ('image/compressed', [image, '/compressed'])],
    )
    common = IncludeLaunchDescription(PythonLaunchDescriptionSource(
        os.path.join(share, 'launch', 'common.launch.py')))
    return [common, *arguments, classifier]


def generate_launch_description():
    # scoped=True: launch pushes the launch configurations and the environment before these
    # actions and pops them after (launch/actions/group_action.py, Humble to Rolling).
    return LaunchDescription([GroupAction(classifier_actions(), scoped=True)])
