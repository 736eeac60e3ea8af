"""Mailboxes between a camera callback and slower workers: only the newest frame waits."""

import threading


class FrameMailbox:
    """
    Holds at most one item per key: put() replaces an item not yet taken, take() waits.

    This is how a node never falls behind its cameras: the worker always gets each camera's
    newest frame, and each frame overwritten before the worker took it is counted as dropped.
    take() returns the items of every key that has one, so no camera waits behind another.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._items = {}
        self._closed = False

    def put(self, item, key=None):
        """Store `item` under `key`; return the item it replaced, which nobody took, or None."""
        with self._ready:
            replaced = self._items.get(key)
            self._items[key] = item
            self._wake_takers()
        return replaced

    def take(self, timeout_s=None):
        """
        Return the newest item of every key that has one, waiting up to `timeout_s`.

        Items come in the order their keys got one since the last take; [] on timeout, None
        once closed.
        """
        with self._ready:
            self._ready.wait_for(lambda: self._items or self._closed, timeout_s)
            return None if self._closed else self._take_items()

    def _wake_takers(self):
        self._ready.notify_all()

    def _take_items(self):
        items, self._items = list(self._items.values()), {}
        return items

    def close(self):
        """Wake every waiting take(); from now on take() returns None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class BatchHandover(FrameMailbox):
    """
    A frame mailbox shared by an inference thread and a preparing thread, one batch ahead.

    The inference thread takes the prepared batch if one waits, else the frames, to prepare
    them itself: a frame that finds it idle reaches the model with one thread hand-off. The
    preparing thread takes frames only while the inference thread is busy and no prepared
    batch waits, so at saturation it prepares the next batch while the model runs, no more.
    """

    def __init__(self):
        super().__init__()
        self._to_prepare = threading.Condition(self._lock)  # _ready wakes the inference thread
        self._prepared = None
        self._inferring = self._preparing = False

    def _wake_takers(self):
        """Wake only the thread that may take the frames: a needless wake-up costs the other."""
        self._ready.notify()
        if self._inferring:
            self._to_prepare.notify()

    def take_to_prepare(self):
        """Wait until the model runs and no prepared batch waits; return frames (None: closed)."""
        with self._to_prepare:
            self._to_prepare.wait_for(lambda: self._closed or (
                self._items and self._inferring and not self._preparing
                and self._prepared is None))
            if self._closed:
                return None
            self._preparing = True
            return self._take_items()

    def put_prepared(self, batch):
        """Hand the batch made of take_to_prepare()'s frames to the inference thread ([]: none)."""
        with self._ready:
            self._prepared, self._preparing = batch or None, False
            self._ready.notify()

    def take_to_infer(self):
        """
        Wait for work; return (prepared batch, None) or (None, frames to prepare); None: closed.

        Frames are taken only while none are being prepared, so batches keep their order.
        """
        with self._ready:
            self._ready.wait_for(lambda: self._closed or self._prepared is not None or (
                self._items and not self._preparing))
            if self._closed:
                return None
            self._inferring = True
            if self._prepared is not None:
                prepared, self._prepared = self._prepared, None
                if self._items:
                    self._to_prepare.notify()
                return prepared, None
            return None, self._take_items()

    def done_inferring(self):
        """Say the batch taken last is delivered (or failed)."""
        with self._ready:
            self._inferring = False

    def close(self):
        """Wake both threads; from now on their takes return None."""
        super().close()
        with self._to_prepare:
            self._to_prepare.notify_all()
