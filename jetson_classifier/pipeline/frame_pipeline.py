"""
Camera frames in, labels out, the model swapped between two batches: the node's work, no ROS.

Three threads of its own. The newest frame of each camera waits in a mailbox (a frame
replaced before it was taken is dropped and counted); the preprocessing thread converts and
preprocesses the newest frame of every camera that has one while the inference thread runs
the model on the batch before it and delivers the labels; the loader thread builds a new
model while the current one serves, and swaps it in between two batches. A frame that cannot
be converted, preprocessed or classified is rejected with its reason; only close() stops it.
The labels a model answers with change only between two batches (a model swap, a class group
change), and `on_labels` hears of each change before the first frame answered with them.
"""

import threading
import time
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from jetson_classifier.pipeline.frame_mailbox import FrameMailbox
from jetson_classifier.pipeline.frame_stats import FrameStats

# How long close() waits for a model being built: a TensorRT build can take minutes, and the
# loader then drops what it built instead of swapping it in.
LOADER_JOIN_S = 1.0


class Frame(NamedTuple):
    """One camera message, as received: `convert` makes an RGB array of `message`."""

    camera: str
    message: Any
    header: Any
    received_s: float


class Labelled(NamedTuple):
    """A frame's predictions (best first), the model call's time and its camera's fps now."""

    camera: str
    header: Any
    predictions: list
    inference_ms: float
    fps: float


class LoadResult(NamedTuple):
    """How a switch() ended: the classifier now serving, or the error; the load time in ms."""

    classifier: Any
    error: Optional[BaseException]
    load_ms: float


class _Prepared(NamedTuple):
    """A frame converted and preprocessed for `classifier`, waiting for inference."""

    frame: Frame
    rgb: np.ndarray
    classifier: Any
    inputs: np.ndarray


class FramePipeline:
    """
    Classifies the newest frame of each camera with `classifier`, on threads of its own.

    `convert(message)` returns an RGB array; `deliver(Labelled)` publishes, from the
    inference thread, after `on_labels(labels, header)` when the labels changed since the
    last delivery (header: the first frame answered with them); `on_reject(frame, error)` and
    `on_error(error)` report what failed. Counts, rates and latencies per camera: `stats`.
    """

    def __init__(self, classifier, convert: Callable, deliver: Callable, cameras=('',),
                 window_s=2.0, on_reject: Callable = None, on_error: Callable = None,
                 on_labels: Callable = None, clock: Callable[[], float] = time.monotonic):
        self.stats = {camera: FrameStats(window_s) for camera in cameras}
        self.top_k, self.threshold = 5, 0.0
        self._classifier = classifier
        self._convert, self._deliver, self._clock = convert, deliver, clock
        self._on_reject = on_reject or (lambda frame, error: None)
        self._on_error = on_error or (lambda error: None)
        self._on_labels = on_labels or (lambda labels, header: None)
        self._delivered_labels = classifier.labels
        self._frames, self._prepared, self._loads = FrameMailbox(), FrameMailbox(), FrameMailbox()
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
        """Take a frame of `camera` stamped `stamp_s` (seconds); a frame it replaces is dropped."""
        now = self._clock()
        stats = self.stats[camera]
        stats.frame_received(stamp_s, now)
        if self._frames.put(Frame(camera, message, header, now), key=camera) is not None:
            stats.frame_dropped()

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
        for mailbox in (self._frames, self._loads):
            mailbox.close()
        for worker in self._workers:
            worker.join()
        self._loader.join(LOADER_JOIN_S)
        self._classifier.close()

    def _prepare_frames(self):
        """Preprocessing thread: convert and preprocess each camera's newest frame."""
        while (frames := self._frames.take()) is not None:
            classifier = self._classifier
            for frame in frames:
                try:
                    rgb = self._convert(frame.message)
                    inputs = classifier.preprocess([rgb])
                # A bad frame must not stop the pipeline, whatever the converter raised.
                except Exception as error:
                    self._reject(frame, error)
                    continue
                if self._prepared.put(_Prepared(frame, rgb, classifier, inputs),
                                      key=frame.camera) is not None:
                    self.stats[frame.camera].frame_dropped()
        self._prepared.close()

    def _infer_batches(self):
        """Inference thread: classify the newest prepared frame of every camera, deliver."""
        while (prepared := self._prepared.take()) is not None:
            try:
                labels, labelled = self._classify(prepared)
            # Nor must a backend failing on one batch.
            except Exception as error:
                for item in prepared:
                    self._reject(item.frame, error)
                continue
            try:
                if labels != self._delivered_labels:
                    self._on_labels(labels, labelled[0].header)
                    self._delivered_labels = labels
                for item in labelled:
                    self._deliver(item)
            except Exception as error:  # publishing failed (shutting down): report it
                self._on_error(error)

    def _classify(self, prepared):
        """Run the serving model on prepared frames as one batch; return labels, Labelled each."""
        with self._model_lock:
            classifier = self._classifier
            batch = np.concatenate([
                p.inputs if p.classifier is classifier else classifier.preprocess([p.rgb])
                for p in prepared])
            probabilities = classifier.infer(batch)
            inference_ms = classifier.last_inference_ms
            rows = classifier.predictions(probabilities, self.top_k, self.threshold)
            labels = classifier.labels
        now = self._clock()
        return labels, [
            Labelled(p.frame.camera, p.frame.header, predictions, inference_ms,
                     self.stats[p.frame.camera].frame_classified(p.frame.received_s, now,
                                                                 inference_ms))
            for p, predictions in zip(prepared, rows)]

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
