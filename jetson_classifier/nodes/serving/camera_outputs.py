"""
What the classifier publishes for one camera: its labels, as vision_msgs and plain std_msgs.

Camera `c` gets `~/c/classification` (vision_msgs/Classification) and `~/c/label` for its whole
image or ROI, or `~/c/detections` (vision_msgs/Detection2DArray) when it classifies a
detector's boxes; and `~/c/fps`. Class ids are the `~/label_info` indices as strings, which
is how vision_msgs has a consumer look the names up.
"""

from std_msgs.msg import Float32, String

from jetson_classifier.pipeline.cameras import topic


class CameraOutputs:
    """The publishers of one camera, and the messages a Labelled frame of it becomes."""

    def __init__(self, node, camera, vision_msgs, detections=False):
        """Create the topics of `camera`; vision_msgs is the module, or None where it is absent."""
        def output(name):
            return '~/' + topic(camera, name)
        self._vision_msgs = vision_msgs
        self._fps = node.create_publisher(Float32, output('fps'), 10)
        self._label = self._classification = self._detections = None
        if detections:
            self._detections = node.create_publisher(
                vision_msgs.Detection2DArray, output('detections'), 10)
            return
        self._label = node.create_publisher(String, output('label'), 10)
        if vision_msgs is not None:
            self._classification = node.create_publisher(
                vision_msgs.Classification, output('classification'), 10)

    def publish(self, labelled):
        """Publish the labels of one frame (a pipeline Labelled) and the camera's fps."""
        if self._detections is not None:
            self._detections.publish(self._detection_array(labelled))
        else:
            predictions, = labelled.results
            if self._classification is not None:
                self._classification.publish(self._vision_msgs.Classification(
                    header=labelled.header, results=self._hypotheses(predictions)))
            if predictions:
                self._label.publish(String(data=predictions[0].label))
        self._fps.publish(Float32(data=labelled.fps))

    def _hypotheses(self, predictions):
        return [self._vision_msgs.ObjectHypothesis(class_id=str(p.index), score=p.score)
                for p in predictions]

    def _detection_array(self, labelled):
        """Return the input detections, each with its bbox and id, its results our top-k."""
        vision_msgs, found = self._vision_msgs, labelled.detections
        return vision_msgs.Detection2DArray(header=found.header, detections=[
            vision_msgs.Detection2D(
                header=detection.header, bbox=detection.bbox, id=detection.id, results=[
                    vision_msgs.ObjectHypothesisWithPose(hypothesis=hypothesis)
                    for hypothesis in self._hypotheses(predictions)])
            for detection, predictions in zip(found.detections, labelled.results)])
