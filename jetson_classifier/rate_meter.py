"""Events per second over a sliding time window: the fps a node reports, without ROS."""

import collections


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
