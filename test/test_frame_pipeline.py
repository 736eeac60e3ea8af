"""The frame pipeline in-process: fake classifiers, frames and clock; no ROS, no model files."""

import itertools
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from jetson_classifier.errors import ImageError, ModelLoadError
from jetson_classifier.inference.postprocessing import Prediction
from jetson_classifier.pipeline.frame_pipeline import CameraSetup, FramePipeline
from jetson_classifier.pipeline.regions import Box

WAIT_S = 5.0


class FakeClassifier:
    """Answers `name` with the image's top-left pixel value as its score; infer() can be held."""

    def __init__(self, name, hold=None, max_batch=None):
        self.name, self.hold, self.max_batch = name, hold, max_batch
        self.labels = (name,)
        self.batch_sizes, self.closed, self.preprocessed = [], False, 0
        self.threads = []  # (step, thread name) of each preprocess() and infer()
        self.entered = threading.Event()
        self.last_inference_ms = None

    def preprocess(self, images):
        self.preprocessed += len(images)
        self.threads.append(('preprocess', threading.current_thread().name))
        return np.array([[float(image[0, 0, 0])] for image in images], np.float32)

    def infer(self, batch):
        self.threads.append(('infer', threading.current_thread().name))
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(WAIT_S), 'the test never released infer()'
        if np.isnan(batch).any():
            raise RuntimeError('backend failed on NaN input')
        self.batch_sizes.append(len(batch))
        self.last_inference_ms = 2.0
        return batch

    def predictions(self, probabilities, top_k, threshold):
        return [[Prediction(0, self.labels[0], float(row[0]))][:top_k] for row in probabilities]

    def set_class_groups(self, groups):
        self.labels = (groups or self.name,)

    def close(self):
        self.closed = True


class FailsOn13(FakeClassifier):
    """Makes the backend fail on frames of pixel value 13."""

    def preprocess(self, images):
        return np.array([[np.nan if image[0, 0, 0] == 13 else 1.0] for image in images])


def image(value):
    """Return a 2x2 RGB frame whose pixels all hold `value`."""
    return np.full((2, 2, 3), value, np.uint8)


def convert(message):
    if isinstance(message, str):
        raise ImageError(f'unknown encoding {message!r}')
    return message


class Harness:
    """A pipeline on `classifier` with a fake clock; what it delivers, rejects and reports."""

    def __init__(self, classifier, cameras=('',), clock=None):
        self.delivered, self.batches, self.rejected, self.errors = [], [], [], []
        self.events = []
        self.arrived = threading.Condition()
        ticks = itertools.count(100.0, 0.01)
        self.pipeline = FramePipeline(
            classifier, convert, self._deliver, cameras=cameras,
            on_reject=lambda frame, error: self.rejected.append((frame.header, str(error))),
            on_error=self.errors.append,
            on_labels=lambda labels, header: self.events.append(('labels', labels, header)),
            clock=clock or (lambda: next(ticks)))

    def _deliver(self, batch):
        with self.arrived:
            self.batches.append(batch)
            self.events += [('frame', labelled.header) for labelled in batch.labelled]
            self.delivered.extend(batch.labelled)
            self.arrived.notify_all()

    def submit(self, header, message, camera=''):
        self.pipeline.submit(camera, message, header, stamp_s=float(header))

    def wait_for(self, count):
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.delivered) >= count, WAIT_S), (
                f'{len(self.delivered)} of {count} labels delivered; rejected {self.rejected}')
        return self.delivered[:count]

    def labels(self):
        return [(d.header, d.results[0][0].label, d.results[0][0].score)
                for d in self.delivered]


@pytest.fixture
def harness():
    made = []

    def make(classifier, cameras=('',), clock=None):
        made.append(Harness(classifier, cameras, clock))
        return made[-1]
    yield make
    for h in made:
        h.pipeline.close()


def wait_until(condition):
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, 'condition never held'
        time.sleep(0.005)


def test_each_frame_is_delivered_with_its_header_camera_and_counts(harness):
    h = harness(FakeClassifier('cat'))
    for header in range(1, 4):
        h.submit(header, image(10 * header))
        h.wait_for(header)
    assert h.labels() == [(1, 'cat', 10.0), (2, 'cat', 20.0), (3, 'cat', 30.0)]
    assert all(d.camera == '' and len(d.results) == 1 for d in h.delivered)
    assert [b.inference_ms for b in h.batches] == [[2.0]] * 3
    counts = h.pipeline.stats[''].snapshot(200.0)
    assert (counts['frames received'], counts['frames classified'],
            counts['frames dropped']) == (3, 3, 0)


