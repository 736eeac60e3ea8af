"""
The classifier's ROS side: parameters, the camera subscription, labels, diagnostics, switches.

One ClassifierServing serves both the plain node (configured and active from the start) and
the managed one (configure, activate, deactivate and cleanup are lifecycle transitions). The
work itself is a pipeline.FramePipeline. A model change is checked at once (a name that the
catalog lacks, a missing or unreadable file is refused in the SetParameters answer), then
built on the pipeline's loader thread while the old model serves, so parameter services and
diagnostics keep answering through a minutes-long TensorRT build. The outcome is published on
`~/active_model`; a model that fails to build is logged, counted, and the `model` parameter
returns to the model that serves.
"""

import threading
import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32, String

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import BACKEND_NAMES
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.classifier import class_groups_path, Classifier, load_model
from jetson_classifier.nodes.diagnostics import DiagnosticsPublisher
from jetson_classifier.nodes.group_executor import GroupExecutor
from jetson_classifier.nodes.parameters import descriptor, LATCHED
from jetson_classifier.pipeline.frame_pipeline import FramePipeline
from jetson_classifier.pipeline.health import Health
from jetson_classifier.pipeline.image_conversion import compressed_to_rgb, image_to_rgb

try:
    from vision_msgs import msg as vision_msgs
except ImportError:
    vision_msgs = None

CAMERA = ''
TRANSPORTS = ('raw', 'compressed')
PRECISIONS = ('', 'fp32', 'fp16', 'int8')
CHOICES = {'backend': BACKEND_NAMES, 'precision': PRECISIONS, 'input_transport': TRANSPORTS}
# Parameters that need another Classifier object when they change.
MODEL_PARAMETERS = ('model', 'model_dir', 'catalog', 'backend', 'precision', 'threads')
WARN_PERIOD_S = 5.0
# How often the camera thread leaves rcl_wait to see a request to stop.
SPIN_CHECK_S = 0.1

PARAMETERS = {
    'model': ('lite0_int8', descriptor(
        'Catalog name (config/models.yaml) or path to an ONNX file. Set at runtime, a name or '
        'file that cannot be read is refused at once; otherwise the new model is built while '
        'the old one serves, and ~/active_model says when it serves (or that it failed)')),
    'model_dir': ('', descriptor(
        "Folder of the catalog's relative model files; empty: $JETSON_CLASSIFIER_MODEL_DIR "
        'or ~/.cache/jetson_classifier/models')),
    'catalog': ('', descriptor('Model catalog YAML; empty: the shipped config/models.yaml')),
    'backend': ('auto', descriptor('Inference backend', ', '.join(BACKEND_NAMES))),
    'precision': ('', descriptor(
        "Arithmetic TensorRT builds for; empty: the model's own", 'empty, fp32, fp16 or int8')),
    'threads': (0, descriptor('CPU inference threads; 0: all cores', integers=(0, 1024))),
    'top_k': (5, descriptor('Hypotheses per ~/classification message', integers=(1, 1000))),
    'score_threshold': (0.0, descriptor(
        'Leave out hypotheses below this probability', floats=(0.0, 1.0))),
    'class_groups': ('', descriptor(
        'Class group file or shipped name (imagenet_coarse, conveyor_belt): labels become '
        "group names; empty: the model's labels")),
    'input_transport': ('raw', descriptor(
        'raw: sensor_msgs/Image on image; compressed: CompressedImage on image/compressed',
        'raw or compressed', read_only=True)),
    'fps_window': (2.0, descriptor('Seconds of labels ~/fps averages over',
                                   floats=(0.1, 60.0))),
    'stale_after_s': (3.0, descriptor(
        'Diagnostics turn ERROR after this long without a frame while subscribed, and stay '
        'WARN this long after frames were rejected or a switch refused', floats=(0.1, 3600.0))),
}


def check_choices(values):
    """Raise ClassifierError naming the parameter whose value is not one of its choices."""
    for name, choices in CHOICES.items():
        if values[name] not in choices:
            allowed = ', '.join(map(repr, choices))
            raise ClassifierError(f'parameter {name}: {values[name]!r} is not one of {allowed}')


