"""Mailboxes between a camera callback and a slower worker: only the newest frame waits."""

import threading


class FrameMailbox:
    """
    Holds at most one item per key: put() replaces an item not yet taken, take() waits.

    This is how a node never falls behind its cameras: the worker always gets each camera's
    newest frame, and each frame overwritten before the worker took it is counted as dropped.
    take() returns the items of every key that has one, so no camera waits behind another.
    """

    def __init__(self):
        self._ready = threading.Condition()
        self._items = {}
        self._closed = False

    def put(self, item, key=None):
        """Store `item` under `key`; return the item it replaced, which nobody took, or None."""
        with self._ready:
            replaced = self._items.get(key)
            self._items[key] = item
            self._ready.notify_all()  # a taker, not only one waiting until taken
        return replaced

    def take(self, timeout_s=None):
        """
        Return the newest item of every key that has one, waiting up to `timeout_s`.

        Items come in the order their keys got one since the last take; [] on timeout, None
        once closed.
        """
        with self._ready:
            self._ready.wait_for(lambda: self._items or self._closed, timeout_s)
            if self._closed:
                return None
            items, self._items = list(self._items.values()), {}
            self._ready.notify_all()
            return items

    def wait_until_taken(self):
        """Wait until every item put has been taken (or the mailbox is closed)."""
        with self._ready:
            self._ready.wait_for(lambda: not self._items or self._closed)

    def close(self):
        """Wake every waiting take(); from now on take() returns None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
