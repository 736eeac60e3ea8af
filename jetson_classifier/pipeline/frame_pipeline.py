"""
Camera frames in, labels out, the model swapped between two batches: the node's work, no ROS.

Three threads of its own. The newest frame of each camera waits in a mailbox (a frame
replaced before it was taken is dropped and counted). The inference thread takes the frames
when it is idle, converts, crops and preprocesses them itself, runs the model and delivers the
labels: one thread hand-off from the camera to the labels (each cost about 0.2 ms, paced, on
a 2-core VM). While it runs the model, the preprocessing thread prepares the newest frames for
its next turn, one batch ahead, no more: a frame that a newer one replaces while the model is
busy costs no preprocessing (at saturation that was most of a core on two), and the model
always runs on one thread (alternating two threads, both taking frames, slowed lite0_int8 from
5.5 to 7.3-8.4 ms a call at saturation in the node). The loader thread builds a new model
while the current one serves, and swaps it in between two batches.
A camera's regions are the whole image, its fixed ROI, or the boxes of the detections made on
the frame (matched to it by stamp first). A frame that cannot be converted, preprocessed or
classified is rejected with its reason, and a region that cannot be placed on its frame is
left out with its reason; only close() stops it. The labels a model answers with change only
between two batches (a model swap, a class group change), and `on_labels` hears of each
change before the first frame answered with them.
"""

import threading
import time
from typing import Any, Callable, Iterable, List, Mapping, NamedTuple, Optional, Union

import numpy as np

from jetson_classifier.inference.preprocessing import check_rgb
from jetson_classifier.pipeline.frame_mailbox import BatchHandover, FrameMailbox
from jetson_classifier.pipeline.frame_stats import FrameStats, ModelCallStats
from jetson_classifier.pipeline.regions import Box, detection_box, place, RegionError
from jetson_classifier.pipeline.stamp_matcher import DETECTIONS, FRAME, StampMatcher

# How long close() waits for a model being built: a TensorRT build can take minutes, and the
# loader then drops what it built instead of swapping it in.
LOADER_JOIN_S = 1.0
# How long a frame waits for its detections, and detections for their frame.
MATCH_TIMEOUT_S = 1.0


class CameraSetup(NamedTuple):
    """
    What of a camera's frames is classified: the whole image, or its `roi`.

    With `detections`, each frame waits for the detections made on it, and each of their
    boxes (within the ROI, if one is set) is a region.
    """

    roi: Optional[Box] = None
    detections: bool = False


class Frame(NamedTuple):
    """One camera message, as received: `convert` makes an RGB array of `message`."""

    camera: str
    message: Any
    header: Any
    received_s: float
    roi: Optional[Box] = None
    detections: Any = None


class Labelled(NamedTuple):
    """
    A frame's predictions per region (best first; [] for a region left out), its camera's fps.

    The regions are the boxes of `detections` (a vision_msgs Detection2DArray) in their
    order, or else one: the ROI or the whole image.
    """

    camera: str
    header: Any
    results: List[list]
    fps: float
    detections: Any = None


class Batch(NamedTuple):
    """The labels of one take of the cameras' newest frames, and each model call's time (ms)."""

    labelled: List[Labelled]
    inference_ms: List[float]


class LoadResult(NamedTuple):
    """How a switch() ended: the classifier now serving, or the error; the load time in ms."""

    classifier: Any
    error: Optional[BaseException]
    load_ms: float


class _Prepared(NamedTuple):
    """A frame's regions, cropped and preprocessed for `classifier`, waiting for inference."""

    frame: Frame
    regions: list
    crops: list
    classifier: Any
    inputs: Optional[np.ndarray]