def make_classifier(values):
    """Build the Classifier the parameter `values` describe (minutes for a TensorRT build)."""
    return Classifier(
        values['model'], backend=values['backend'], catalog=values['catalog'] or None,
        model_dir=values['model_dir'] or None, threads=values['threads'] or None,
        precision=values['precision'] or None, class_groups=values['class_groups'] or None)


def check_model(values):
    """Read the model file and class groups `values` name; ClassifierError says what is wrong."""
    _, info = load_model(values['model'], values['catalog'] or None, values['model_dir'] or None)
    if values['class_groups']:
        load_class_groups(class_groups_path(values['class_groups'])).bind(
            info.labels, info.synsets or None)


def describe(classifier):
    """Return what diagnostics say about a model (read once: it may be closed later)."""
    return {'model': classifier.name, 'model file': str(classifier.model_path),
            'backend': classifier.backend.name, 'device': classifier.backend.device,
            'precision': classifier.backend.precision,
            'tensorrt fallback': classifier.backend.fallback_reason or ''}


def _stamp_s(stamp):
    return stamp.sec + stamp.nanosec * 1e-9


class ClassifierServing:
    """Camera frames in; labels, fps, inference time, diagnostics out; models swapped live."""

    def __init__(self, node):
        """Declare the parameters and publishers of `node`; serve nothing until configure()."""
        self._node, self._log = node, node.get_logger()
        self.values = {name: node.declare_parameter(name, default, about).value
                       for name, (default, about) in PARAMETERS.items()}
        check_choices(self.values)
        self._pipeline = self._subscription = self._listening_since = None
        self._serving = self._loading = self._label_info = None
        self._model_fields = {'model': 'none (not configured)', 'device': ''}
        self._switches = self._refused = 0
        self._last_load_ms = None
        self._health = Health(self.values['stale_after_s'])
        self._finished_loads = []
        self._finished_guard = node.create_guard_condition(self._on_loads_finished)

        self._label_pub = node.create_publisher(String, '~/label', 10)
        self._fps_pub = node.create_publisher(Float32, '~/fps', 10)
        self._inference_pub = node.create_publisher(Float32, '~/inference_ms', 10)
        self._active_pub = node.create_publisher(String, '~/active_model', LATCHED)
        if vision_msgs is None:
            self._log.warning('vision_msgs is not installed: running without ~/classification '
                              'and ~/label_info (install ros-<distro>-vision-msgs)')
        else:
            self._classification_pub = node.create_publisher(
                vision_msgs.Classification, '~/classification', 10)
            self._label_info_pub = node.create_publisher(
                vision_msgs.LabelInfo, '~/label_info', LATCHED)
        self.diagnostics = DiagnosticsPublisher(node, 'classification', self._report)
        node.add_on_set_parameters_callback(self._on_set_parameters)

        compressed = self.values['input_transport'] == 'compressed'
        self._topic = 'image/compressed' if compressed else 'image'
        self._message_type = CompressedImage if compressed else Image
        self._to_rgb = self._compressed_to_rgb if compressed else self._image_to_rgb
        self.input_group = MutuallyExclusiveCallbackGroup()
        self._input_executor = GroupExecutor(node, lambda group: group is self.input_group)
        self._input_spinning = True
        self._input_thread = threading.Thread(target=self._spin_input, name='image input')
        self._input_thread.start()

    # --- the lifecycle steps ----------------------------------------------------------------

    def configure(self):
        """Load the model and start the pipeline; ClassifierError if the model cannot load."""
        start = time.monotonic()
        classifier = make_classifier(self.values)
        load_ms = (time.monotonic() - start) * 1000.0
        self._pipeline = FramePipeline(
            classifier, self._to_rgb, self._publish, cameras=(CAMERA,),
            window_s=self.values['fps_window'], on_reject=self._on_reject,
            on_error=self._on_publish_error, on_labels=self._on_labels)
        self._pipeline.top_k, self._pipeline.threshold = (self.values['top_k'],
                                                          self.values['score_threshold'])
        self._now_serving(classifier, load_ms)
        self._publish_label_info(classifier.labels, Time())
        self._log.info(f'loaded {self._describe_model()} in {load_ms:.0f} ms')

    def activate(self):
        """Subscribe to the camera and classify its frames."""
        self._subscription = self._node.create_subscription(
            self._message_type, self._topic, self._on_image, qos_profile_sensor_data,
            callback_group=self.input_group)
        self._listening_since = time.monotonic()
        self._log.info(f'classifying {self._subscription.topic_name} '
                       f'({self.values["input_transport"]}) with {self._describe_model()}')

    def deactivate(self):
        """Stop listening to the camera; the model stays loaded."""
        if self._subscription is not None:
            self._node.destroy_subscription(self._subscription)
        self._subscription = self._listening_since = None

    def cleanup(self):
        """Stop listening and release the pipeline and its model."""
        self.deactivate()
        if self._pipeline is not None:
            self._pipeline.close()
        self._pipeline = self._serving = None
        self._model_fields = {'model': 'none (cleaned up)', 'device': ''}

    def close(self):
        """Release everything and stop the camera thread (before the node is destroyed)."""
        self.cleanup()
        self._input_spinning = False
        self._input_thread.join()
        self._input_executor.shutdown()

    # --- frames -----------------------------------------------------------------------------

    def _spin_input(self):
        while self._input_spinning and self._node.context.ok():
            self._input_executor.spin_once(timeout_sec=SPIN_CHECK_S)

    def _on_image(self, msg):
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.submit(CAMERA, msg, msg.header, _stamp_s(msg.header.stamp))

    @staticmethod
    def _image_to_rgb(msg):
        return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                            msg.is_bigendian)

    @staticmethod
    def _compressed_to_rgb(msg):
        return compressed_to_rgb(msg.format, msg.data)

    def _publish(self, labelled):
        """Publish one frame's labels (pipeline's inference thread)."""
        predictions = labelled.predictions
        if vision_msgs is not None:
            self._classification_pub.publish(vision_msgs.Classification(
                header=labelled.header, results=[
                    vision_msgs.ObjectHypothesis(class_id=str(p.index), score=p.score)
                    for p in predictions]))
        if predictions:
            self._label_pub.publish(String(data=predictions[0].label))
        self._fps_pub.publish(Float32(data=labelled.fps))
        self._inference_pub.publish(Float32(data=labelled.inference_ms))

    def _on_reject(self, frame, error):
        self._log.warning(f'frame rejected: {error}', throttle_duration_sec=WARN_PERIOD_S)

    def _on_publish_error(self, error):
        self._log.error(f'could not publish labels: {error!r}',
                        throttle_duration_sec=WARN_PERIOD_S)

    # --- parameters and model switches ------------------------------------------------------

    def _on_set_parameters(self, parameters):
        changed = {p.name: p.value for p in parameters if p.name in self.values}
        wanted = {**self.values, **changed}
        try:
            check_choices(wanted)
            if self._pipeline is not None:
                self._apply(wanted)
        # The parameter call must answer; an unexpected failure is a refusal too.
        except Exception as error:
            reason = str(error) if isinstance(error, ClassifierError) else repr(error)
            self._refuse(f'refused {changed}: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        threshold_changed = wanted['score_threshold'] != self.values['score_threshold']
        self.values = wanted
        self._health.hold_s = wanted['stale_after_s']
        if self._pipeline is not None:
            self._pipeline.top_k, self._pipeline.threshold = (wanted['top_k'],
                                                              wanted['score_threshold'])
            self._pipeline.stats[CAMERA].set_window(wanted['fps_window'])
            if threshold_changed:
                self._publish_label_info(*self._label_info)
        return SetParametersResult(successful=True)

    def _apply(self, wanted):
        """Start the model switch or class group change `wanted` asks for; raise to refuse."""
        asked = any(wanted[name] != self.values[name] for name in MODEL_PARAMETERS)
        regroup = wanted['class_groups'] != self.values['class_groups']
        if (asked or regroup) and self._loading is not None:
            model, since = self._loading
            raise ClassifierError(f'{model} is still loading ({time.monotonic() - since:.0f} s '
                                  'so far): ask again once ~/active_model names it')
        if asked and any(wanted[name] != self._serving[name] for name in MODEL_PARAMETERS):
            check_model(wanted)
            self._loading = wanted['model'], time.monotonic()
            self._log.info(f'loading {wanted["model"]} while {self._describe_model()} serves')
            self._pipeline.switch(lambda: make_classifier(wanted),
                                  lambda result: self._load_finished(result, wanted))
        elif regroup:
            self._pipeline.set_class_groups(wanted['class_groups'] or None)
            self._log.info(f'class groups now {wanted["class_groups"] or "off"}: '
                           f'{len(self._pipeline.classifier.labels)} labels')

    def _load_finished(self, result, values):
        """Hand a finished load over to the executor thread (called on the loader thread)."""
        self._finished_loads.append((result, values))
        self._finished_guard.trigger()

    def _on_loads_finished(self):
        while self._finished_loads:
            result, values = self._finished_loads.pop(0)
            self._loading = None
            if result.error is None:
                self._switched(result, values)
            else:
                self._load_failed(result.error, values)

    def _switched(self, result, values):
        before = self._describe_model()
        self._switches += 1
        self._now_serving(result.classifier, result.load_ms, values)
        self._log.info(f'switched model: {before} -> {self._describe_model()}, loaded in '
                       f'{result.load_ms:.0f} ms')

    def _load_failed(self, error, values):
        reason = str(error) if isinstance(error, ClassifierError) else repr(error)
        self._refuse(f'could not load {values["model"]}: {reason}')
        self._active_pub.publish(String(data=self._serving['model']))
        self._node.set_parameters([Parameter(name, value=self._serving[name])
                                   for name in MODEL_PARAMETERS
                                   if self.values[name] != self._serving[name]])

    def _refuse(self, reason):
        self._refused += 1
        if self._pipeline is not None:
            self._pipeline.stats[CAMERA].error(reason)
        self._log.error(f'{reason}; still {self._describe_model()}')

    def _now_serving(self, classifier, load_ms, values=None):
        values = self.values if values is None else values
        self._serving = {name: values[name] for name in MODEL_PARAMETERS}
        self._model_fields = describe(classifier)
        self._last_load_ms = load_ms
        self._active_pub.publish(String(data=values['model']))

    def _describe_model(self):
        fields = self._model_fields
        groups = self.values['class_groups']
        return (f'{fields["model"]} on {fields.get("backend")} ({fields["device"]}, '
                f'{fields.get("precision")})' + (f', groups {groups}' if groups else ''))

    def _on_labels(self, labels, header):
        """Publish the labels a model answers with from the frame stamped like `header` on."""
        self._publish_label_info(labels, header.stamp)

    def _publish_label_info(self, labels, stamp):
        """
        Publish id -> name of `labels`, stamped with the first frame they answer for.

        So a consumer looks a Classification's ids up in the latest LabelInfo stamped no
        later than it, whatever order the two topics arrive in. The first is stamped 0.
        """
        self._label_info = labels, stamp
        if vision_msgs is None:
            return
        msg = vision_msgs.LabelInfo()
        msg.header.stamp = stamp
        msg.class_map = [vision_msgs.VisionClass(class_id=index, class_name=label)
                         for index, label in enumerate(labels)]
        msg.threshold = float(self.values['score_threshold'])
        self._label_info_pub.publish(msg)

    # --- diagnostics ------------------------------------------------------------------------

    def _report(self):
        """Return (level, message, hardware id, values) for /diagnostics."""
        now = time.monotonic()
        values = {**self._model_fields, 'class groups': self.values['class_groups']}
        snapshot, last_frame_s = {}, None
        if self._pipeline is not None:
            stats = self._pipeline.stats[CAMERA]
            snapshot, last_frame_s = stats.snapshot(now), stats.last_received_s
            values.update(snapshot)
        values.update({'model switches': self._switches, 'refused switches': self._refused,
                       'last load ms': self._last_load_ms or 0.0,
                       'loading': self._loading[0] if self._loading else ''})
        level, reasons = self._health.assess(
            now, {'frames rejected': snapshot.get('frames rejected', 0),
                  'frames lost upstream': snapshot.get('frames lost upstream', 0),
                  'refused switches': self._refused},
            self._listening_since, last_frame_s)
        state = (f'{self._model_fields["model"]} at {snapshot["fps"]:.1f} fps' if snapshot
                 else self._model_fields['model'])
        if self._pipeline is not None and self._subscription is None:
            state += ', inactive'
        if self._loading:
            state += f', loading {self._loading[0]} for {now - self._loading[1]:.0f} s'
        return level, '; '.join([state, *reasons]), values['device'], values
