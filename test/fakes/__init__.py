"""Faithful fakes of tensorrt and pycuda for machines without a GPU."""

import sys
import types

from . import fake_pycuda, fake_tensorrt


def install(monkeypatch):
    """Put fresh fakes where ``import tensorrt`` and ``import pycuda.driver`` find them."""
    fake_pycuda.reset()
    fake_tensorrt.reset()
    package = types.ModuleType('pycuda')
    package.driver = fake_pycuda
    monkeypatch.setitem(sys.modules, 'pycuda', package)
    monkeypatch.setitem(sys.modules, 'pycuda.driver', fake_pycuda)
    monkeypatch.setitem(sys.modules, 'tensorrt', fake_tensorrt)
    return fake_tensorrt, fake_pycuda
