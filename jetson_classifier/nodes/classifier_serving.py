"""
The classifier's ROS side: parameters, camera subscriptions, labels, diagnostics, switches.

One ClassifierServing serves both the plain node (configured and active from the start) and
the managed one (configure, activate, deactivate and cleanup are lifecycle transitions). The
work itself is a pipeline.FramePipeline: one model, one batch of the newest frame of every
camera (`cameras`), each camera's labels on topics of its own (nodes.camera_outputs). A model
change is checked at once (a name that the catalog lacks, a missing or unreadable file is
refused in the SetParameters answer), then built on the pipeline's loader thread while the
old model serves, so parameter services and diagnostics keep answering through a
minutes-long TensorRT build. The outcome is published on `~/active_model`; a model that fails
to build is logged, counted, and the `model` parameter returns to the model that serves.
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
from jetson_classifier.nodes.camera_outputs import CameraOutputs
from jetson_classifier.nodes.classifier_parameters import (
    CAMERA, camera_parameters, check_choices, check_model, describe, make_classifier,
    MODEL_PARAMETERS, PARAMETERS)
from jetson_classifier.nodes.diagnostics import DiagnosticsPublisher, Status
from jetson_classifier.nodes.node_main import GroupExecutor
from jetson_classifier.nodes.parameters import LATCHED
from jetson_classifier.pipeline import cameras
from jetson_classifier.pipeline.frame_pipeline import CameraSetup, FramePipeline
from jetson_classifier.pipeline.health import Health, Level
from jetson_classifier.pipeline.image_conversion import compressed_to_rgb, image_to_rgb
from jetson_classifier.pipeline.regions import roi_box

try:
    from vision_msgs import msg as vision_msgs
except ImportError:
    vision_msgs = None

WARN_PERIOD_S = 5.0
# A camera's counters that hold its status at WARN while they grow.
CAMERA_PROBLEMS = ('frames rejected', 'frames lost upstream', 'regions rejected',
                   'detections without frame')
# How often the camera thread leaves rcl_wait to see a request to stop.
SPIN_CHECK_S = 0.1


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
        self.cameras = cameras.check_cameras(self.values['cameras'])
        self._setups = {camera: self._declare_camera(camera) for camera in self.cameras}
        self._pipeline = self._listening_since = None
        self._subscriptions = []
        self._serving = self._loading = self._label_info = None
        self._model_fields = {'model': 'none (not configured)', 'device': ''}
        self._switches = self._refused = 0
        self._last_load_ms = None
        self._last_error = ''
        self._health = {camera: Health(self.values['stale_after_s'])
                        for camera in ('node', *self.cameras)}
        self._finished_loads = []
        self._finished_guard = node.create_guard_condition(self._on_loads_finished)

        if vision_msgs is None:
            self._log.warning('vision_msgs is not installed: running without ~/classification '
                              'and ~/label_info (install ros-<distro>-vision-msgs)')
        else:
            self._label_info_pub = node.create_publisher(
                vision_msgs.LabelInfo, '~/label_info', LATCHED)
        self._outputs = {camera: CameraOutputs(node, camera, vision_msgs, setup.detections)
                         for camera, setup in self._setups.items()}
        self._inference_pub = node.create_publisher(Float32, '~/inference_ms', 10)
        self._active_pub = node.create_publisher(String, '~/active_model', LATCHED)
        self.diagnostics = DiagnosticsPublisher(node, 'classification', self._report,
                                                more=self._camera_statuses)
        node.add_on_set_parameters_callback(self._on_set_parameters)

        compressed = self.values['input_transport'] == 'compressed'
        self._image_topic = 'image/compressed' if compressed else 'image'
        self._message_type = CompressedImage if compressed else Image
        self._to_rgb = self._compressed_to_rgb if compressed else self._image_to_rgb
        self.input_group = MutuallyExclusiveCallbackGroup()
        self._input_executor = GroupExecutor(node, lambda group: group is self.input_group)
        self._input_spinning = True
        self._input_thread = threading.Thread(target=self._spin_input, name='image input')
        self._input_thread.start()

    def _declare_camera(self, camera):
        """Declare the parameters of `camera`; return its CameraSetup."""
        values = {name: self._node.declare_parameter(name, default, about).value
                  for name, (default, about) in camera_parameters(camera).items()}
        roi_name, detections_name = values
        if values[detections_name] and vision_msgs is None:
            raise ClassifierError(f'parameter {detections_name}: detections need vision_msgs '
                                  '(install ros-<distro>-vision-msgs)')
        return CameraSetup(roi_box(values[roi_name], roi_name), values[detections_name])

    # --- the lifecycle steps ----------------------------------------------------------------

    def configure(self):
        """Load the model and start the pipeline; ClassifierError if the model cannot load."""
        start = time.monotonic()
        classifier = make_classifier(self.values)
        load_ms = (time.monotonic() - start) * 1000.0
        self._pipeline = FramePipeline(
            classifier, self._to_rgb, self._publish, cameras=self._setups,
            window_s=self.values['fps_window'], on_reject=self._on_reject,
            on_error=self._on_publish_error, on_labels=self._on_labels,
            match_timeout_s=self.values['detections_timeout_s'])
        self._pipeline.top_k, self._pipeline.threshold = (self.values['top_k'],
                                                          self.values['score_threshold'])
        self._now_serving(classifier, load_ms)
        self._publish_label_info(classifier.labels, Time())
        self._log.info(f'loaded {self._describe_model()} in {load_ms:.0f} ms')

    def activate(self):
        """Subscribe to the cameras (and their detections) and classify their frames."""
        inputs = []
        for camera, setup in self._setups.items():
            inputs.append(self._subscribe(
                self._message_type, cameras.topic(camera, self._image_topic),
                lambda msg, camera=camera: self._on_image(camera, msg)))
            if setup.roi is not None:
                inputs[-1] += f' (roi {list(setup.roi)})'
            if setup.detections:
                inputs[-1] += ' with the boxes on ' + self._subscribe(
                    vision_msgs.Detection2DArray, cameras.topic(camera, 'detections'),
                    lambda msg, camera=camera: self._on_detections(camera, msg))
        self._listening_since = time.monotonic()
        self._log.info(f'classifying {", ".join(inputs)} ({self.values["input_transport"]}) '
                       f'with {self._describe_model()}')

    def _subscribe(self, message_type, topic, callback):
        """Subscribe on the camera thread; return the topic's full name."""
        self._subscriptions.append(self._node.create_subscription(
            message_type, topic, callback, qos_profile_sensor_data,
            callback_group=self.input_group))
        return self._subscriptions[-1].topic_name

    def deactivate(self):
        """Stop listening to the cameras; the model stays loaded."""
        for subscription in self._subscriptions:
            self._node.destroy_subscription(subscription)
        self._subscriptions, self._listening_since = [], None

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

    def _on_image(self, camera, msg):
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.submit(camera, msg, msg.header, _stamp_s(msg.header.stamp))

    def _on_detections(self, camera, msg):
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.submit_detections(camera, msg, _stamp_s(msg.header.stamp))

    @staticmethod
    def _image_to_rgb(msg):
        return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                            msg.is_bigendian)

    @staticmethod
    def _compressed_to_rgb(msg):
        return compressed_to_rgb(msg.format, msg.data)

    def _publish(self, batch):
        """Publish each frame's labels, then each model call's time (pipeline's thread)."""
        for labelled in batch.labelled:
            self._outputs[labelled.camera].publish(labelled)
        for inference_ms in batch.inference_ms:
            self._inference_pub.publish(Float32(data=inference_ms))

    def _on_reject(self, frame, error):
        camera = f'camera {frame.camera}: ' if frame.camera else ''
        self._log.warning(f'{camera}frame rejected: {error}',
                          throttle_duration_sec=WARN_PERIOD_S)

    def _on_publish_error(self, error):
        self._log.error(f'could not publish labels: {error!r}',
                        throttle_duration_sec=WARN_PERIOD_S)

    # --- parameters and model switches ------------------------------------------------------

    def _on_set_parameters(self, parameters):
        changed = {p.name: p.value for p in parameters if p.name in self.values}
        wanted = {**self.values, **changed}
        try:
            check_choices(wanted)
            rois = {camera: roi_box(p.value, p.name) for camera in self.cameras
                    for p in parameters if p.name == cameras.parameter(camera, 'roi')}
            if self._pipeline is not None:
                self._apply(wanted)
        # The parameter call must answer; an unexpected failure is a refusal too.
        except Exception as error:
            reason = str(error) if isinstance(error, ClassifierError) else repr(error)
            self._refuse(f'refused {changed or [p.name for p in parameters]}: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        threshold_changed = wanted['score_threshold'] != self.values['score_threshold']
        self.values = wanted
        for camera, roi in rois.items():
            self._setups[camera] = self._setups[camera]._replace(roi=roi)
        for health in self._health.values():
            health.hold_s = wanted['stale_after_s']
        if self._pipeline is not None:
            self._pipeline.top_k, self._pipeline.threshold = (wanted['top_k'],
                                                              wanted['score_threshold'])
            self._pipeline.rois.update(rois)
            for stats in self._pipeline.stats.values():
                stats.set_window(wanted['fps_window'])
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
        self._last_error = reason
        if self._pipeline is not None and CAMERA in self._pipeline.stats:
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
        """
        Return (level, message, hardware id, values) of the node's status for /diagnostics.

        It names the model, its calls and switches, and holds the camera '' (a single-camera
        node reports all in this one status); named cameras have statuses of their own.
        """
        now = time.monotonic()
        values = {**self._model_fields, 'class groups': self.values['class_groups']}
        if self._pipeline is not None:
            values.update(self._pipeline.model_calls.snapshot())
        values.update({'model switches': self._switches, 'refused switches': self._refused,
                       'last load ms': self._last_load_ms or 0.0,
                       'loading': self._loading[0] if self._loading else '',
                       'last error': self._last_error})
        level, reasons = self._health['node'].assess(now, {'refused switches': self._refused})
        state = self._model_fields['model']
        if CAMERA in self.cameras:
            camera_level, camera_reasons, snapshot = self._assess_camera(CAMERA, now)
            values.update(snapshot)
            level, reasons = max(level, camera_level), camera_reasons + reasons
            if snapshot:
                state += f' at {snapshot["fps"]:.1f} fps'
        named = len(self.cameras) - (CAMERA in self.cameras)
        if named:
            state += f', {named} named camera{"s" * (named > 1)}'
        state += self._inactive()
        if self._loading:
            state += f', loading {self._loading[0]} for {now - self._loading[1]:.0f} s'
        return level, '; '.join([state, *reasons]), values['device'], values

    def _camera_statuses(self):
        """
        Return a Status for each named camera: '<node>: camera <c>'.

        One per camera, as diagnostic_updater has one per topic: a monitor then shows which
        camera is silent or sends bad frames while the others stay OK.
        """
        now, statuses = time.monotonic(), []
        for camera in self.cameras:
            if camera != CAMERA:
                level, reasons, snapshot = self._assess_camera(camera, now)
                state = (f'{snapshot["fps"]:.1f} fps' if snapshot else 'not configured')
                statuses.append(Status(f'camera {camera}', level, '; '.join(
                    [state + self._inactive(), *reasons]), self._model_fields['device'],
                    snapshot))
        return statuses

    def _assess_camera(self, camera, now):
        """Return the level, its reasons and the measurements of `camera` now."""
        if self._pipeline is None:
            return Level.OK, [], {}
        snapshot = self._pipeline.snapshot(camera)
        level, reasons = self._health[camera].assess(
            now, {name: snapshot.get(name, 0) for name in CAMERA_PROBLEMS},
            self._listening_since, self._pipeline.stats[camera].last_received_s)
        return level, reasons, snapshot

    def _inactive(self):
        return ', inactive' if self._pipeline is not None and not self._subscriptions else ''
