"""A node's statuses on /diagnostics, named and levelled as diagnostic_updater does."""

from typing import Any, Dict, NamedTuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

PERIOD_S = 1.0


class Status(NamedTuple):
    """One status of a report: its task, a pipeline.health.Level, a line, a device, values."""

    task: str
    level: int
    message: str
    hardware_id: str
    values: Dict[str, Any]


class DiagnosticsPublisher:
    """
    Publishes the Statuses `report()` returns every period, each named '<node>: <task>'.

    <node> is the node's fully qualified name, which keeps two nodes of one name in two
    namespaces apart in diagnostic_aggregator and rqt_robot_monitor.
    """

    def __init__(self, node, report, period_s=PERIOD_S):
        self.prefix = f'{node.get_fully_qualified_name()}: '
        self._node, self._report = node, report
        self._publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.timer = node.create_timer(period_s, self.publish)

    def publish(self):
        """Publish the statuses now, in one DiagnosticArray."""
        array = DiagnosticArray(status=[
            DiagnosticStatus(
                level=bytes([int(status.level)]), name=self.prefix + status.task,
                message=status.message, hardware_id=status.hardware_id, values=[
                    KeyValue(key=key,
                             value=f'{value:.2f}' if isinstance(value, float) else str(value))
                    for key, value in status.values.items()])
            for status in self._report()])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