def test_a_frame_to_an_idle_pipeline_is_prepared_by_the_inference_thread_itself(harness):
    classifier = FakeClassifier('cat')
    h = harness(classifier)
    for header in range(1, 5):
        h.submit(header, image(header))
        h.wait_for(header)
    assert classifier.threads == [('preprocess', 'inference'), ('infer', 'inference')] * 4


def occupy(h, classifier, camera=''):
    """Hold frame 1 of `camera` in the model and frame 2, preprocessed, waiting for it."""
    h.submit(1, image(1), camera)
    assert classifier.entered.wait(WAIT_S)
    h.submit(2, image(2), camera)
    wait_until(lambda: classifier.preprocessed == 2)


def test_frames_replaced_while_the_model_is_busy_are_dropped_without_preprocessing(harness):
    hold = threading.Event()
    classifier = FakeClassifier('cat', hold)
    h = harness(classifier)
    occupy(h, classifier)
    for header in range(3, 7):  # they wait for the model's next turn, replacing each other
        h.submit(header, image(header))
    wait_until(lambda: h.pipeline.stats[''].snapshot(200.0)['frames dropped'] == 3)
    hold.set()
    h.wait_for(3)
    time.sleep(0.1)
    assert [header for header, _, _ in h.labels()] == [1, 2, 6]
    assert h.pipeline.stats[''].snapshot(200.0)['frames dropped'] == 3
    assert classifier.preprocessed == 3, 'a frame replaced before its turn was preprocessed'


def test_the_newest_frame_of_every_camera_goes_to_the_model_in_one_batch(harness):
    hold = threading.Event()
    classifier = FakeClassifier('cat', hold)
    h = harness(classifier, cameras=('belt', 'gripper'))
    occupy(h, classifier, 'belt')
    h.submit(3, image(3), 'belt')
    h.submit(4, image(4), 'gripper')
    hold.set()
    h.wait_for(4)
    assert classifier.batch_sizes == [1, 1, 2]
    assert [(d.camera, d.header) for d in h.delivered] == [
        ('belt', 1), ('belt', 2), ('belt', 3), ('gripper', 4)]


def test_a_fast_camera_never_takes_a_slow_cameras_slot(harness):
    h = harness(FakeClassifier('cat'), cameras=('fast', 'slow'))
    for header in range(1, 301):
        h.submit(header, image(1), 'fast')
        if header % 30 == 0:
            h.submit(header, image(2), 'slow')
        if header % 10 == 0:
            time.sleep(0.001)
    wait_until(lambda: sum(d.camera == 'slow' for d in h.delivered) == 10)
    stats = {camera: h.pipeline.stats[camera].snapshot(200.0) for camera in ('fast', 'slow')}
    assert (stats['slow']['frames classified'], stats['slow']['frames dropped']) == (10, 0)
    assert stats['fast']['frames dropped'] > 0, 'the fast camera never had to wait: no contest'


def tiles(*values, size=10):
    """Return a frame of square tiles side by side, each `size` pixels, holding `values`."""
    return np.concatenate([np.full((size, size, 3), v, np.uint8) for v in values], axis=1)


def test_a_camera_with_a_roi_classifies_only_the_roi(harness):
    h = harness(FakeClassifier('belt'), cameras={'belt': CameraSetup(roi=Box(20, 0, 10, 10))})
    h.submit(1, tiles(5, 6, 7), 'belt')
    h.wait_for(1)
    assert h.labels() == [(1, 'belt', 7.0)]
    h.pipeline.rois['belt'] = Box(10, 0, 15, 10)  # changed at run time
    h.submit(2, tiles(5, 6, 7), 'belt')
    h.wait_for(2)
    assert h.labels()[1] == (2, 'belt', 6.0)


def test_a_roi_off_the_frame_rejects_the_frame_with_the_reason(harness):
    h = harness(FakeClassifier('belt'), cameras={'belt': CameraSetup(roi=Box(100, 0, 10, 10))})
    h.submit(1, tiles(5, 6, 7), 'belt')
    wait_until(lambda: h.rejected)
    assert h.rejected == [(1, 'region (100, 0, 10, 10): outside the image (30x10 image)')]
    stats = h.pipeline.stats['belt'].snapshot(200.0)
    assert stats['regions rejected by reason'] == 'outside the image: 1'


def detections(*boxes):
    """Return a Detection2DArray-like message with one detection per (cx, cy, w, h[, theta])."""
    def detection(index, cx, cy, width, height, theta=0.0):
        centre = SimpleNamespace(position=SimpleNamespace(x=cx, y=cy), theta=theta)
        return SimpleNamespace(id=f'd{index}', bbox=SimpleNamespace(
            center=centre, size_x=width, size_y=height))
    return SimpleNamespace(detections=[detection(i, *box) for i, box in enumerate(boxes)])


