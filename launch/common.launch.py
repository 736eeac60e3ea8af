"""
What every node started by jetson_classifier's launch files shares: a building block.

Declares `namespace`, `use_sim_time`, `log_level` and `dds_profile`, and sets the one Fast DDS
profile variable the running distribution reads. It is not scoped on purpose: the other launch
files include it first inside their own scoped GroupAction, so that all of it holds for their
nodes and none of it for the launch file that includes them.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration

PACKAGE = 'jetson_classifier'
# Fast DDS 3 (Kilted on) reads the first and warns that the second is deprecated; Fast DDS 2
# (Humble, Iron, Jazzy) reads only the second. Every sourced ROS 2 install sets ROS_DISTRO.
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def generate_launch_description():
    fast_dds_2 = os.environ.get('ROS_DISTRO') in FAST_DDS_2_DISTROS
    read, other = reversed(PROFILE_VARIABLES) if fast_dds_2 else PROFILE_VARIABLES
    shipped = os.path.join(get_package_share_directory(PACKAGE), 'config',
                           'fastdds_camera_profile.xml')
    return LaunchDescription([
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the nodes and their relative topics'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Use /clock (a bag replayed with --clock, a simulator) as time'),
        DeclareLaunchArgument(
            'log_level', default_value='info', choices=['debug', 'info', 'warn', 'error', 'fatal'],
            description='Logging level of the nodes'),
        DeclareLaunchArgument(
            'dds_profile', default_value=EnvironmentVariable(
                read, default_value=EnvironmentVariable(other, default_value=shipped)),
            description=f'Fast DDS XML profile for the nodes, set as ${read} (default: what '
                        f'the robot exported as ${read}, else ${other}, else the shipped one)'),
        SetEnvironmentVariable(read, LaunchConfiguration('dds_profile')),
    ])
