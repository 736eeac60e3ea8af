"""
The one module that touches CUDA: a GPU's primary context, buffers, streams, copies.

pycuda serves here; cuda-python could serve behind the same few methods. pycuda.autoinit
is avoided on purpose: it makes a context current only on the importing thread, while a
ROS node calls in from executor threads. Instead each GPU's primary context (the one
TensorRT's CUDA runtime calls use as well) is retained once per process by open_device(),
pushed and popped around every use (``with device.activate(): ...``) and released at exit.
It is never detached per model: pycuda's detach of a primary context that is not current
pushes it, then releases it without a pop (pycuda src/cpp/cuda.hpp, context::detach and
primary_context::detach_internal), which left one stale entry on the closing thread's
context stack per model switch.
"""

import atexit
import contextlib
import logging
import threading

from jetson_classifier.errors import BackendUnavailableError

_log = logging.getLogger(__name__)
_devices = {}
_devices_lock = threading.Lock()


def import_pycuda_driver():
    """Import pycuda.driver, or raise BackendUnavailableError saying how to get it."""
    try:
        import pycuda.driver as cuda
    except ImportError as err:
        raise BackendUnavailableError(
            f'pycuda cannot be imported ({err}); build it on the Jetson with CUDA_ROOT and nvcc '
            'on PATH: CUDA_ROOT=/usr/local/cuda PATH=/usr/local/cuda/bin:$PATH '
            'pip install pycuda') from err
    return cuda


def open_device(index=0):
    """
    Return this process's CudaDevice for GPU `index`, with one more user; close() it after.

    The first call retains the GPU's primary context; later ones share it.
    """
    with _devices_lock:
        device = _devices.get(index)
        if device is None:
            device = _devices[index] = CudaDevice(index)
        device._users += 1
        return device


def release_devices():
    """
    Release the primary context of every opened GPU; runs at exit.

    A GPU still in use (an engine not closed) keeps its context for the driver to drop at
    process exit: releasing it under a live engine would destroy the engine's memory first.
    """
    with _devices_lock:
        devices = list(_devices.values())
        _devices.clear()
    for device in devices:
        device._release()


atexit.register(release_devices)


class CudaDevice:
    """One GPU through pycuda: device and pinned host buffers, streams, async copies."""

    def __init__(self, index=0):
        """Retain GPU `index`'s primary context; BackendUnavailableError when it cannot."""
        cuda = import_pycuda_driver()
        try:
            cuda.init()
            count = cuda.Device.count()
            if index >= count:
                raise BackendUnavailableError(
                    f'CUDA device {index} was requested but {count} device(s) were found')
            device = cuda.Device(index)
            self.name = device.name()
            self.compute_capability = tuple(device.compute_capability())
            self._context = device.retain_primary_context()
        except cuda.Error as err:
            raise BackendUnavailableError(f'CUDA device {index} is not usable: {err}') from err
        self._cuda = cuda
        self._users = 0

    def __str__(self):
        major, minor = self.compute_capability
        return f'{self.name} (sm_{major}{minor})'

    @contextlib.contextmanager
    def activate(self):
        """Make this device's context current on the calling thread for the block."""
        self._context.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def device_buffer(self, nbytes):
        """Allocate device memory; ``int(buffer)`` is its address."""
        return self._cuda.mem_alloc(nbytes)

    def pinned_array(self, shape, dtype):
        """Allocate a page-locked host array, required for truly async copies."""
        return self._cuda.pagelocked_empty(shape, dtype)

    def stream(self):
        """Create a stream; ``stream.handle`` is what TensorRT enqueues on."""
        return self._cuda.Stream()

    def copy_to_device_async(self, device_buffer, host_array, stream):
        """Queue a host-to-device copy of the whole (pinned) ``host_array``."""
        self._cuda.memcpy_htod_async(device_buffer, host_array, stream)

    def copy_to_host_async(self, host_array, device_buffer, stream):
        """Queue a device-to-host copy filling the whole (pinned) ``host_array``."""
        self._cuda.memcpy_dtoh_async(host_array, device_buffer, stream)

    def copy_to_device(self, device_buffer, host_array):
        """Copy ``host_array`` to the device and wait for it."""
        self._cuda.memcpy_htod(device_buffer, host_array)

    def close(self):
        """Say one user is done (its buffers freed); the context stays for the next one."""
        with _devices_lock:
            self._users -= 1

    def _release(self):
        if self._users:
            _log.warning('%s: %d TensorRT engine(s) still open at exit; leaving the CUDA '
                         'context to the driver', self, self._users)
            return
        self._context.detach()
