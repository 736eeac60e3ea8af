"""
INT8 calibration of FP32 models on TensorRT 10: an entropy calibrator fed from images.

Images go through the model's own preprocessing, so calibration sees what inference
sees. The calibration table TensorRT writes is cached; with a table present no image
is read. (QDQ-quantized models need none of this: their scales are in the graph.)
"""

import logging
import pathlib

import numpy as np

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import ImageError, ModelLoadError
from jetson_classifier.inference.backends.engine_cache import EngineCache
from jetson_classifier.inference.image_files import find_images, IMAGE_SUFFIXES, read_rgb
from jetson_classifier.inference.model_info import read_model_info
from jetson_classifier.inference.preprocessing import preprocess

MAX_IMAGES = 512

_log = logging.getLogger(__name__)


def list_images(folder, limit=MAX_IMAGES):
    """Return the first ``limit`` image files under ``folder``, sorted by path."""
    if not pathlib.Path(folder).is_dir():
        raise ImageError(f'calibration image folder {folder} does not exist')
    files = find_images([folder])
    if not files:
        raise ImageError(f'calibration image folder {folder} holds no '
                         f'{"/".join(IMAGE_SUFFIXES)} files')
    return files[:limit]


def image_batches(files, prepare, batch_size):
    """
    Yield float32 NCHW batches of ``batch_size`` preprocessed images.

    Undecodable files are skipped with a warning (an exception cannot cross back into
    TensorRT's build); a last partial batch is dropped, as TensorRT wants full ones.
    """
    pending = []
    for path in files:
        try:
            pending.append(prepare(read_rgb(path)))
        except ImageError as err:
            _log.warning('skipping calibration image: %s', err)
            continue
        if len(pending) == batch_size:
            yield np.concatenate(pending).astype(np.float32)
            pending = []


def model_preprocessor(model_path):
    """Return the preprocessing the model's metadata asks for: RGB image -> (1, 3, S, S)."""
    info = read_model_info(model_path)
    return lambda rgb: preprocess(rgb, info)


def make_entropy_calibrator(trt, device, model_path, image_folder, input_shape, table_path):
    """
    Make a trt.IInt8EntropyCalibrator2 over ``image_folder``, caching its table at table_path.

    ``input_shape`` is the calibration batch shape (N, C, H, W); ``device`` a CudaDevice.
    TensorRT 10 only: 11 has no calibrators.
    """
    base = trt.IInt8EntropyCalibrator2
    files = list_images(image_folder) if image_folder is not None else None
    prepare = model_preprocessor(model_path) if files is not None else None
    if files is None and not pathlib.Path(table_path).exists():
        raise ModelLoadError(
            f'int8 for the FP32 model {model_path} needs calibration images (a folder of '
            f'sample photos) or a QDQ-quantized model; no cached table at {table_path}')

    class EntropyCalibrator(base):
        """Feeds preprocessed image batches to TensorRT from one device buffer."""

        def __init__(self):
            base.__init__(self)
            self.batches_served = 0
            self._batches = None
            self._buffer = None

        def get_batch_size(self):
            return input_shape[0]

        def get_batch(self, names):
            if files is None:
                _log.error('TensorRT rejected the calibration table %s and no calibration '
                           'images were given', table_path)
                return None
            if self._batches is None:
                self._batches = image_batches(files, prepare, input_shape[0])
                self._buffer = device.device_buffer(
                    int(np.prod(input_shape)) * np.dtype(np.float32).itemsize)
            batch = next(self._batches, None)
            if batch is None:
                return None
            device.copy_to_device(self._buffer, np.ascontiguousarray(batch))
            self.batches_served += 1
            return [int(self._buffer)]

        def read_calibration_cache(self):
            return EngineCache.read(table_path)

        def write_calibration_cache(self, cache):
            write_atomically(table_path, bytes(cache))

        def close(self):
            """Free the device buffer once the build is over."""
            if self._buffer is not None:
                self._buffer.free()
                self._buffer = None

    return EntropyCalibrator()
