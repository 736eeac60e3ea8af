"""
ROS 2 node: classify camera frames, publish labels and the measured fps, swap models live.

Threads: an input thread runs the image callback (its own callback group) and drops each
frame into a one-slot mailbox; a preprocessing thread converts and preprocesses the newest
frame while the inference thread runs the model on the frame before it and publishes. So the
node works on the newest frame, never falls behind its camera, and goes as fast as its slower
stage. The main thread runs the other callbacks: parameters and diagnostics. A parameter
change that needs another model loads it there while frames keep arriving and the current
model keeps serving, swaps between two frames, and answers the SetParameters call with the
real outcome: successful only once the new model serves.
"""

import signal
import sys
import threading
import time
from typing import Any, NamedTuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32, String

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import BACKEND_NAMES
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.nodes.group_executor import GroupExecutor
from jetson_classifier.nodes.node_main import run_node
from jetson_classifier.pipeline.frame_mailbox import FrameMailbox
from jetson_classifier.pipeline.frame_stats import FrameStats
from jetson_classifier.pipeline.image_conversion import compressed_to_rgb, image_to_rgb

try:
    from vision_msgs import msg as vision_msgs
except ImportError:
    vision_msgs = None

NODE_NAME = 'classifier'
TRANSPORTS = ('raw', 'compressed')
PRECISIONS = ('', 'fp32', 'fp16', 'int8')
CHOICES = {'backend': BACKEND_NAMES, 'precision': PRECISIONS, 'input_transport': TRANSPORTS}
# Parameters that need another Classifier object when they change.
MODEL_PARAMETERS = ('model', 'model_dir', 'catalog', 'backend', 'precision', 'threads')
WARN_PERIOD_S = 5.0
DIAGNOSTICS_PERIOD_S = 1.0
# How often a spinning thread leaves rcl_wait: to see Ctrl-C (Python runs signal handlers
# between bytecodes) or a request to stop.
SPIN_CHECK_S = 0.1
LABEL_INFO_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _descriptor(description, constraints='', read_only=False, **ranges):
    return ParameterDescriptor(description=description, additional_constraints=constraints,
                               read_only=read_only, **ranges)


def _integers(low, high):
    return {'integer_range': [IntegerRange(from_value=low, to_value=high, step=1)]}


def _floats(low, high):
    return {'floating_point_range': [FloatingPointRange(from_value=low, to_value=high)]}


PARAMETERS = {
    'model': ('lite0_int8', _descriptor(
        'Catalog name (config/models.yaml) or path to an ONNX file. Set at runtime, the new '
        'model loads while the old one serves; the call answers once it serves, or refuses '
        'with the reason and the old model stays')),
    'model_dir': ('', _descriptor(
        "Folder of the catalog's relative model files; empty: $JETSON_CLASSIFIER_MODEL_DIR "
        'or ~/.cache/jetson_classifier/models')),
    'catalog': ('', _descriptor('Model catalog YAML; empty: the shipped config/models.yaml')),
    'backend': ('auto', _descriptor('Inference backend', ', '.join(BACKEND_NAMES))),
    'precision': ('', _descriptor(
        "Arithmetic TensorRT builds for; empty: the model's own", 'empty, fp32, fp16 or int8')),
    'threads': (0, _descriptor('CPU inference threads; 0: all cores', **_integers(0, 1024))),
    'top_k': (5, _descriptor('Hypotheses per ~/classification message', **_integers(1, 1000))),
    'score_threshold': (0.0, _descriptor(
        'Leave out hypotheses below this probability', **_floats(0.0, 1.0))),
    'class_groups': ('', _descriptor(
        'Class group file or shipped name (imagenet_coarse, conveyor_belt): labels become '
        "group names; empty: the model's labels")),
    'input_transport': ('raw', _descriptor(
        'raw: sensor_msgs/Image on image; compressed: CompressedImage on image/compressed',
        'raw or compressed', read_only=True)),
    'fps_window': (2.0, _descriptor('Seconds of labels ~/fps averages over',
                                    **_floats(0.1, 60.0))),
}


