"""
A faithful stand-in for ``pycuda.driver``: CPU-backed device memory, lazy streams.

What it enforces, as CUDA and pycuda do (pycuda src/cpp/cuda.hpp, the classes context,
primary_context, context_stack, scoped_context_activation, device_allocation): cuInit
before anything; a current, live context on the calling thread for allocations, copies and
streams; context stacks per thread, kept twice as pycuda keeps them (pycuda's own stack, and
the driver's, which pycuda keeps one deep by popping the old context before each push);
page-locked host memory for async copies; stream order (queued work runs only when the
stream is synchronized, so host memory read before ``synchronize()`` holds stale data).

Primary contexts as pycuda treats them: ``Device.retain_primary_context()`` retains without
pushing; ``Context.detach()`` on a context that is not current pushes it onto the driver's
stack, then releases it without a pop ("pop is implicit in detach", true of cuCtxDetach, not
of cuDevicePrimaryCtxRelease), and on a thread other than the retaining one releases nothing.
The context is destroyed when its last retain is released. Freeing device memory, or dropping
a page-locked array, activates the memory's context, which pycuda refuses for another
thread's context (a warning, and the memory leaks).

Checks of the fake's own, on top of CUDA's: releasing the primary context while a
TensorRT engine (registered by the fake tensorrt) is still alive raises, since CUDA would
free the engine's memory under it; ``context_stacks()`` shows every thread's stacks.
"""

import threading
import warnings
import weakref

import numpy as np


class Error(Exception):
    """Base of pycuda errors."""


class LogicError(Error):
    """Programmer error, e.g. no current context."""


class RuntimeError(Error):  # noqa: A001 - pycuda's own name
    """The driver or the hardware refused, e.g. no CUDA-capable device."""


class MemoryError(Error):  # noqa: A001 - pycuda's own name
    """Allocation or illegal address."""


GPU = {'name': 'Orin (fake)', 'compute_capability': (8, 7), 'count': 1}


class _State:
    """Everything the fake driver remembers between calls."""

    def __init__(self):
        self.initialised = False
        self.pycuda_stacks = {}
        self.driver_stacks = {}
        self.allocations = {}
        self.next_address = 0x7F0000000000
        self.pinned = weakref.WeakValueDictionary()
        self.streams = weakref.WeakValueDictionary()
        self.next_stream_handle = 0x5000
        self.primary_retain_calls = 0
        self.primary_retains = 0
        self.engines = weakref.WeakSet()
        self.synchronize_calls = []


_state = _State()


def reset(name='Orin (fake)', compute_capability=(8, 7), count=1):
    """Forget all memory, contexts and streams; choose the GPU(s) the next test sees."""
    global _state
    _state = _State()
    GPU.update(name=name, compute_capability=tuple(compute_capability), count=count)


def _stacks():
    """Return the calling thread's (pycuda stack, driver stack)."""
    thread = threading.get_ident()
    return (_state.pycuda_stacks.setdefault(thread, []),
            _state.driver_stacks.setdefault(thread, []))


def context_stacks():
    """Return {thread id: (pycuda stack depth, driver stack depth)} of threads with any."""
    return {thread: (len(_state.pycuda_stacks.get(thread, ())), len(driver))
            for thread, driver in _state.driver_stacks.items()
            if driver or _state.pycuda_stacks.get(thread)}


def primary_context_retains():
    """Return (retain calls so far, retains not yet released)."""
    return _state.primary_retain_calls, _state.primary_retains


def register_engine(engine):
    """Note a TensorRT engine alive in the primary context (for the fake tensorrt)."""
    _state.engines.add(engine)


def _require_context(call):
    if not _state.initialised:
        raise LogicError(f'{call} failed: not initialized (call pycuda.driver.init() first)')
    driver = _stacks()[1]
    if not driver:
        raise LogicError(f'{call} failed: invalid device context (no context is current '
                         'on this thread)')
    if _state.primary_retains == 0:
        raise LogicError(f'{call} failed: context is destroyed (the current context was '
                         'released)')


def has_current_context():
    """Whether the calling thread has a context pushed (for the fake TensorRT)."""
    return bool(_stacks()[1])


