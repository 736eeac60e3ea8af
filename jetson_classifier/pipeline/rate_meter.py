"""Rates over sliding time windows, without ROS: the fps a node reports and a network's fps."""

import collections
import statistics

# Shortest window the network fps is taken over: a few frames even at a switcher's tightest.
MIN_FPS_WINDOW_S = 0.5


class RateMeter:
    """
    Rate of the events of the last `window_s` seconds: (n - 1) / (last - first).

    Exact for a steady stream as soon as two events are in the window; falls to 0 once fewer
    than two events are younger than the window, so a stalled stream reads 0, not its past.
    """

    def __init__(self, window_s):
        """Measure over the last `window_s` seconds (> 0)."""
        self._times = collections.deque()
        self.window_s = window_s

    @property
    def window_s(self):
        """Return the window length in seconds."""
        return self._window_s

    @window_s.setter
    def window_s(self, seconds):
        if not seconds > 0:
            raise ValueError(f'rate window must be > 0 s, got {seconds!r}')
        self._window_s = float(seconds)

    def add(self, time_s):
        """Record one event at `time_s` (seconds on a monotonic clock)."""
        self._times.append(time_s)
        self._forget_before(time_s - self._window_s)

    def rate(self, now_s):
        """Return events per second over the window ending at `now_s`."""
        self._forget_before(now_s - self._window_s)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def _forget_before(self, oldest_s):
        while self._times and self._times[0] < oldest_s:
            self._times.popleft()


class NetworkFps:
    """
    Network fps over a sliding window: 1000 / median inference ms of the samples in it.

    The median, like the profile's fps (1000 / p50), ignores the slow first frame of a newly
    loaded model and scheduling hiccups, which a mean would turn into a false step down.
    """

    def __init__(self, window_s):
        self._samples = collections.deque()
        self.window_s = window_s

    @property
    def window_s(self):
        """Return the averaging window in seconds (never under MIN_FPS_WINDOW_S)."""
        return self._window_s

    @window_s.setter
    def window_s(self, seconds):
        self._window_s = max(seconds, MIN_FPS_WINDOW_S)

    def add(self, now, inference_ms):
        """Record one frame's inference time; non-positive or non-finite times are ignored."""
        if 0 < inference_ms < float('inf'):
            self._samples.append((now, inference_ms))

    def clear(self):
        """Forget every sample (the model changed)."""
        self._samples.clear()

    def fps(self, now):
        """Return the fps over the last window_s, None when no sample is that recent."""
        while len(self._samples) > 1 and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        if not self._samples or now - self._samples[-1][0] > self.window_s:
            return None
        return 1000.0 / statistics.median(ms for _, ms in self._samples)
