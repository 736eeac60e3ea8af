"""Faithful fakes of tensorrt and pycuda for machines without a GPU."""

import sys
import types

from . import fake_pycuda, fake_tensorrt

# The TensorRT versions the contract tests run against: JetPack 6's and the newest.
TENSORRT_VERSIONS = ('10.3.0', '11.1.0')


def install(monkeypatch, tensorrt_version='10.3.0', **gpu):
    """Put fresh fakes where ``import tensorrt`` and ``import pycuda.driver`` find them."""
    fake_pycuda.reset(**gpu)
    fake_tensorrt.reset(tensorrt_version)
    package = types.ModuleType('pycuda')
    package.driver = fake_pycuda
    monkeypatch.setitem(sys.modules, 'pycuda', package)
    monkeypatch.setitem(sys.modules, 'pycuda.driver', fake_pycuda)
    monkeypatch.setitem(sys.modules, 'tensorrt', fake_tensorrt)
    return fake_tensorrt, fake_pycuda


def install_on_real_cuda(monkeypatch=None, tensorrt_version='10.3.0'):
    """
    Put the fake tensorrt, running on the real GPU through real pycuda, where it is imported.

    For real-GPU checks (fakes/real_cuda.py); ``import pycuda.driver`` finds the real one.
    Without `monkeypatch` (in a subprocess of its own) sys.modules is changed for good.
    """
    from . import real_cuda
    fake_tensorrt.reset(tensorrt_version, memory=real_cuda)
    if monkeypatch is None:
        sys.modules['tensorrt'] = fake_tensorrt
    else:
        monkeypatch.setitem(sys.modules, 'tensorrt', fake_tensorrt)
    return fake_tensorrt
