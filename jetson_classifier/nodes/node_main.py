"""The `main()` every node of the package shares: init, spin, a clean exit."""

import logging

import rclpy
from rclpy.executors import ExternalShutdownException
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

    Ctrl-C (or a shutdown from outside) ends it with 0 and no traceback; one of `errors`
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
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        package_logger.removeHandler(handler)
    return 0
