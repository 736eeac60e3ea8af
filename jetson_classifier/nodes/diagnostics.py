"""One node's status on /diagnostics, named and levelled as diagnostic_updater does."""

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

PERIOD_S = 1.0


class DiagnosticsPublisher:
    """
    Publishes `report()` as the status '<node's fully qualified name>: <task>' every period.

    The fully qualified name keeps two nodes of one name in two namespaces apart in
    diagnostic_aggregator and rqt_robot_monitor. `report()` returns (level, message,
    hardware_id, values): a pipeline.health.Level, a line, a device, {key: value}.
    """

    def __init__(self, node, task, report, period_s=PERIOD_S):
        self.name = f'{node.get_fully_qualified_name()}: {task}'
        self._node, self._report = node, report
        self._publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.timer = node.create_timer(period_s, self.publish)

    def publish(self):
        """Publish the status now."""
        level, message, hardware_id, values = self._report()
        status = DiagnosticStatus(
            level=bytes([int(level)]), name=self.name, message=message,
            hardware_id=hardware_id, values=[
                KeyValue(key=key, value=f'{value:.2f}' if isinstance(value, float) else str(value))
                for key, value in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
