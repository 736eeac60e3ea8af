"""A node's statuses on /diagnostics, named and levelled as diagnostic_updater does."""

from typing import Any, Callable, Dict, List, NamedTuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

PERIOD_S = 1.0


class Status(NamedTuple):
    """One status: its task, a pipeline.health.Level, a line, a device, {key: value}."""

    task: str
    level: int
    message: str
    hardware_id: str
    values: Dict[str, Any]


class DiagnosticsPublisher:
    """
    Publishes `report()` as the status '<node's fully qualified name>: <task>' every period.

    The fully qualified name keeps two nodes of one name in two namespaces apart in
    diagnostic_aggregator and rqt_robot_monitor. `report()` returns (level, message,
    hardware_id, values): a pipeline.health.Level, a line, a device, {key: value}. `more()`,
    if given, returns further Statuses of the node (one per camera, say), published with it.
    """

    def __init__(self, node, task, report, period_s=PERIOD_S,
                 more: Callable[[], List[Status]] = None):
        self.prefix = f'{node.get_fully_qualified_name()}: '
        self.name = self.prefix + task
        self._node, self._task, self._report = node, task, report
        self._more = more or list
        self._publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.timer = node.create_timer(period_s, self.publish)

    def publish(self):
        """Publish the statuses now, in one DiagnosticArray."""
        statuses = [Status(self._task, *self._report()), *self._more()]
        array = DiagnosticArray(status=[
            DiagnosticStatus(
                level=bytes([int(status.level)]), name=self.prefix + status.task,
                message=status.message, hardware_id=status.hardware_id, values=[
                    KeyValue(key=key,
                             value=f'{value:.2f}' if isinstance(value, float) else str(value))
                    for key, value in status.values.items()])
            for status in statuses])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