def test_each_detection_is_classified_in_order_and_bad_ones_are_left_out_and_counted(harness):
    classifier = FakeClassifier('item')
    h = harness(classifier, cameras={'bin': CameraSetup(detections=True)})
    found = detections((25, 5, 10, 10),             # tile 7
                       (5, 5, 10, 10),              # tile 5
                       (float('nan'), 5, 10, 10),   # not finite
                       (15, 5, 0, 10),              # zero size
                       (-50, 5, 10, 10),            # outside the image
                       (12, 5, 30, 30),             # sticks out right and below: clipped
                       (15, 5, 4, 4, np.pi / 4))    # rotated: its upright envelope
    h.submit(1, tiles(5, 6, 7), 'bin')
    h.pipeline.submit_detections('bin', found, 1.0)
    (labelled,) = h.wait_for(1)
    scores = [[p.score for p in result] for result in labelled.results]
    assert scores == [[7.0], [5.0], [], [], [], [5.0], [6.0]]
    assert labelled.detections is found and classifier.batch_sizes == [4]
    stats = h.pipeline.snapshot('bin')
    assert (stats['regions classified'], stats['regions clipped'],
            stats['regions rejected']) == (4, 1, 3)
    assert stats['regions rejected by reason'] == (
        'not finite: 1, zero size: 1, outside the image: 1')


def test_a_roi_bounds_the_detections(harness):
    h = harness(FakeClassifier('item'),
                cameras={'belt': CameraSetup(roi=Box(10, 0, 20, 10), detections=True)})
    h.submit(1, tiles(5, 6, 7), 'belt')
    h.pipeline.submit_detections('belt', detections((5, 5, 10, 10), (10, 5, 10, 10)), 1.0)
    (labelled,) = h.wait_for(1)
    assert [[p.score for p in r] for r in labelled.results] == [[], [6.0]]
    assert h.pipeline.snapshot('belt')['regions rejected by reason'] == 'outside the roi: 1'


def test_frames_and_detections_pair_by_stamp_in_either_order_and_the_unmatched_expire(harness):
    now = [100.0]
    h = harness(FakeClassifier('item'), cameras={'bin': CameraSetup(detections=True)},
                clock=lambda: now[0])
    h.submit(1, tiles(5), 'bin')
    h.submit(2, tiles(6), 'bin')
    h.pipeline.submit_detections('bin', detections((5, 5, 10, 10)), 3.0)  # before its frame
    h.pipeline.submit_detections('bin', detections((5, 5, 10, 10)), 2.0)
    h.wait_for(1)
    h.submit(3, tiles(7), 'bin')
    h.wait_for(2)
    assert [label[0] for label in h.labels()] == [2, 3]
    h.pipeline.submit_detections('bin', detections((5, 5, 10, 10)), 9.0)  # its frame never comes
    now[0] += 0.5
    assert (h.pipeline.snapshot('bin')['frames without detections'],
            h.pipeline.snapshot('bin')['detections without frame']) == (0, 0)
    now[0] += 1.0
    stats = h.pipeline.snapshot('bin')
    assert (stats['frames without detections'], stats['detections without frame']) == (1, 1)
    assert stats['frames received'] == 3 and stats['frames classified'] == 2


def test_a_frame_with_no_detections_is_delivered_without_a_model_call(harness):
    classifier = FakeClassifier('item')
    h = harness(classifier, cameras={'bin': CameraSetup(detections=True)})
    h.submit(1, tiles(5), 'bin')
    h.pipeline.submit_detections('bin', detections(), 1.0)
    (labelled,) = h.wait_for(1)
    assert labelled.results == [] and classifier.batch_sizes == []
    assert h.batches[0].inference_ms == []


def test_a_batch_over_the_models_max_batch_is_split_into_calls(harness):
    hold = threading.Event()
    classifier = FakeClassifier('cat', hold, max_batch=2)
    h = harness(classifier, cameras=('a', 'b', 'c'))
    occupy(h, classifier, 'a')
    for header, camera in enumerate('abc', start=3):
        h.submit(header, image(header), camera)
    hold.set()
    h.wait_for(5)
    assert classifier.batch_sizes == [1, 1, 2, 1]
    assert [len(b.inference_ms) for b in h.batches] == [1, 1, 2]
    assert [(d.camera, d.results[0][0].score) for d in h.delivered[2:]] == [
        ('a', 3.0), ('b', 4.0), ('c', 5.0)]
    calls = h.pipeline.model_calls.snapshot()
    assert (calls['model calls'], calls['images per call']) == (4, 5 / 4)