class FramePipeline:
    """
    Classifies the newest frame of each camera with `classifier`, on threads of its own.

    `cameras` names the cameras (whole images), or maps each name to its CameraSetup.
    `convert(message)` returns an RGB array; `deliver(Batch)` publishes, from the inference
    thread, after `on_labels(labels, header)` when the labels changed since the last delivery
    (header: the first frame answered with them); `on_reject(frame, error)` and
    `on_error(error)` report what failed. Frame counts, rates and latencies per camera are in
    `stats`, the model calls in `model_calls`; each camera's ROI can be changed in `rois`.
    """

    def __init__(self, classifier, convert: Callable, deliver: Callable,
                 cameras: Union[Iterable[str], Mapping[str, CameraSetup]] = ('',),
                 window_s=2.0, on_reject: Callable = None, on_error: Callable = None,
                 on_labels: Callable = None, clock: Callable[[], float] = time.monotonic,
                 match_timeout_s=MATCH_TIMEOUT_S):
        if not isinstance(cameras, Mapping):
            cameras = dict.fromkeys(cameras, CameraSetup())
        self.stats = {camera: FrameStats(window_s) for camera in cameras}
        self.model_calls = ModelCallStats()
        self.rois = {camera: setup.roi for camera, setup in cameras.items()}
        self._matchers = {camera: StampMatcher(match_timeout_s)
                          for camera, setup in cameras.items() if setup.detections}
        self.top_k, self.threshold = 5, 0.0
        self._classifier = classifier
        self._convert, self._deliver, self._clock = convert, deliver, clock
        self._on_reject = on_reject or (lambda frame, error: None)
        self._on_error = on_error or (lambda error: None)
        self._on_labels = on_labels or (lambda labels, header: None)
        self._delivered_labels = classifier.labels
        self._handover, self._loads = BatchHandover(), FrameMailbox()
        self._model_lock = threading.Lock()
        self._closed = False
        self._workers = [threading.Thread(target=self._prepare_frames, name='preprocessing'),
                         threading.Thread(target=self._infer_batches, name='inference')]
        self._loader = threading.Thread(target=self._load_models, name='model loader',
                                        daemon=True)
        for thread in (*self._workers, self._loader):
            thread.start()

    @property
    def classifier(self):
        """Return the classifier serving now."""
        return self._classifier

    def submit(self, camera, message, header, stamp_s):
        """
        Take a frame of `camera` stamped `stamp_s` (seconds); a frame it replaces is dropped.

        A camera with detections holds the frame until the detections stamped the same come.
        """
        now = self._clock()
        self.stats[camera].frame_received(stamp_s, now)
        frame = Frame(camera, message, header, now, self.rois[camera])
        matcher = self._matchers.get(camera)
        if matcher is None:
            self._put(frame)
        else:
            self._put_matched(matcher.add_frame(stamp_s, frame, now))

    def submit_detections(self, camera, detections, stamp_s):
        """Take the Detection2DArray made on the frame of `camera` stamped `stamp_s`."""
        self._put_matched(self._matchers[camera].add_detections(stamp_s, detections,
                                                                self._clock()))

    def snapshot(self, camera):
        """Return the measurements of `camera` now, with its frames and detections unmatched."""
        now = self._clock()
        values = self.stats[camera].snapshot(now)
        matcher = self._matchers.get(camera)
        if matcher is not None:
            matcher.expire(now)
            values['frames without detections'] = matcher.unmatched[FRAME]
            values['detections without frame'] = matcher.unmatched[DETECTIONS]
        return values

    def _put_matched(self, pair):
        if pair is not None:
            frame, detections = pair
            self._put(frame._replace(detections=detections))

    def _put(self, frame):
        if self._handover.put(frame, key=frame.camera) is not None:
            self.stats[frame.camera].frame_dropped()

    def set_class_groups(self, groups):
        """Answer with the groups of `groups` (file, shipped name; None: none) from next batch."""
        with self._model_lock:
            self._classifier.set_class_groups(groups)

    def switch(self, load: Callable, done: Callable[[LoadResult], None]):
        """
        Build a classifier with `load()` on the loader thread, then swap it in between batches.

        The current classifier serves meanwhile and is closed after the swap. `done` gets the
        LoadResult, on the loader thread. A switch asked for while another loads waits for it;
        of several waiting, only the newest runs.
        """
        self._loads.put((load, done))

    def close(self):
        """Stop the threads, then release the serving classifier."""
        with self._model_lock:
            self._closed = True
        for mailbox in (self._handover, self._loads):
            mailbox.close()
        for worker in self._workers:
            worker.join()
        self._loader.join(LOADER_JOIN_S)
        self._classifier.close()

    def _prepare_frames(self):
        """Preprocessing thread: prepare the newest frames while the model runs on a batch."""
        while (frames := self._handover.take_to_prepare()) is not None:
            prepared = []
            try:
                prepared = self._prepare_all(frames, self._classifier)
            finally:  # the inference thread waits for a batch being prepared
                self._handover.put_prepared(prepared)

    def _infer_batches(self):
        """Inference thread: classify the prepared batch, or frames it prepares itself; deliver."""
        while (work := self._handover.take_to_infer()) is not None:
            prepared, frames = work
            try:
                if frames is not None:
                    prepared = self._prepare_all(frames, self._classifier)
                if prepared:
                    self._infer_and_deliver(prepared)
            finally:
                self._handover.done_inferring()

    def _prepare_all(self, frames, classifier):
        """Return the frames prepared for `classifier`; each that cannot be is rejected."""
        prepared = []
        for frame in frames:
            try:
                prepared.append(self._prepare(frame, classifier))
            # A bad frame must not stop the pipeline, whatever the converter raised.
            except Exception as error:
                self._reject(frame, error)
        return prepared

    def _prepare(self, frame, classifier):
        """Place the frame's regions on it (None for each left out), crop and preprocess them."""
        rgb = self._convert(frame.message)
        check_rgb(rgb)
        height, width = rgb.shape[:2]
        stats = self.stats[frame.camera]
        if frame.detections is None:
            try:
                regions = [place(frame.roi or Box(0, 0, width, height), width, height)]
            except RegionError as error:  # the ROI is off this frame: the frame is rejected
                stats.region_rejected(error.reason)
                raise
        else:
            regions = []
            for detection in frame.detections.detections:
                try:
                    regions.append(place(detection_box(detection.bbox), width, height,
                                         frame.roi))
                except RegionError as error:
                    stats.region_rejected(error.reason)
                    regions.append(None)
        crops = [region.crop(rgb) for region in regions if region is not None]
        inputs = classifier.preprocess(crops) if crops else None
        return _Prepared(frame, regions, crops, classifier, inputs)

    def _infer_and_deliver(self, prepared):
        """Classify the prepared frames as one batch and deliver their labels."""
        try:
            labels, batch = self._classify(prepared)
        # Nor must a backend failing on one batch.
        except Exception as error:
            for item in prepared:
                self._reject(item.frame, error)
            return
        try:
            if labels != self._delivered_labels:
                self._on_labels(labels, batch.labelled[0].header)
                self._delivered_labels = labels
            self._deliver(batch)
        except Exception as error:  # publishing failed (shutting down): report it
            self._on_error(error)

    def _classify(self, prepared):
        """Run the serving model on the regions of prepared frames as one batch; return labels."""
        with self._model_lock:
            classifier = self._classifier
            inputs = [p.inputs if p.classifier is classifier else classifier.preprocess(p.crops)
                      for p in prepared if p.crops]
            calls_ms, rows = [], []
            if inputs:
                probabilities, calls_ms = self._infer(classifier, np.concatenate(inputs))
                rows = classifier.predictions(probabilities, self.top_k, self.threshold)
            labels = classifier.labels
        now, rows = self._clock(), iter(rows)
        labelled = []
        for p in prepared:
            stats = self.stats[p.frame.camera]
            results = [[] if region is None else next(rows) for region in p.regions]
            for region in filter(None, p.regions):
                stats.region_classified(region.clipped)
            fps = stats.frame_classified(p.frame.received_s, now, sum(calls_ms))
            labelled.append(Labelled(p.frame.camera, p.frame.header, results, fps,
                                     p.frame.detections))
        return labels, Batch(labelled, calls_ms)

    def _infer(self, classifier, batch):
        """Return the probabilities of `batch`, in calls of at most the model's max batch."""
        step = classifier.max_batch or len(batch)
        outputs, calls_ms = [], []
        for start in range(0, len(batch), step):
            outputs.append(classifier.infer(batch[start:start + step]))
            calls_ms.append(classifier.last_inference_ms)
            self.model_calls.call_made(calls_ms[-1], len(outputs[-1]))
        return np.concatenate(outputs), calls_ms

    def _reject(self, frame, error):
        self.stats[frame.camera].frame_rejected(f'frame received at {frame.received_s:.3f} s '
                                                f'rejected: {error}')
        self._on_reject(frame, error)

    def _load_models(self):
        """Loader thread: build the newest requested classifier, swap it in, report."""
        while (requests := self._loads.take()) is not None:
            (load, done), = requests
            start = time.monotonic()
            try:
                classifier = load()
            # Any failure to build leaves the old model serving; `done` says why.
            except Exception as error:
                done(LoadResult(None, error, (time.monotonic() - start) * 1000.0))
                continue
            load_ms = (time.monotonic() - start) * 1000.0
            with self._model_lock:
                if self._closed:
                    classifier.close()
                    return
                old, self._classifier = self._classifier, classifier
            old.close()
            done(LoadResult(classifier, None, load_ms))
