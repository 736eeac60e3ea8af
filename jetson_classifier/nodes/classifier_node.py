"""
The classifier as a ROS 2 node: `ros2 run jetson_classifier classifier`.

It serves through nodes.serving: loads its model and subscribes at start
(lifecycle_classifier_node is the managed variant). Threads: the callbacks of every camera
and detections input run on one thread of their own, the pipeline has its preprocessing,
inference and loader threads, and the main thread runs the parameter services and the
diagnostics timer.
"""

import signal
import sys

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from jetson_classifier.errors import ClassifierError
from jetson_classifier.nodes.node_main import GroupExecutor, run_node
from jetson_classifier.nodes.serving.classifier_serving import ClassifierServing

NODE_NAME = 'classifier'
# How often the main thread leaves rcl_wait: Python runs signal handlers between bytecodes.
SPIN_CHECK_S = 0.1


class ClassifierNode(Node):
    """Camera frames in; labels, fps, inference time, diagnostics out; models swapped live."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self.serving = ClassifierServing(self)
        try:
            self.serving.configure()
        except BaseException:
            self.serving.close()
            raise
        self.serving.activate()

    def destroy_node(self):
        """Stop serving and release the model, then destroy the node."""
        self.serving.close()
        super().destroy_node()


def _spin(node):
    """Spin everything but the camera callback here; that has its own thread."""
    executor = GroupExecutor(node, lambda group: group is not node.serving.input_group)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_CHECK_S)
    finally:
        executor.shutdown()


def run_classifier(node_class, args):
    """Run a classifier node class until Ctrl-C or SIGTERM; return the exit code."""
    # Both signals raise KeyboardInterrupt here, so the worker threads stop before the context
    # does; rclpy's own handlers would invalidate the publishers under them.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, signal.default_int_handler)
    return run_node(node_class, NODE_NAME, args, spin=_spin,
                    errors=(ClassifierError, ParameterException),
                    signal_handler_options=SignalHandlerOptions.NO)


def main(args=None):
    """Run the classifier node until Ctrl-C or SIGTERM; exit 1 with one line if it cannot start."""
    return run_classifier(ClassifierNode, args)


if __name__ == '__main__':
    sys.exit(main())