def test_a_bad_frame_is_rejected_with_its_reason_and_the_next_one_served(harness):
    h = harness(FakeClassifier('cat'))
    h.submit(1, 'yuv999')
    wait_until(lambda: h.rejected)
    h.submit(2, image(2))
    h.wait_for(1)
    assert h.rejected == [(1, "unknown encoding 'yuv999'")]
    assert h.labels() == [(2, 'cat', 2.0)]
    stats = h.pipeline.stats[''].snapshot(200.0)
    assert stats['frames rejected'] == 1 and 'yuv999' in stats['last error']


def test_a_batch_the_backend_fails_on_is_rejected_and_the_pipeline_goes_on(harness):
    h = harness(FailsOn13('cat'))
    h.submit(1, image(13))
    wait_until(lambda: h.rejected)
    h.submit(2, image(2))
    h.wait_for(1)
    assert h.rejected == [(1, 'backend failed on NaN input')]
    assert h.labels()[0][0] == 2


def test_a_switch_loads_while_the_old_model_serves_then_swaps_between_batches(harness):
    old, new = FakeClassifier('old'), FakeClassifier('new')
    h = harness(old)
    loading, results = threading.Event(), []

    def slow_load():
        loading.set()
        time.sleep(0.3)
        return new
    h.pipeline.switch(slow_load, results.append)
    assert loading.wait(WAIT_S)
    served_while_loading = 0
    while not results:
        h.submit(served_while_loading, image(1))
        served_while_loading += 1
        h.wait_for(served_while_loading)
    h.submit(1000, image(1))
    h.wait_for(served_while_loading + 1)
    assert served_while_loading >= 3, 'frames were not served while the new model loaded'
    labels = [label for _, label, _ in h.labels()]
    assert labels[-1] == 'new' and labels[0] == 'old'
    assert labels == sorted(labels, key=lambda label: label == 'new'), 'old after new'
    (result,) = results
    assert result.classifier is new and result.error is None and result.load_ms >= 300.0
    assert h.pipeline.classifier is new and old.closed and not new.closed


def test_a_failing_load_keeps_the_old_model_serving(harness):
    old = FakeClassifier('old')
    h = harness(old)
    results = []

    def corrupt():
        raise ModelLoadError('cannot load model file broken.onnx: truncated')
    h.pipeline.switch(corrupt, results.append)
    wait_until(lambda: results)
    h.submit(1, image(5))
    h.wait_for(1)
    assert results[0].classifier is None and 'truncated' in str(results[0].error)
    assert h.labels() == [(1, 'old', 5.0)] and h.pipeline.classifier is old and not old.closed


def test_of_several_waiting_switches_only_the_newest_is_built(harness):
    h = harness(FakeClassifier('first'))
    release, built, results = threading.Event(), [], []

    def load(name, hold=None):
        def build():
            if hold is not None:
                hold.wait(WAIT_S)
            built.append(name)
            return FakeClassifier(name)
        return build
    h.pipeline.switch(load('a', release), results.append)
    time.sleep(0.05)
    h.pipeline.switch(load('b'), results.append)
    h.pipeline.switch(load('c'), results.append)
    release.set()
    wait_until(lambda: len(results) == 2)
    assert built == ['a', 'c'] and h.pipeline.classifier.name == 'c'


def test_a_label_change_is_announced_with_the_first_frame_answered_with_the_new_labels(harness):
    h = harness(FakeClassifier('cat'))
    h.submit(1, image(1))
    h.wait_for(1)
    h.pipeline.set_class_groups('animal')
    h.submit(2, image(2))
    h.wait_for(2)
    results = []
    h.pipeline.switch(lambda: FakeClassifier('dog'), results.append)
    wait_until(lambda: results)
    h.submit(3, image(3))
    h.wait_for(3)
    h.submit(4, image(4))
    h.wait_for(4)
    assert h.events == [('frame', 1), ('labels', ('animal',), 2), ('frame', 2),
                        ('labels', ('dog',), 3), ('frame', 3), ('frame', 4)]


def test_close_stops_the_threads_releases_the_model_and_drops_a_model_still_loading():
    old, late = FakeClassifier('old'), FakeClassifier('late')
    results = []
    pipeline = FramePipeline(old, convert, lambda labelled: None)
    started, finish = threading.Event(), threading.Event()

    def build():
        started.set()
        finish.wait(WAIT_S)
        return late
    pipeline.switch(build, results.append)
    assert started.wait(WAIT_S)
    begun = time.monotonic()
    pipeline.close()
    assert time.monotonic() - begun < 2.0, 'close() waited for the model being built'
    assert old.closed
    finish.set()
    wait_until(lambda: late.closed)
    assert results == []
    assert not [t for t in threading.enumerate() if t.name in ('preprocessing', 'inference')]
