"""
Launch the classifier node on a camera topic.

    ros2 launch jetson_classifier classifier.launch.py image:=/camera/image_raw model:=lite0_int8

Every parameter comes from `params_file` (default: the package's config/classifier.yaml); the
arguments model, backend, precision and input_transport override it. Exports the Fast DDS
profile variables (the camera profile shipped in config/, unless they are set already) to every
node started from here on: export the same for the camera driver, since it is the publisher's
shared-memory segment that must hold a whole frame.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

PACKAGE = 'jetson_classifier'
# Fast DDS 3.x (Kilted) reads the first, 2.x (Humble, Jazzy) the second.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def generate_launch_description():
    config = os.path.join(get_package_share_directory(PACKAGE), 'config')
    profile_in_environment = EnvironmentVariable(
        PROFILE_VARIABLES[0], default_value=EnvironmentVariable(
            PROFILE_VARIABLES[1],
            default_value=os.path.join(config, 'fastdds_camera_profile.xml')))
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
            'params_file', default_value=os.path.join(config, 'classifier.yaml'),
            description='YAML file with the classifier parameters'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the nodes and their relative topics'),
        DeclareLaunchArgument(
            'dds_profile', default_value=profile_in_environment,
            description='Fast DDS XML profile for the nodes (default: $' + PROFILE_VARIABLES[0]
                        + ', else $' + PROFILE_VARIABLES[1] + ', else the shipped one)'),
    ]
    classifier = Node(
        package=PACKAGE,
        executable='classifier',
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
            },
        ],
        remappings=[('image', image), ('image/compressed', [image, '/compressed'])],
    )
    environment = [SetEnvironmentVariable(name, LaunchConfiguration('dds_profile'))
                   for name in PROFILE_VARIABLES]
    return LaunchDescription(arguments + environment + [classifier])
