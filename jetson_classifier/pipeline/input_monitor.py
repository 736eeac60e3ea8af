"""
What the camera sent versus what arrived, read from the frames' header stamps (no ROS).

A camera stamps frames at its own period; a stamp gap well over that period means frames were
lost before this node saw them (in the driver or the transport), so loss upstream shows up
beside the node's own drops.
"""

import collections
import statistics

from jetson_classifier.pipeline.rate_meter import RateMeter

GAP_FACTOR = 1.5
PERIOD_SAMPLES = 31
MIN_PERIOD_SAMPLES = 3


class InputMonitor:
    """
    Counts received frames, frames lost upstream and the input rate seen in header stamps.

    The camera period is the median of the recent stamp gaps, so it holds while fewer than
    half of the frames are lost. A gap of g periods (g > GAP_FACTOR) means round(g) - 1
    frames lost, counted when the next frame comes: if that one comes within half a period,
    the frame before it was late, not after a loss (a driver that stamps at sending time on a
    busy CPU), and one fewer is counted. Unset stamps (0) are counted and skipped; a stamp
    that goes back (a replayed bag, a restarted camera) starts the period estimate afresh.
    """

    def __init__(self, window_s):
        """Measure the received rate over the last `window_s` seconds."""
        self.received = 0
        self.lost_upstream = 0
        self.unstamped = 0
        self._arrivals = RateMeter(window_s)
        self._gaps = collections.deque(maxlen=PERIOD_SAMPLES)
        self._last_stamp_s = None
        self._lost_if_on_time = 0

    @property
    def window_s(self):
        """Return the received-rate window in seconds."""
        return self._arrivals.window_s

    @window_s.setter
    def window_s(self, seconds):
        self._arrivals.window_s = seconds

    def add(self, stamp_s, arrival_s):
        """Record a frame stamped `stamp_s` (header, seconds) that arrived at `arrival_s`."""
        self.received += 1
        self._arrivals.add(arrival_s)
        if stamp_s == 0:
            self.unstamped += 1
            return
        last, self._last_stamp_s = self._last_stamp_s, stamp_s
        if last is None:
            return
        gap = stamp_s - last
        if gap <= 0:
            self._gaps.clear()
            self._lost_if_on_time = 0
            return
        period = self.period_s
        if period is not None:
            late = gap < 0.5 * period
            self.lost_upstream += max(0, self._lost_if_on_time - late)
            self._lost_if_on_time = round(gap / period) - 1 if gap > GAP_FACTOR * period else 0
        self._gaps.append(gap)

    @property
    def period_s(self):
        """Return the camera period estimated from header stamps, or None until known."""
        if len(self._gaps) < MIN_PERIOD_SAMPLES:
            return None
        return statistics.median(self._gaps)

    def stamp_rate(self):
        """Return the camera's frame rate seen in header stamps (0 until known)."""
        period = self.period_s
        return 1.0 / period if period else 0.0

    def received_rate(self, now_s):
        """Return frames received per second over the window ending at `now_s`."""
        return self._arrivals.rate(now_s)
