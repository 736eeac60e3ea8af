"""
How a node is doing, as diagnostic_updater's levels: OK, WARN or ERROR, held while the cause is.

A problem that keeps happening (frames rejected, model switches refused) is WARN until it
has not happened for `hold_s`; no frame for `hold_s` while the node listens for them is
ERROR until one arrives. So a monitor shows a level for as long as its cause lasts, not for
one report.
"""

import enum


class Level(enum.IntEnum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2


class Health:
    """Turns counters and the time of the last frame into a level and its reasons."""

    def __init__(self, hold_s):
        """Hold a WARN for `hold_s` after its counter last grew; ERROR after `hold_s` silent."""
        self.hold_s = hold_s
        self._counts = {}
        self._grew_at = {}

    def assess(self, now_s, counters, listening_since_s=None, last_frame_s=None):
        """
        Return (Level, reasons in words) at `now_s`.

        `counters` maps a problem ('frames rejected', ...) to its running count.
        `listening_since_s` is when the node began to wait for frames (None: it is not).
        """
        reasons, level = [], Level.OK
        for name, count in counters.items():
            if count > self._counts.get(name, 0):
                self._grew_at[name] = now_s
            self._counts[name] = count
            since = self._grew_at.get(name)
            if since is not None and now_s - since < self.hold_s:
                level = Level.WARN
                reasons.append(f'{name} {now_s - since:.0f} s ago ({count} in all)')
        if listening_since_s is not None:
            silent_since = max(listening_since_s, last_frame_s or listening_since_s)
            if now_s - silent_since >= self.hold_s:
                level = Level.ERROR
                reasons.insert(0, f'no frame for {now_s - silent_since:.0f} s')
        return level, reasons
