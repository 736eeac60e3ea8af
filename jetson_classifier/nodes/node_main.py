"""
How the package's nodes run: one main() and one node over two threads.

run_node is the main() every node shares (init, spin, a clean exit); GroupExecutor splits
one node over two threads.
"""

import logging

import rclpy
from rclpy.executors import (
    ExternalShutdownException, ShutdownException, SingleThreadedExecutor, TimeoutException)
from rclpy.logging import LoggingSeverity

from jetson_classifier.errors import ClassifierError

_SEVERITIES = ((logging.CRITICAL, LoggingSeverity.FATAL), (logging.ERROR, LoggingSeverity.ERROR),
               (logging.WARNING, LoggingSeverity.WARN), (logging.INFO, LoggingSeverity.INFO))


class RosLogHandler(logging.Handler):
    """Writes Python log records (engine builds, TensorRT fallbacks) as lines of a ROS logger."""

    def __init__(self, ros_logger):
        super().__init__()
        self._ros_logger = ros_logger

    def emit(self, record):
        severity = next((ros for python, ros in _SEVERITIES if record.levelno >= python),
                        LoggingSeverity.DEBUG)
        self._ros_logger.log(self.format(record), severity)


def run_node(node_class, name, args=None, spin=rclpy.spin, errors=(ClassifierError,),
             **init_options):
    """
    Create `node_class()` and `spin` it; return the process's exit code.

    Ctrl-C (or a shutdown from outside) ends it with 0 and no traceback, even when the
    executor was making its wait set as the context went down; one of `errors`
    (a bad parameter, a missing file) is logged under `name` as one fatal line and ends it
    with 1. The package's Python log records, INFO and up, become ROS log lines of `name`.
    """
    rclpy.init(args=args, **init_options)
    package_logger = logging.getLogger('jetson_classifier')
    handler = RosLogHandler(rclpy.logging.get_logger(name))
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    node = None
    try:
        node = node_class()
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as error:
        rclpy.logging.get_logger(name).fatal(str(error))
        return 1
    except Exception:
        # Ctrl-C shuts the context down from rclpy's signal handler; an executor making its
        # wait set just then raises RCLError "the given context is not valid" (ros2/ros2cli
        # PR 854). Stopping is what was asked for; any other error still ends with a traceback.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        package_logger.removeHandler(handler)
    return 0


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
