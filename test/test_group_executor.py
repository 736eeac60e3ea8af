"""Two GroupExecutors split one node between two threads by callback group."""

import threading
import time

import pytest
from ros_processes import domain_id

from jetson_classifier.nodes.node_main import GroupExecutor

rclpy = pytest.importorskip('rclpy', reason='rclpy is not installed')
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup  # noqa: E402, I100


@pytest.fixture
def node(monkeypatch):
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    node = rclpy.create_node('group_executor_test', context=context)
    yield node
    node.destroy_node()
    context.try_shutdown()


def test_an_executor_runs_only_the_callbacks_of_its_groups(node):
    mine, other = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
    ran = []
    node.create_timer(0.01, lambda: ran.append('mine'), callback_group=mine)
    node.create_timer(0.01, lambda: ran.append('other'), callback_group=other)
    executor = GroupExecutor(node, lambda group: group is mine)
    for _ in range(10):
        executor.spin_once(timeout_sec=0.1)
    executor.shutdown()
    assert ran == ['mine'] * 10


def test_a_callback_blocked_in_one_thread_does_not_stop_the_other_group(node):
    slow, fast = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
    release = threading.Event()
    ticks = []
    node.create_timer(0.01, lambda: release.wait(5.0), callback_group=slow)
    node.create_timer(0.01, lambda: ticks.append(time.monotonic()), callback_group=fast)
    blocked = GroupExecutor(node, lambda group: group is slow)
    free = GroupExecutor(node, lambda group: group is fast)
    thread = threading.Thread(target=blocked.spin_once, args=(1.0,))
    thread.start()
    start = time.monotonic()
    while time.monotonic() - start < 0.5:
        free.spin_once(timeout_sec=0.1)
    release.set()
    thread.join()
    blocked.shutdown()
    free.shutdown()
    assert len(ticks) >= 20
