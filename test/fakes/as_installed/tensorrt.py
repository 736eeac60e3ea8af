"""
``import tensorrt`` in a test's subprocess: the fake, as TensorRT $FAKE_TENSORRT_VERSION.

Put this folder and test/ first on the subprocess's PYTHONPATH.
"""

import os
import sys

from fakes import fake_tensorrt

fake_tensorrt.reset(os.environ.get('FAKE_TENSORRT_VERSION', '10.3.0'))
sys.modules[__name__] = fake_tensorrt
