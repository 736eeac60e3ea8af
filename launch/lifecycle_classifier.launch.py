"""
Launch the managed classifier (lifecycle_classifier) and drive it to active.

    ros2 launch jetson_classifier lifecycle_classifier.launch.py image:=/camera/image_raw
    ros2 launch jetson_classifier lifecycle_classifier.launch.py autostart:=false

Every classifier.launch.py argument works here: its actions are reused with launch_ros's
LifecycleNode. With autostart:=true (the default) launch asks the node to configure (load the
model) as it starts, and to activate once that configure has left it inactive; it does so
once, then the transitions are the operator's (`ros2 lifecycle set /classifier deactivate`).
A configure that fails (an unknown model) leaves the node unconfigured, logged by the node
("configure failed: ...") and by launch_ros ("Failed to make transition
'TRANSITION_CONFIGURE'"), and nothing asks it to activate. autostart:=false leaves it
unconfigured for a lifecycle manager. Scoped like classifier.launch.py.
"""

import os
import runpy

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, GroupAction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

# Beside this file both in the source tree and in share/jetson_classifier/launch.
CLASSIFIER_LAUNCH = os.path.join(os.path.dirname(__file__), 'classifier.launch.py')


def change_state(node, transition_id):
    """Return the event on which launch_ros asks `node` for a lifecycle transition."""
    return ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition_id)


def generate_launch_description():
    classifier_actions = runpy.run_path(CLASSIFIER_LAUNCH)['classifier_actions']
    *shared, classifier = classifier_actions(LifecycleNode, 'lifecycle_classifier')
    autostart = IfCondition(LaunchConfiguration('autostart'))
    argument = DeclareLaunchArgument(
        'autostart', default_value='true', choices=['true', 'false'],
        description='Configure the classifier (load the model), then activate it; false: '
                    'leave it unconfigured for a lifecycle manager')
    # Registered before the node starts, so that the configure's outcome finds it; matched on
    # the state labels of the node's transition_event (ros2/rcl, rcl_lifecycle/src/
    # default_state_machine.c, Humble on): configuring -> inactive is a configure that worked.
    activate_once_configured = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=classifier, start_state='configuring', goal_state='inactive',
        entities=[EmitEvent(event=change_state(classifier, Transition.TRANSITION_ACTIVATE))],
        handle_once=True), condition=autostart)
    configure = EmitEvent(event=change_state(classifier, Transition.TRANSITION_CONFIGURE),
                          condition=autostart)
    return LaunchDescription([GroupAction(
        [*shared, argument, activate_once_configured, classifier, configure], scoped=True)])
