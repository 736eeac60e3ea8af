"""
The classifier node's measurements: rates, latencies and frame counts, thread-safe, no ROS.

Latency is image received -> labels ready to publish; overhead is that minus the backend's
inference time, i.e. what the node adds (waiting for its threads, conversion, preprocessing,
softmax and top-k). fps counts labels published; network fps is what inference alone allows.
FrameStats measures one camera, ModelCallStats the model calls that all cameras share.
"""

import collections
import threading
from typing import Dict

import numpy as np

from jetson_classifier.pipeline.input_monitor import InputMonitor
from jetson_classifier.pipeline.rate_meter import RateMeter

LATENCY_SAMPLES = 300


class FrameStats:
    """Counts and timings of one camera, updated from the node's threads, read as one snapshot."""

    def __init__(self, window_s):
        """Measure rates over the last `window_s` seconds and latency over the recent frames."""
        self._lock = threading.Lock()
        self._input = InputMonitor(window_s)
        self._labels = RateMeter(window_s)
        self._latency_ms = collections.deque(maxlen=LATENCY_SAMPLES)
        self._inference_ms = collections.deque(maxlen=LATENCY_SAMPLES)
        self.classified = 0
        self.dropped = 0
        self.rejected = 0
        self.regions = 0
        self.regions_clipped = 0
        self.regions_rejected = collections.Counter()
        self.last_error = ''
        self.last_received_s = None

    def set_window(self, window_s):
        """Change the rate window (seconds)."""
        with self._lock:
            self._input.window_s = window_s
            self._labels.window_s = window_s

    def frame_received(self, stamp_s, now_s):
        """Record a frame stamped `stamp_s` (header, seconds) arriving at `now_s`."""
        with self._lock:
            self._input.add(stamp_s, now_s)
            self.last_received_s = now_s

    def frame_dropped(self):
        """Record a frame replaced by a newer one before it was classified."""
        with self._lock:
            self.dropped += 1

    def frame_rejected(self, reason):
        """Record a frame that could not be converted or classified, and why."""
        with self._lock:
            self.rejected += 1
            self.last_error = reason

    def region_classified(self, clipped):
        """Record a region classified, and whether it was clipped to the image (or ROI)."""
        with self._lock:
            self.regions += 1
            self.regions_clipped += bool(clipped)

    def region_rejected(self, reason):
        """Record a region left out of the batch, and why (pipeline.regions.REJECTIONS)."""
        with self._lock:
            self.regions_rejected[reason] += 1

    def frame_classified(self, received_s, published_s, inference_ms):
        """Record a frame whose labels went out at `published_s`; return the fps now."""
        with self._lock:
            self.classified += 1
            self._labels.add(published_s)
            self._latency_ms.append((published_s - received_s) * 1000.0)
            self._inference_ms.append(inference_ms)
            return self._labels.rate(published_s)

    def error(self, reason):
        """Record an error that is not about one frame (a refused switch)."""
        with self._lock:
            self.last_error = reason

    def snapshot(self, now_s):
        """Return every measurement, in reading order: rates (Hz), percentiles (ms), counts."""
        with self._lock:
            latency = np.asarray(self._latency_ms)
            inference = np.asarray(self._inference_ms)
            called = inference[inference > 0]  # a frame without regions made no model call
            values = {'fps': self._labels.rate(now_s),
                      'network fps': 1000.0 / np.median(called) if called.size else 0.0}
            values.update(_percentiles('inference', inference))
            values.update(_percentiles('latency', latency))
            values.update(_percentiles('overhead', latency - inference, levels=(50, 90)))
            values.update({
                'frames received': self._input.received,
                'frames classified': self.classified,
                'frames dropped': self.dropped,
                'frames rejected': self.rejected,
                'regions classified': self.regions,
                'regions clipped': self.regions_clipped,
                'regions rejected': sum(self.regions_rejected.values()),
                'regions rejected by reason': ', '.join(
                    f'{reason}: {count}' for reason, count in self.regions_rejected.items()),
                'frames lost upstream': self._input.lost_upstream,
                'frames unstamped': self._input.unstamped,
                'input rate (header stamps)': self._input.stamp_rate(),
                'received rate': self._input.received_rate(now_s),
                'last error': self.last_error,
            })
            return values


class ModelCallStats:
    """Time and size of each model call; one call carries the newest frame of every camera."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls = collections.deque(maxlen=LATENCY_SAMPLES)
        self.calls = 0

    def call_made(self, inference_ms, images):
        """Record one backend call of `inference_ms` on a batch of `images`."""
        with self._lock:
            self.calls += 1
            self._calls.append((inference_ms, images))

    def snapshot(self) -> Dict[str, float]:
        """
        Return the call percentiles (ms), network fps and the images and time per image.

        network fps = 1000 / median call ms: how often every camera can get a frame through
        the model; per image, a call's time is split over the images it carried.
        """
        with self._lock:
            calls = np.asarray(self._calls, dtype=float).reshape(-1, 2)
        values = {'model calls': self.calls}
        if not len(calls):
            return values
        inference, images = calls[:, 0], calls[:, 1]
        per_image = float(np.median(inference / images))
        values.update(_percentiles('inference', inference))
        values.update({
            'network fps': 1000.0 / float(np.median(inference)),
            'images per call': float(images.mean()),
            'inference per image p50 ms': per_image,
            'network images per s': 1000.0 / per_image,
        })
        return values


def _percentiles(name, samples_ms, levels=(50, 90, 99)):
    if samples_ms.size == 0:
        return {}
    return {f'{name} p{level} ms': float(value)
            for level, value in zip(levels, np.percentile(samples_ms, levels))}