def _check_choices(values):
    """Raise ClassifierError naming the parameter whose value is not one of its choices."""
    for name, choices in CHOICES.items():
        if values[name] not in choices:
            allowed = ', '.join(map(repr, choices))
            raise ClassifierError(f'parameter {name}: {values[name]!r} is not one of {allowed}')


def _load_classifier(values):
    """Load the Classifier the parameter `values` describe; return it and its load time (ms)."""
    start = time.monotonic()
    classifier = Classifier(
        values['model'], backend=values['backend'], catalog=values['catalog'] or None,
        model_dir=values['model_dir'] or None, threads=values['threads'] or None,
        precision=values['precision'] or None, class_groups=values['class_groups'] or None)
    return classifier, (time.monotonic() - start) * 1000.0


def _describe(classifier):
    """Return what diagnostics say about a loaded model (read once: it may be closed later)."""
    return {'model': classifier.name, 'model file': str(classifier.model_path),
            'backend': classifier.backend.name, 'device': classifier.backend.device,
            'precision': classifier.backend.precision,
            'tensorrt fallback': classifier.backend.fallback_reason or ''}


def _stamp_s(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


class _Prepared(NamedTuple):
    """A frame converted and preprocessed for `classifier`, waiting for inference."""

    header: Any
    received_s: float
    rgb: Any
    classifier: Classifier
    batch: Any


class ClassifierNode(Node):
    """
    Camera frames in; labels, fps, inference time, diagnostics out; models swapped live.

    The node spins its image callback (callback group `input_group`) on a thread of its own:
    spin the rest with main()'s executor, or any that leaves `input_group` alone.
    """

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._values = {name: self.declare_parameter(name, default, descriptor).value
                        for name, (default, descriptor) in PARAMETERS.items()}
        _check_choices(self._values)
        self._classifier, load_ms = _load_classifier(self._values)
        self._model_fields = _describe(self._classifier)
        self._model_lock = threading.Lock()
        self._switches = self._refused_switches = 0
        self._last_load_ms = load_ms
        self._stats = FrameStats(self._values['fps_window'])
        self._reported = {}
        self._frames = FrameMailbox()
        self._prepared = FrameMailbox()

        self._label_pub = self.create_publisher(String, '~/label', 10)
        self._fps_pub = self.create_publisher(Float32, '~/fps', 10)
        self._inference_pub = self.create_publisher(Float32, '~/inference_ms', 10)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        if vision_msgs is None:
            self.get_logger().warning(
                'vision_msgs is not installed: running without ~/classification and '
                '~/label_info (install ros-<distro>-vision-msgs)')
        else:
            self._classification_pub = self.create_publisher(
                vision_msgs.Classification, '~/classification', 10)
            self._label_info_pub = self.create_publisher(
                vision_msgs.LabelInfo, '~/label_info', LABEL_INFO_QOS)
            self._publish_label_info()

        compressed = self._values['input_transport'] == 'compressed'
        self._to_rgb = self._compressed_to_rgb if compressed else self._image_to_rgb
        self._diagnostics_timer = self.create_timer(DIAGNOSTICS_PERIOD_S,
                                                    self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._workers = [threading.Thread(target=self._prepare_frames, name='preprocessing'),
                         threading.Thread(target=self._infer_frames, name='inference')]
        for worker in self._workers:
            worker.start()
        self.input_group = MutuallyExclusiveCallbackGroup()
        self._image_sub = self.create_subscription(
            CompressedImage if compressed else Image,
            'image/compressed' if compressed else 'image', self._on_image,
            qos_profile_sensor_data, callback_group=self.input_group)
        self._input_executor = GroupExecutor(self, lambda group: group is self.input_group)
        self._input_spinning = True
        self._input_thread = threading.Thread(target=self._spin_input, name='image input')
        self._input_thread.start()
        self.get_logger().info(
            f'classifying {self._image_sub.topic_name} ({self._values["input_transport"]}) '
            f'with {self._describe_model()}, loaded in {load_ms:.0f} ms')

    def destroy_node(self):
        """Stop the input and worker threads, release the model, then destroy the node."""
        self._input_spinning = False
        self._input_thread.join()
        self._input_executor.shutdown()
        self._frames.close()
        for worker in self._workers:
            worker.join()
        self._classifier.close()
        super().destroy_node()

    def _describe_model(self):
        fields = self._model_fields
        groups = self._classifier.class_groups
        return (f'{fields["model"]} on {fields["backend"]} ({fields["device"]}, '
                f'{fields["precision"]})' + (f', groups {groups}' if groups else ''))

    def _spin_input(self):
        while self._input_spinning and self.context.ok():
            self._input_executor.spin_once(timeout_sec=SPIN_CHECK_S)

    def _on_image(self, msg):
        now_s = time.monotonic()
        self._stats.frame_received(_stamp_s(msg.header.stamp), now_s)
        if self._frames.put((msg, now_s)):
            self._stats.frame_dropped()

    @staticmethod
    def _image_to_rgb(msg):
        return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                            msg.is_bigendian)

    @staticmethod
    def _compressed_to_rgb(msg):
        return compressed_to_rgb(msg.format, msg.data)

    def _prepare_frames(self):
        """Preprocessing thread: convert and preprocess the newest frame for the current model."""
        while (item := self._frames.take()) is not None:
            msg, received_s = item
            classifier = self._classifier
            try:
                rgb = self._to_rgb(msg)
                batch = classifier.preprocess([rgb])
            # A bad frame must not stop the node.
            except Exception as error:
                self._reject(msg.header, error)
                continue
            if self._prepared.put(_Prepared(msg.header, received_s, rgb, classifier, batch)):
                self._stats.frame_dropped()
        self._prepared.close()

    def _infer_frames(self):
        """Inference thread: classify the newest prepared frame and publish, until closed."""
        while (frame := self._prepared.take()) is not None:
            values = self._values
            try:
                with self._model_lock:
                    classifier = self._classifier
                    batch = (frame.batch if frame.classifier is classifier
                             else classifier.preprocess([frame.rgb]))
                    probabilities = classifier.infer(batch)
                    inference_ms = classifier.last_inference_ms
                predictions = classifier.predictions(
                    probabilities, values['top_k'], values['score_threshold'])[0]
            # Nor must a backend failing on one frame.
            except Exception as error:
                self._reject(frame.header, error)
                continue
            self._publish_predictions(frame.header, predictions, inference_ms, frame.received_s)

    def _reject(self, header, error):
        self._stats.frame_rejected(f'frame stamped {_stamp_s(header.stamp):.3f} rejected: '
                                   f'{error}')
        self.get_logger().warning(f'frame rejected: {error}',
                                  throttle_duration_sec=WARN_PERIOD_S)

    def _publish_predictions(self, header, predictions, inference_ms, received_s):
        if vision_msgs is not None:
            self._classification_pub.publish(vision_msgs.Classification(
                header=header, results=[
                    vision_msgs.ObjectHypothesis(class_id=p.label, score=p.score)
                    for p in predictions]))
        if predictions:
            self._label_pub.publish(String(data=predictions[0].label))
        fps = self._stats.frame_classified(received_s, time.monotonic(), inference_ms)
        self._fps_pub.publish(Float32(data=fps))
        self._inference_pub.publish(Float32(data=inference_ms))

    def _on_set_parameters(self, parameters):
        changed = {p.name: p.value for p in parameters if p.name in self._values}
        wanted = {**self._values, **changed}
        try:
            _check_choices(wanted)
            if any(wanted[name] != self._values[name] for name in MODEL_PARAMETERS):
                self._switch_model(wanted)
            elif wanted['class_groups'] != self._values['class_groups']:
                self._switch_class_groups(wanted['class_groups'])
        # The parameter call must answer; an unexpected load failure is a refusal too.
        except Exception as error:
            reason = str(error) if isinstance(error, ClassifierError) else repr(error)
            self._refused_switches += 1
            self._stats.error(f'refused {changed}: {reason}')
            self.get_logger().error(f'refused {changed}, still {self._describe_model()}: '
                                    f'{reason}')
            return SetParametersResult(successful=False, reason=reason)
        labels_changed = any(wanted[name] != self._values[name]
                             for name in (*MODEL_PARAMETERS, 'class_groups', 'score_threshold'))
        self._values = wanted
        self._stats.set_window(wanted['fps_window'])
        if labels_changed:
            self._publish_label_info()
        return SetParametersResult(successful=True)

    def _switch_model(self, values):
        """Load the model `values` describe while the current one serves, then swap."""
        classifier, load_ms = _load_classifier(values)
        before = self._describe_model()
        with self._model_lock:
            old, self._classifier = self._classifier, classifier
        self._model_fields = _describe(classifier)
        old.close()
        self._switches += 1
        self._last_load_ms = load_ms
        self.get_logger().info(
            f'switched model: {before} -> {self._describe_model()}, loaded in {load_ms:.0f} ms')

    def _switch_class_groups(self, groups):
        """Answer with `groups` (file, shipped name or empty) from the next frame on."""
        self._classifier.set_class_groups(groups or None)
        self.get_logger().info(f'class groups now {groups or "off"}: '
                               f'{len(self._classifier.labels)} labels')

    def _publish_label_info(self):
        if vision_msgs is None:
            return
        msg = vision_msgs.LabelInfo()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.class_map = [vision_msgs.VisionClass(class_id=index, class_name=label)
                         for index, label in enumerate(self._classifier.labels)]
        msg.threshold = float(self._values['score_threshold'])
        self._label_info_pub.publish(msg)

    def _publish_diagnostics(self):
        snapshot = self._stats.snapshot(time.monotonic())
        fields = {**self._model_fields,
                  'class groups': str(self._classifier.class_groups or ''),
                  **snapshot,
                  'model switches': self._switches,
                  'refused switches': self._refused_switches,
                  'last load ms': self._last_load_ms}
        news = self._news(fields)
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if news else DiagnosticStatus.OK,
            name=f'{self.get_name()}: classification',
            hardware_id=fields['device'],
            message='; '.join([f'{fields["model"]} at {snapshot["fps"]:.1f} fps', *news]),
            values=[KeyValue(key=key, value=f'{value:.2f}' if isinstance(value, float)
                             else str(value)) for key, value in fields.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def _news(self, fields):
        """Return what went wrong since the last report (counters that grew), in words."""
        news = []
        for key in ('frames rejected', 'frames lost upstream', 'refused switches'):
            grown = fields[key] - self._reported.get(key, 0)
            if grown:
                news.append(f'{grown} {key} since last report')
            self._reported[key] = fields[key]
        return news


def _spin(node):
    """Spin the node's parameters and timers here; its camera input has its own thread."""
    executor = GroupExecutor(node, lambda group: group is not node.input_group)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_CHECK_S)
    finally:
        executor.shutdown()


def main(args=None):
    """Run the classifier node until Ctrl-C or SIGTERM; exit 1 with one line if it cannot start."""
    # Both signals raise KeyboardInterrupt here, so the worker threads stop before the context
    # does; rclpy's own handlers would invalidate the publishers under them.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, signal.default_int_handler)
    return run_node(ClassifierNode, NODE_NAME, args, spin=_spin,
                    errors=(ClassifierError, ParameterException),
                    signal_handler_options=SignalHandlerOptions.NO)


if __name__ == '__main__':
    sys.exit(main())
