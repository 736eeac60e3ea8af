"""
Pairs a camera's frames with the detections made on them, by exact header stamp, without ROS.

vision_msgs asks a detector to copy its image's header into its Detection2DArray, so the stamp
is the key (as message_filters' exact-time policy has it). Whichever comes first waits in a
small buffer for its partner; after `timeout_s`, or when `capacity` others wait behind it, it
is dropped and counted: a detector that skips frames leaves frames unmatched, one whose frame
never arrived (or came too late) leaves detections unmatched.
"""

import collections
import threading
from typing import Any, Optional, Tuple

FRAME, DETECTIONS = 'frames', 'detections'
CAPACITY = 30


class StampMatcher:
    """A stamp-keyed buffer of frames and detections waiting for each other."""

    def __init__(self, timeout_s: float, capacity: int = CAPACITY):
        """Drop what waited `timeout_s` seconds, or the oldest when `capacity` wait."""
        self.timeout_s = timeout_s
        self._capacity = capacity
        self._lock = threading.Lock()
        self._waiting = {FRAME: collections.OrderedDict(),
                         DETECTIONS: collections.OrderedDict()}
        self.unmatched = dict.fromkeys(self._waiting, 0)

    def add_frame(self, stamp, frame, now_s) -> Optional[Tuple[Any, Any]]:
        """Add a frame stamped `stamp`; return (frame, detections) once its detections are in."""
        pair = self._add(FRAME, DETECTIONS, stamp, frame, now_s)
        return None if pair is None else (frame, pair)

    def add_detections(self, stamp, detections, now_s) -> Optional[Tuple[Any, Any]]:
        """Add detections stamped `stamp`; return (frame, detections) once the frame is in."""
        pair = self._add(DETECTIONS, FRAME, stamp, detections, now_s)
        return None if pair is None else (pair, detections)

    def expire(self, now_s):
        """Drop and count what has waited longer than `timeout_s` at `now_s`."""
        with self._lock:
            self._expire(now_s)

    def _add(self, side, other, stamp, item, now_s):
        with self._lock:
            self._expire(now_s)
            partner = self._waiting[other].pop(stamp, None)
            if partner is not None:
                return partner[1]
            waiting = self._waiting[side]
            if waiting.pop(stamp, None) is not None:  # the same stamp again: the newer wins
                self.unmatched[side] += 1
            waiting[stamp] = (now_s, item)
            while len(waiting) > self._capacity:
                waiting.popitem(last=False)
                self.unmatched[side] += 1
            return None

    def _expire(self, now_s):
        for side, waiting in self._waiting.items():
            while waiting and now_s - next(iter(waiting.values()))[0] > self.timeout_s:
                waiting.popitem(last=False)
                self.unmatched[side] += 1
