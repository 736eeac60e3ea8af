"""
A faithful stand-in for ``pycuda.driver``: CPU-backed device memory, lazy streams.

What it enforces, as CUDA does: cuInit before anything, a current context on the calling
thread for allocations, copies and streams (contexts are per thread), page-locked host
memory for async copies, and stream order: queued work runs only when the stream is
synchronized, so host memory read before ``synchronize()`` holds stale data.
"""

import threading

import numpy as np


class Error(Exception):
    """Base of pycuda errors."""


class LogicError(Error):
    """Programmer error, e.g. no current context."""


class MemoryError(Error):  # noqa: A001 - pycuda's own name
    """Allocation or illegal address."""


GPU = {'name': 'Orin (fake)', 'compute_capability': (8, 7)}


class _State:
    """Everything the fake driver remembers between calls."""

    def __init__(self):
        self.initialised = False
        self.threads = threading.local()
        self.allocations = {}
        self.next_address = 0x7F0000000000
        self.pinned = {}
        self.streams = {}
        self.next_stream_handle = 0x5000
        self.primary_retains = 0
        self.synchronize_calls = []


_state = _State()


def reset(name='Orin (fake)', compute_capability=(8, 7)):
    """Forget all memory, contexts and streams; choose the GPU the next test sees."""
    global _state
    _state = _State()
    GPU['name'] = name
    GPU['compute_capability'] = tuple(compute_capability)


def _stack():
    if not hasattr(_state.threads, 'stack'):
        _state.threads.stack = []
    return _state.threads.stack


def _require_context(call):
    if not _state.initialised:
        raise LogicError(f'{call} failed: not initialized (call pycuda.driver.init() first)')
    if not _stack():
        raise LogicError(f'{call} failed: invalid device context (no context is current '
                         'on this thread)')


def has_current_context():
    """Whether the calling thread has a context pushed (for the fake TensorRT)."""
    return bool(_stack())


def init(flags=0):
    """cuInit."""
    _state.initialised = True


class Device:
    """A handle to the n'th device."""

    def __init__(self, number):
        if not _state.initialised:
            raise LogicError('cuDeviceGet failed: not initialized')
        if number != 0:
            raise LogicError(f'cuDeviceGet failed: invalid device ordinal {number}')
        self.number = number

    @staticmethod
    def count():
        if not _state.initialised:
            raise LogicError('cuDeviceGetCount failed: not initialized')
        return 1

    def name(self):
        return GPU['name']

    def compute_capability(self):
        return GPU['compute_capability']

    def retain_primary_context(self):
        _state.primary_retains += 1
        return Context()


class Context:
    """The primary context: push/pop per thread, detach releases the retain."""

    def push(self):
        _stack().append(self)

    @staticmethod
    def pop():
        if not _stack():
            raise LogicError('cuCtxPopCurrent failed: context stack is empty')
        _stack().pop()

    def detach(self):
        _state.primary_retains -= 1

    @staticmethod
    def synchronize():
        _require_context('cuCtxSynchronize')
        for stream in list(_state.streams.values()):
            stream.synchronize()


class DeviceAllocation:
    """Linear device memory; ``int()`` gives its address."""

    def __init__(self, address, nbytes):
        self.address = address
        self.nbytes = nbytes

    def __int__(self):
        return self.address

    __index__ = __int__

    def free(self):
        _state.allocations.pop(self.address, None)


def mem_alloc(nbytes):
    """cuMemAlloc: zero-filled so reads of never-written memory are recognisable."""
    _require_context('cuMemAlloc')
    if nbytes <= 0:
        raise LogicError('cuMemAlloc failed: invalid value')
    address = _state.next_address
    _state.next_address += (nbytes + 0xFFF) // 0x1000 * 0x1000 + 0x1000
    _state.allocations[address] = np.zeros(nbytes, np.uint8)
    return DeviceAllocation(address, nbytes)


def device_bytes(address, nbytes):
    """Return a writable uint8 view of device memory [address, address + nbytes)."""
    address = int(address)
    for start, memory in _state.allocations.items():
        if start <= address < start + memory.size:
            offset = address - start
            if offset + nbytes > memory.size:
                raise MemoryError(f'an illegal memory access: {nbytes} bytes at {address:#x} '
                                  f'overrun an allocation of {memory.size} bytes')
            return memory[offset:offset + nbytes]
    raise MemoryError(f'an illegal memory access: {address:#x} is not device memory')


def pagelocked_empty(shape, dtype, order='C', mem_flags=0):
    """cuMemHostAlloc: a numpy array the fake remembers as page-locked."""
    _require_context('cuMemHostAlloc')
    array = np.empty(shape, dtype, order=order)
    _state.pinned[array.ctypes.data] = array
    return array


def _check_pinned(array, call):
    start = array.ctypes.data
    for base, pinned in _state.pinned.items():
        if base <= start and start + array.nbytes <= base + pinned.nbytes:
            return
    raise LogicError(f'{call} failed: host memory is not page-locked (use pagelocked_empty)')


def _host_bytes(array):
    if not array.flags.c_contiguous:
        raise LogicError('buffer is not contiguous')
    return array.reshape(-1).view(np.uint8)


def _enqueue(stream, work):
    if stream is None:
        work()
    else:
        stream.enqueue(work)


class Stream:
    """An in-order queue; work runs on synchronize(), as a GPU finishes it."""

    def __init__(self, flags=0):
        _require_context('cuStreamCreate')
        self.handle = _state.next_stream_handle
        _state.next_stream_handle += 1
        self._queue = []
        _state.streams[self.handle] = self

    def enqueue(self, work):
        self._queue.append(work)

    def is_done(self):
        return not self._queue

    def synchronize(self):
        _state.synchronize_calls.append(self.handle)
        while self._queue:
            self._queue.pop(0)()


def stream_by_handle(handle):
    """Return the fake stream behind a raw handle, or None (for the fake TensorRT)."""
    return _state.streams.get(handle)


def synchronize_calls():
    """Return the handles of the streams synchronized so far, in call order."""
    return list(_state.synchronize_calls)


def memcpy_htod_async(dest, src, stream=None):
    _require_context('cuMemcpyHtoDAsync')
    _check_pinned(src, 'cuMemcpyHtoDAsync')
    target = device_bytes(dest, src.nbytes)
    _enqueue(stream, lambda: target.__setitem__(slice(None), _host_bytes(src)))


def memcpy_dtoh_async(dest, src, stream=None):
    _require_context('cuMemcpyDtoHAsync')
    _check_pinned(dest, 'cuMemcpyDtoHAsync')
    source = device_bytes(src, dest.nbytes)
    _enqueue(stream, lambda: _host_bytes(dest).__setitem__(slice(None), source))


def memcpy_htod(dest, src):
    _require_context('cuMemcpyHtoD')
    src = np.ascontiguousarray(src)
    device_bytes(dest, src.nbytes)[:] = _host_bytes(src)


def memcpy_dtoh(dest, src):
    _require_context('cuMemcpyDtoH')
    _host_bytes(dest)[:] = device_bytes(src, dest.nbytes)
