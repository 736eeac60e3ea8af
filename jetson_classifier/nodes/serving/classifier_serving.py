"""
The classifier's ROS side: parameters, camera subscriptions, labels, diagnostics, switches.

One ClassifierServing serves both the plain node (configured and active from the start) and
the managed one (configure, activate, deactivate and cleanup are lifecycle transitions). The
work itself is a pipeline.FramePipeline: one model, one batch of the newest frame of every
camera (`cameras`), each camera's labels on topics of its own (camera_outputs). Model
switches are model_switches' job, the statuses on /diagnostics classifier_status'.
"""

import threading
import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Float32

from jetson_classifier.errors import ClassifierError
from jetson_classifier.nodes.diagnostics import DiagnosticsPublisher
from jetson_classifier.nodes.node_main import GroupExecutor
from jetson_classifier.nodes.parameters import LATCHED
from jetson_classifier.nodes.serving.camera_outputs import CameraOutputs
from jetson_classifier.nodes.serving.classifier_parameters import (
    camera_parameters, check_choices, make_classifier, PARAMETERS)
from jetson_classifier.nodes.serving.classifier_status import ClassifierStatus
from jetson_classifier.nodes.serving.model_switches import ModelSwitches
from jetson_classifier.pipeline import cameras
from jetson_classifier.pipeline.frame_pipeline import CameraSetup, FramePipeline
from jetson_classifier.pipeline.image_conversion import compressed_to_rgb, image_to_rgb
from jetson_classifier.pipeline.regions import roi_box

try:
    from vision_msgs import msg as vision_msgs
except ImportError:
    vision_msgs = None

WARN_PERIOD_S = 5.0
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
        self.listening_since = self._label_info = None
        self._subscriptions = []
        self.models = ModelSwitches(node)
        self.status = ClassifierStatus(self)

        if vision_msgs is None:
            self._log.warning('vision_msgs is not installed: running without ~/classification '
                              'and ~/label_info (install ros-<distro>-vision-msgs)')
        else:
            self._label_info_pub = node.create_publisher(
                vision_msgs.LabelInfo, '~/label_info', LATCHED)
        self._outputs = {camera: CameraOutputs(node, camera, vision_msgs, setup.detections)
                         for camera, setup in self._setups.items()}
        self._inference_pub = node.create_publisher(Float32, '~/inference_ms', 10)
        self.diagnostics = DiagnosticsPublisher(node, 'classification', self.status.report,
                                                more=self.status.camera_statuses)
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
        self.models.pipeline = pipeline = FramePipeline(
            classifier, self._to_rgb, self._publish, cameras=self._setups,
            window_s=self.values['fps_window'], on_reject=self._on_reject,
            on_error=self._on_publish_error, on_labels=self._on_labels,
            match_timeout_s=self.values['detections_timeout_s'])
        pipeline.top_k, pipeline.threshold = self.values['top_k'], self.values['score_threshold']
        self.models.now_serving(classifier, load_ms, self.values)
        self._publish_label_info(classifier.labels, Time())
        self._log.info(f'loaded {self.models.describe()} in {load_ms:.0f} ms')

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
        self.listening_since = time.monotonic()
        self._log.info(f'classifying {", ".join(inputs)} ({self.values["input_transport"]}) '
                       f'with {self.models.describe()}')

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
        self._subscriptions, self.listening_since = [], None

    def cleanup(self):
        """Stop listening and release the pipeline and its model."""
        self.deactivate()
        if self.models.pipeline is not None:
            self.models.pipeline.close()
        self.models.released('cleaned up')

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
        pipeline = self.models.pipeline
        if pipeline is not None:
            pipeline.submit(camera, msg, msg.header, _stamp_s(msg.header.stamp))

    def _on_detections(self, camera, msg):
        pipeline = self.models.pipeline
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
        pipeline = self.models.pipeline
        try:
            check_choices(wanted)
            rois = {camera: roi_box(p.value, p.name) for camera in self.cameras
                    for p in parameters if p.name == cameras.parameter(camera, 'roi')}
            if pipeline is not None:
                self.models.apply(self.values, wanted)
        # The parameter call must answer; an unexpected failure is a refusal too.
        except Exception as error:
            reason = str(error) if isinstance(error, ClassifierError) else repr(error)
            self.models.refuse(f'refused {changed or [p.name for p in parameters]}: {reason}')
            return SetParametersResult(successful=False, reason=reason)
        threshold_changed = wanted['score_threshold'] != self.values['score_threshold']
        self.values = wanted
        for camera, roi in rois.items():
            self._setups[camera] = self._setups[camera]._replace(roi=roi)
        self.status.hold(wanted['stale_after_s'])
        if pipeline is not None:
            pipeline.top_k, pipeline.threshold = wanted['top_k'], wanted['score_threshold']
            pipeline.rois.update(rois)
            for stats in pipeline.stats.values():
                stats.set_window(wanted['fps_window'])
            if threshold_changed:
                self._publish_label_info(*self._label_info)
        return SetParametersResult(successful=True)

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
