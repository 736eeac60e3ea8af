"""An rclpy executor for some callback groups of one node, so two threads can share a node."""

from rclpy.executors import ShutdownException, SingleThreadedExecutor, TimeoutException


class GroupExecutor(SingleThreadedExecutor):
    """
    Runs the callbacks of `node` whose callback group `accepts(group)`, in the spinning thread.

    rclpy executors spin whole nodes. Two of these split one node between two threads (say,
    its camera callback on one, its parameter services and timers on the other) at the CPU
    cost of a single-threaded executor per thread, where rclpy's MultiThreadedExecutor costs
    about three times as much per callback.
    """

    def __init__(self, node, accepts):
        """Serve the callbacks of `node` in the groups `accepts` returns True for."""
        super().__init__(context=node.context)
        self._node = node
        self._accepts = accepts

    def can_execute(self, entity):
        """Return True for a ready entity of an accepted callback group."""
        return self._accepts(entity.callback_group) and super().can_execute(entity)

    def spin_once(self, timeout_sec=None):
        """Run at most one ready callback, waiting up to `timeout_sec` seconds for one."""
        try:
            handler, _, _ = self.wait_for_ready_callbacks(timeout_sec, [self._node])
        except (ShutdownException, TimeoutException):
            return
        handler()
        handler.result()
