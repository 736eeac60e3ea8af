"""The `main()` every node of the package shares: init, spin, a clean exit."""

import rclpy
from rclpy.executors import ExternalShutdownException

from jetson_classifier.errors import ClassifierError


def run_node(node_class, name, args=None, spin=rclpy.spin, errors=(ClassifierError,),
             **init_options):
    """
    Create `node_class()` and `spin` it; return the process's exit code.

    Ctrl-C (or a shutdown from outside) ends it with 0 and no traceback; one of `errors`
    (a bad parameter, a missing file) is logged under `name` as one fatal line and ends it
    with 1.
    """
    rclpy.init(args=args, **init_options)
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
    return 0
