"""The managed classifier as a real process, walked through its lifecycle over its services."""

from classifier_testing import image_source, outputs, wait_for_diagnostics
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import pytest
from ros_processes import node_process
from sensor_msgs.msg import Image

NODE = 'jetson_classifier.nodes.lifecycle_classifier_node'


def transition(ros, transition_id):
    """Ask /classifier for a lifecycle transition; return whether it succeeded."""
    client = ros.node.create_client(ChangeState, '/classifier/change_state')
    try:
        assert client.wait_for_service(timeout_sec=20.0)
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return ros.call(lambda: client.call_async(request), 60.0).success
    finally:
        ros.node.destroy_client(client)


def state(ros):
    """Return the label of the lifecycle state /classifier is in: unconfigured, active, ..."""
    client = ros.node.create_client(GetState, '/classifier/get_state')
    try:
        assert client.wait_for_service(timeout_sec=20.0)
        return ros.call(lambda: client.call_async(GetState.Request())).current_state.label
    finally:
        ros.node.destroy_client(client)


def image_subscribers(ros):
    """Return how many nodes subscribe to /image."""
    return ros.node.count_subscribers('/image')


def labels_for(ros, out, seconds):
    """Return how many labels arrive in the next `seconds`."""
    before = len(out['label'])
    ros.spin_for(seconds)
    return len(out['label']) - before


@pytest.mark.slow
def test_configure_activate_deactivate_cleanup_walk_the_managed_classifier(ros):
    out = outputs(ros)
    images = ros.subscribe(Image, 'image')
    with node_process(NODE, ready_text='unconfigured') as node, image_source(rate_hz=10.0):
        assert state(ros) == 'unconfigured'
        assert ros.spin_until(lambda: images, 10.0)
        assert image_subscribers(ros) == 1  # only this test's own listener
        assert labels_for(ros, out, 1.0) == 0

        assert transition(ros, Transition.TRANSITION_CONFIGURE)
        assert state(ros) == 'inactive'
        values = wait_for_diagnostics(ros, out['diagnostics'],
                                      lambda v: v['model'] == 'lite0_int8')
        assert image_subscribers(ros) == 1 and labels_for(ros, out, 1.0) == 0

        assert transition(ros, Transition.TRANSITION_ACTIVATE)
        assert state(ros) == 'active'
        assert ros.spin_until(lambda: image_subscribers(ros) == 2, 10.0)
        assert labels_for(ros, out, 2.0) >= 10

        assert transition(ros, Transition.TRANSITION_DEACTIVATE)
        assert state(ros) == 'inactive'
        ros.spin_for(0.5)  # labels of frames already in the pipeline
        assert labels_for(ros, out, 1.5) == 0
        values = wait_for_diagnostics(ros, out['diagnostics'],
                                      lambda v: v['model'] == 'lite0_int8')
        assert values['model'] == 'lite0_int8', 'deactivate keeps the model'

        assert transition(ros, Transition.TRANSITION_ACTIVATE)
        assert labels_for(ros, out, 2.0) >= 10
        assert transition(ros, Transition.TRANSITION_DEACTIVATE)
        assert transition(ros, Transition.TRANSITION_CLEANUP)
        assert state(ros) == 'unconfigured'
        values = wait_for_diagnostics(
            ros, out['diagnostics'], lambda v: v['model'].startswith('none'))
        assert transition(ros, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert state(ros) == 'finalized'
    assert values['model'] == 'none (cleaned up)', values
    output = node.output()
    assert 'loaded lite0_int8' in output and 'classifying /image' in output


def test_a_model_that_cannot_load_fails_configure_and_leaves_the_node_unconfigured(ros):
    with node_process(NODE, ['-p', 'model:=lite9'], ready_text='unconfigured') as node:
        assert state(ros) == 'unconfigured'
        assert not transition(ros, Transition.TRANSITION_CONFIGURE)
        assert state(ros) == 'unconfigured'
    assert "configure failed: unknown model 'lite9'" in node.output()
