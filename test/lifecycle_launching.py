"""
Drive a managed node over DDS as launch_ros would, by what a launch file registers and emits.

`launch_ros` has no wheel here: its rules for a LifecycleNode's events are kept here, cited
from ros2/launch_ros (launch_ros/launch_ros, the same from Humble to Rolling), and applied to
the stand-in actions that launch_file_reader.visit() lists.
"""

import time

from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState

# The states a lifecycle transition ends in (lifecycle_msgs/msg/State's primary states).
PRIMARY_STATES = ('unconfigured', 'inactive', 'active', 'finalized')


def handles(handler, node, labels):
    """
    Return whether an OnStateTransition handler handles a transition of `node`.

    `labels`: {'transition', 'start_state', 'goal_state'} of a lifecycle_msgs TransitionEvent.
    launch_ros turns each message on the node's transition_event topic into a StateTransition
    event with those labels (actions/lifecycle_node.py, events/lifecycle/state_transition.py);
    the handler matches when its target_lifecycle_node and each label it was given are equal
    to the event's (event_handlers/on_state_transition.py).
    """
    if handler.kind != 'OnStateTransition' or 'matcher' in handler.kwargs:
        raise ValueError(f'no rule for {handler.kind}')
    return (handler.kwargs.get('target_lifecycle_node') in (None, node)
            and all(handler.kwargs.get(key) in (None, label) for key, label in labels.items()))


def asks(event, node):
    """
    Return the transition id a ChangeState event asks of `node`, None when it is not for it.

    launch_ros's LifecycleNode calls its change_state service for each ChangeState event whose
    lifecycle_node_matcher accepts it (actions/lifecycle_node.py), and launch's
    matches_action(action) accepts that action alone (ros2/launch, launch/events/matchers.py).
    """
    matcher = event.kwargs['lifecycle_node_matcher']
    if event.kind != 'ChangeState' or matcher.kind != 'matches_action':
        raise ValueError(f'no rule for {event.kind} with {matcher.kind}')
    return event.kwargs['transition_id'] if matcher.argument(0, 'target_action') is node else None


def drive_as_launch_ros(ros, full_name, executed, timeout_s=60.0):
    """
    Do with a started managed node what launch_ros does with `executed` (visit()'s list).

    Each message on the node's transition_event goes to the registered handlers, each
    ChangeState event for the node becomes a change_state request, and a handle_once handler
    is unregistered once it has handled one (ros2/launch, launch/event_handler.py). Ends when
    every transition asked for has ended; returns the transition ids asked for and the
    (start, goal) states of the transitions seen.
    """
    node = next(action for action, _ in executed if action.kind == 'LifecycleNode')
    handlers = [action.argument(0, 'event_handler') for action, _ in executed
                if action.kind == 'RegisterEventHandler']
    seen, asked = [], []
    subscription = ros.node.create_subscription(
        TransitionEvent, f'{full_name}/transition_event', seen.append, 10)
    client = ros.node.create_client(ChangeState, f'{full_name}/change_state')

    def emit(event):
        transition_id = asks(event, node)
        if transition_id is not None:
            asked.append(transition_id)
            client.call_async(ChangeState.Request(transition=Transition(id=transition_id)))

    try:
        # launch_ros waits for the service, then asks (actions/lifecycle_node.py).
        assert client.wait_for_service(timeout_sec=20.0), f'{full_name}: no change_state'
        for action, _ in executed:
            if action.kind == 'EmitEvent':
                emit(action.kwargs['event'])
        handled, deadline = 0, time.monotonic() + timeout_s
        while sum(m.goal_state.label in PRIMARY_STATES for m in seen) < len(asked):
            assert time.monotonic() < deadline, f'{full_name} did not end {asked}'
            ros.spin_for(0.02)
            for message in seen[handled:]:
                labels = {'transition': message.transition.label,
                          'start_state': message.start_state.label,
                          'goal_state': message.goal_state.label}
                for handler in [h for h in handlers if handles(h, node, labels)]:
                    if handler.kwargs.get('handle_once'):
                        handlers.remove(handler)
                    for entity in handler.kwargs['entities']:
                        assert entity.kind == 'EmitEvent', entity.kind
                        emit(entity.kwargs['event'])
            handled = len(seen)
    finally:
        ros.node.destroy_subscription(subscription)
        ros.node.destroy_client(client)
    return {'asked': asked,
            'transitions': [(m.start_state.label, m.goal_state.label) for m in seen]}
