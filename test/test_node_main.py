"""run_node, the main() of every node: how a run ends."""

import pytest
import rclpy

from jetson_classifier.nodes.node_main import run_node


def make_node():
    return rclpy.create_node('node_main_test')


def test_a_shutdown_while_the_executor_makes_its_wait_set_ends_with_0():
    def spin_into_the_race(node):
        rclpy.shutdown()  # as rclpy's signal handler does on Ctrl-C
        raise RuntimeError('failed to initialize wait set: the given context is not valid')

    assert run_node(make_node, 'node_main_test', spin=spin_into_the_race) == 0
    assert not rclpy.ok()


def test_an_error_while_the_context_is_up_still_raises():
    def spin_and_fail(node):
        raise RuntimeError('a real failure')

    with pytest.raises(RuntimeError, match='a real failure'):
        run_node(make_node, 'node_main_test', spin=spin_and_fail)
    assert not rclpy.ok()  # shut down all the same
