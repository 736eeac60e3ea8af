"""
The one module that touches CUDA: buffers, a stream, copies, and the device's context.

pycuda serves here; cuda-python could serve behind the same few methods. pycuda.autoinit
is avoided on purpose: it makes a context current only on the importing thread, while a
ROS node calls in from executor threads. Instead the device's primary context is
retained once and pushed/popped around every use (``with device.activate(): ...``).
"""

import contextlib

from jetson_classifier.errors import BackendUnavailableError


def _import_pycuda_driver():
    try:
        import pycuda.driver as cuda
    except ImportError as err:
        raise BackendUnavailableError(
            f'pycuda cannot be imported ({err}); install it with `pip install pycuda` '
            'on a machine with the CUDA toolkit') from err
    return cuda


class CudaDevice:
    """One GPU through pycuda: device and pinned host buffers, streams, async copies."""

    def __init__(self, index=0):
        cuda = _import_pycuda_driver()
        try:
            cuda.init()
            count = cuda.Device.count()
            if index >= count:
                raise BackendUnavailableError(
                    f'CUDA device {index} was requested but {count} device(s) were found')
            device = cuda.Device(index)
            self._context = device.retain_primary_context()
            self.name = device.name()
            self.compute_capability = tuple(device.compute_capability())
        except cuda.Error as err:
            raise BackendUnavailableError(f'CUDA device {index} is not usable: {err}') from err
        self._cuda = cuda

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
        """Release the retained primary context; buffers must be freed before."""
        self._context.detach()
