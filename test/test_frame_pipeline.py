"""The frame pipeline in-process: fake classifiers, frames and clock; no ROS, no model files."""

import itertools
import threading
import time

import numpy as np
import pytest

from jetson_classifier.errors import ImageError, ModelLoadError
from jetson_classifier.inference.postprocessing import Prediction
from jetson_classifier.pipeline.frame_pipeline import FramePipeline

WAIT_S = 5.0


class FakeClassifier:
    """Answers `name` with the frame's pixel value as its score; infer() can be held."""

    def __init__(self, name, hold=None):
        self.name, self.hold = name, hold
        self.labels = (name,)
        self.batch_sizes, self.closed = [], False
        self.entered = threading.Event()
        self.last_inference_ms = None

    def preprocess(self, images):
        return np.array([[float(image[0, 0, 0])] for image in images], np.float32)

    def infer(self, batch):
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

    def __init__(self, classifier, cameras=('',)):
        self.delivered, self.rejected, self.errors, self.events = [], [], [], []
        self.arrived = threading.Condition()
        ticks = itertools.count(100.0, 0.01)
        self.pipeline = FramePipeline(
            classifier, convert, self._deliver, cameras=cameras,
            on_reject=lambda frame, error: self.rejected.append((frame.header, str(error))),
            on_error=self.errors.append,
            on_labels=lambda labels, header: self.events.append(('labels', labels, header)),
            clock=lambda: next(ticks))

    def _deliver(self, labelled):
        with self.arrived:
            self.events.append(('frame', labelled.header))
            self.delivered.append(labelled)
            self.arrived.notify_all()

    def submit(self, header, message, camera=''):
        self.pipeline.submit(camera, message, header, stamp_s=float(header))

    def wait_for(self, count):
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.delivered) >= count, WAIT_S), (
                f'{len(self.delivered)} of {count} labels delivered; rejected {self.rejected}')
        return self.delivered[:count]

    def labels(self):
        return [(d.header, d.predictions[0].label, d.predictions[0].score)
                for d in self.delivered]


@pytest.fixture
def harness():
    made = []

    def make(classifier, cameras=('',)):
        made.append(Harness(classifier, cameras))
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
    assert all(d.camera == '' and d.inference_ms == 2.0 for d in h.delivered)
    counts = h.pipeline.stats[''].snapshot(200.0)
    assert (counts['frames received'], counts['frames classified'],
            counts['frames dropped']) == (3, 3, 0)


def test_a_busy_model_gets_only_the_newest_frame_and_the_rest_are_counted_dropped(harness):
    hold = threading.Event()
    classifier = FakeClassifier('cat', hold)
    h = harness(classifier)
    h.submit(1, image(1))
    assert classifier.entered.wait(WAIT_S)  # frame 1 is held in infer(); 2..6 replace each other
    for header in range(2, 7):
        h.submit(header, image(header))
    wait_until(lambda: h.pipeline.stats[''].snapshot(200.0)['frames dropped'] == 4)
    hold.set()
    h.wait_for(2)
    time.sleep(0.1)
    assert [header for header, _, _ in h.labels()] == [1, 6]
    assert h.pipeline.stats[''].snapshot(200.0)['frames dropped'] == 4


def test_the_newest_frame_of_every_camera_goes_to_the_model_in_one_batch(harness):
    hold = threading.Event()
    classifier = FakeClassifier('cat', hold)
    h = harness(classifier, cameras=('belt', 'gripper'))
    h.submit(1, image(1), 'belt')
    assert classifier.entered.wait(WAIT_S)  # frame 1 is held; the next of both cameras wait
    h.submit(2, image(2), 'belt')
    h.submit(3, image(3), 'gripper')
    wait_until(lambda: h.pipeline._prepared._items.keys() == {'belt', 'gripper'})
    hold.set()
    h.wait_for(3)
    assert classifier.batch_sizes == [1, 2]
    assert [(d.camera, d.header) for d in h.delivered] == [
        ('belt', 1), ('belt', 2), ('gripper', 3)]


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
