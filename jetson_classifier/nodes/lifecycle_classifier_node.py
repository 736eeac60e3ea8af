"""
The classifier as a managed node: `ros2 run jetson_classifier lifecycle_classifier`.

configure loads the model (and builds a TensorRT engine), activate subscribes and serves,
deactivate stops serving and keeps the model, cleanup releases it; the lifecycle services
answer on the main thread like the parameter services.
"""

import sys

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from jetson_classifier.errors import ClassifierError
from jetson_classifier.nodes.classifier_node import NODE_NAME, run_classifier
from jetson_classifier.nodes.serving.classifier_serving import ClassifierServing


class LifecycleClassifierNode(LifecycleNode):
    """The classifier as a managed node: each step of serving is a lifecycle transition."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self.serving = ClassifierServing(self)
        self.get_logger().info('unconfigured: configure loads the model, activate serves')

    def on_configure(self, state):
        """Load the model; FAILURE (logged with the reason) leaves the node unconfigured."""
        try:
            self.serving.configure()
        except ClassifierError as error:
            self.get_logger().error(f'configure failed: {error}')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state):
        """Subscribe to the camera and serve."""
        self.serving.activate()
        return super().on_activate(state)

    def on_deactivate(self, state):
        """Stop serving; the model stays loaded."""
        self.serving.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        """Release the model."""
        self.serving.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        """Release the model on the way out, from whatever state."""
        self.serving.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self):
        """Stop the camera thread and release everything, then destroy the node."""
        self.serving.close()
        super().destroy_node()


def main(args=None):
    """Run the managed classifier (unconfigured until told) until Ctrl-C or SIGTERM."""
    return run_classifier(LifecycleClassifierNode, args)


if __name__ == '__main__':
    sys.exit(main())
