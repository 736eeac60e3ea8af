"""
A real GPU's streams and memory under the fake TensorRT, through real pycuda.

``fake_tensorrt.reset(version, memory=real_cuda)`` makes engines (and INT8 calibrations)
find their streams and device buffers here instead of in fake_pycuda. An execution then
runs where ``execute_async_v3`` is called, in stream order: it synchronizes the context
(the input copy queued before it on the stream is done), copies each input from device
memory to the host, runs the fake's ONNX Runtime session, copies the outputs to their device
buffers and synchronizes again, so the output copy queued after it reads them. Every copy
needs the caller's context to be current, as TensorRT's do. The fake's own protocol checks
(addresses and input shapes set) run first, as with fake_pycuda.
"""

import numpy as np
import pycuda.driver as cuda

Error = cuda.Error


class _Stream:
    """A raw stream handle: work given to it runs at once, after the context's queued work."""

    def __init__(self, handle):
        self.handle = handle

    def enqueue(self, work):
        cuda.Context.synchronize()
        work()
        cuda.Context.synchronize()


class _DeviceBytes:
    """Device memory [address, address + nbytes), read and written by synchronous copies."""

    def __init__(self, address, nbytes):
        self.address, self.nbytes = int(address), nbytes

    def view(self, dtype):
        """Return a host copy of the bytes, as `dtype`."""
        host = np.empty(self.nbytes, np.uint8)
        cuda.memcpy_dtoh(host, self.address)
        return host.view(dtype)

    def __setitem__(self, index, data):
        """Write all of the bytes (``memory[:] = data``, data exactly nbytes long)."""
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        if index != slice(None) or data.nbytes != self.nbytes:
            raise ValueError(f'{data.nbytes} bytes cannot fill device memory of '
                             f'{self.nbytes} bytes at {self.address:#x}')
        cuda.memcpy_htod(self.address, data)


def stream_by_handle(handle):
    """Return the stream behind a raw handle (CUDA itself refuses an invalid one)."""
    return _Stream(handle)


def device_bytes(address, nbytes):
    """Return device memory [address, address + nbytes) to read with view() or write whole."""
    return _DeviceBytes(address, nbytes)
