"""A one-slot mailbox between a camera callback and a slower worker: the newest frame waits."""

import threading


class FrameMailbox:
    """
    Holds at most one item: put() replaces an item not yet taken, take() waits for one.

    This is how a node never falls behind its camera: the worker always gets the newest frame,
    and each frame overwritten before the worker took it is counted as dropped.
    """

    def __init__(self):
        self._ready = threading.Condition()
        self._item = None
        self._closed = False

    def put(self, item):
        """Store `item` (not None); return True if it replaced an item nobody took."""
        with self._ready:
            replaced = self._item is not None
            self._item = item
            self._ready.notify()
        return replaced

    def take(self, timeout_s=None):
        """Return the newest item, waiting up to `timeout_s`; None on timeout or once closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            if self._closed:
                return None
            item, self._item = self._item, None
            return item

    def close(self):
        """Wake every waiting take(); from now on take() returns None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
