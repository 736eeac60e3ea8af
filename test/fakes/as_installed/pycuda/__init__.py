"""``import pycuda.driver`` in a test's subprocess: the fake pycuda (see ../tensorrt.py)."""

import sys

from fakes import fake_pycuda as driver

sys.modules[f'{__name__}.driver'] = driver
