"""Where vision_msgs is not installed the node still serves ~/label and says why, once."""

import pytest
from ros_processes import domain_id

from jetson_classifier.nodes import classifier_node
from jetson_classifier.nodes.serving import classifier_serving

rclpy = pytest.importorskip('rclpy', reason='rclpy is not installed')


@pytest.fixture
def context(monkeypatch):
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    yield context
    context.try_shutdown()


def test_runs_without_classification_and_label_info_and_logs_it_once(
        monkeypatch, context, capfd, catalog):
    monkeypatch.setattr(classifier_serving, 'vision_msgs', None)
    node = classifier_node.ClassifierNode(context=context)
    try:
        topics = {name for name, _ in node.get_publisher_names_and_types_by_node(
            node.get_name(), node.get_namespace())}
    finally:
        node.destroy_node()
    assert {'/classifier/label', '/classifier/fps', '/classifier/inference_ms',
            '/classifier/active_model', '/diagnostics'} <= topics
    assert not {'/classifier/classification', '/classifier/label_info'} & topics
    assert capfd.readouterr().err.count('vision_msgs is not installed') == 1