def init(flags=0):
    """cuInit: fails as on a machine without a GPU when the fake has none."""
    if not GPU['count']:
        raise RuntimeError('cuInit failed: no CUDA-capable device is detected')
    _state.initialised = True


class Device:
    """A handle to the n'th device."""

    def __init__(self, number):
        if not _state.initialised:
            raise LogicError('cuDeviceGet failed: not initialized')
        if not 0 <= number < GPU['count']:
            raise LogicError(f'cuDeviceGet failed: invalid device ordinal {number}')
        self.number = number

    @staticmethod
    def count():
        if not _state.initialised:
            raise LogicError('cuDeviceGetCount failed: not initialized')
        return GPU['count']

    def name(self):
        return GPU['name']

    def compute_capability(self):
        return GPU['compute_capability']

    def retain_primary_context(self):
        """cuDevicePrimaryCtxRetain: one more retain, nothing pushed."""
        _state.primary_retain_calls += 1
        _state.primary_retains += 1
        return Context()


class Context:
    """The primary context as pycuda wraps it: push/pop per thread, detach releases."""

    def __init__(self):
        self.valid = True
        self.thread = threading.get_ident()

    def push(self):
        """Push as pycuda's context_push does: pop the driver's current context first."""
        if not self.valid or _state.primary_retains == 0:
            raise LogicError('cuCtxPushCurrent failed: invalid device context')
        pycuda, driver = _stacks()
        if pycuda:
            driver.pop()
        driver.append(self)
        pycuda.append(self)

    @staticmethod
    def pop():
        """Pop as pycuda's context::pop does: both stacks; the next pycuda context is current."""
        pycuda, driver = _stacks()
        if not pycuda:
            raise LogicError('context::pop failed: cannot pop non-current context')
        driver.pop()
        pycuda.pop()
        if pycuda:
            driver.append(pycuda[-1])

    def detach(self):
        """Detach as pycuda detaches a primary context (see the module docstring)."""
        if not self.valid:
            raise LogicError('context::detach failed: cannot detach from invalid context')
        alive = len(_state.engines)
        if alive:
            raise LogicError(f'fake check: the primary context is released while {alive} '
                             'TensorRT engine(s) still use it')
        pycuda, driver = _stacks()
        current = bool(pycuda) and pycuda[-1] is self
        if current or self.thread == threading.get_ident():
            if not current:
                driver.append(self)  # cuCtxPushCurrent, and the release does not pop it
            _state.primary_retains -= 1
        self.valid = False
        while pycuda and not pycuda[-1].valid:
            pycuda.pop()

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
        self._context = _stacks()[0][-1]

    def __int__(self):
        return self.address

    __index__ = __int__

    def free(self):
        """Free in the allocation's context, as pycuda: another thread's cannot be pushed."""
        if _can_free_in(self._context, 'device_allocation'):
            _state.allocations.pop(self.address, None)


def _can_free_in(context, what):
    """Tell whether pycuda can free memory of `context` here; warn as it does where it cannot."""
    pycuda = _stacks()[0]
    activated = bool(pycuda) and pycuda[-1] is context
    if context.valid and not activated and context.thread != threading.get_ident():
        warnings.warn(f'{what} in out-of-thread context could not be cleaned up', UserWarning)
        return False
    return True


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
    """
    cuMemHostAlloc: a numpy array the fake remembers as page-locked.

    When the array dies it is freed in its context as pycuda frees it, so an array dropped on
    another thread while no context is current leaks with pycuda's warning.
    """
    _require_context('cuMemHostAlloc')
    array = np.empty(shape, dtype, order=order)
    _state.pinned[array.ctypes.data] = array
    weakref.finalize(array, _free_pinned, _state, _stacks()[0][-1])
    return array


def _free_pinned(state, context):
    if state is _state:  # not an array of a test before the last reset()
        _can_free_in(context, 'pagelocked_host_allocation')


def _check_pinned(array, call):
    start = array.ctypes.data
    for base, pinned in list(_state.pinned.items()):
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
        self._lock = threading.Lock()
        _state.streams[self.handle] = self

    def enqueue(self, work):
        with self._lock:
            self._queue.append(work)

    def is_done(self):
        return not self._queue

    def synchronize(self):
        _state.synchronize_calls.append(self.handle)
        with self._lock:
            work, self._queue = self._queue, []
        for item in work:
            item()


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
