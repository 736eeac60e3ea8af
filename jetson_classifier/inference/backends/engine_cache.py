"""
Where built TensorRT engines live: keyed file names, atomic writes, loud failures.

An engine is only valid for the exact ONNX bytes, TensorRT version, GPU, precision and
batch it was built for, so all of those go into its file name. Files are written to a
temporary name in the same directory and renamed, so a crash never leaves half an engine.
"""

import dataclasses
import hashlib
import logging
import os
import pathlib
import re
import tempfile

from jetson_classifier.errors import ModelLoadError

CACHE_DIR_ENV = 'JETSON_CLASSIFIER_CACHE_DIR'

_log = logging.getLogger(__name__)


def default_cache_dir():
    """$JETSON_CLASSIFIER_CACHE_DIR, else ~/.cache/jetson_classifier/engines."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path.home() / '.cache' / 'jetson_classifier' / 'engines'


def sha256_hex(data):
    """Hex SHA-256 of bytes: the identity of an ONNX model in cache keys."""
    return hashlib.sha256(data).hexdigest()


def _slug(text):
    return re.sub(r'[^A-Za-z0-9]+', '-', text).strip('-').lower()


@dataclasses.dataclass(frozen=True)
class EngineKey:
    """Everything a serialized engine depends on."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple
    precision: str
    max_batch: int

    def file_name(self, model_stem):
        """Readable prefix for people, digest of every field for correctness."""
        digest = sha256_hex(repr(dataclasses.astuple(self)).encode())[:16]
        major, minor = self.compute_capability
        return (f'{_slug(model_stem)}-{self.precision}-b{self.max_batch}'
                f'-trt{_slug(self.tensorrt_version)}-sm{major}{minor}-{digest}.engine')


class EngineCache:
    """A directory of engines, timing caches, INT8 calibration tables and FP16 models."""

    def __init__(self, cache_dir=None):
        self.directory = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
        self._check_writable()

    def _check_writable(self):
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, probe = tempfile.mkstemp(dir=self.directory, prefix='.write-test-')
            os.close(handle)
            os.unlink(probe)
        except OSError as err:
            raise ModelLoadError(
                f'engine cache directory {self.directory} is not writable ({err}); '
                f'set the cache_dir parameter or ${CACHE_DIR_ENV} to a writable directory, '
                'otherwise every start rebuilds the engine for minutes') from err

    def engine_path(self, key, model_stem):
        """Path of the engine for ``key``."""
        return self.directory / key.file_name(model_stem)

    def timing_cache_path(self, tensorrt_version, gpu_name, compute_capability):
        """One timing cache per TensorRT version and GPU, shared by all models."""
        major, minor = compute_capability
        return self.directory / (
            f'timing-trt{_slug(tensorrt_version)}-{_slug(gpu_name)}-sm{major}{minor}.cache')

    def fp16_model_path(self, model_stem, onnx_sha256):
        """Return where the FP16 copy of a model goes: strongly typed TensorRT builds from it."""
        return self.directory / f'{_slug(model_stem)}-{onnx_sha256[:16]}-fp16.onnx'

    def calibration_path(self, model_stem, onnx_sha256, input_shape):
        """INT8 calibration table for one model and input shape."""
        shape = 'x'.join(str(d) for d in input_shape)
        return self.directory / f'{_slug(model_stem)}-{onnx_sha256[:16]}-{shape}.calib'

    @staticmethod
    def read(path):
        """Bytes of ``path``, or None when it does not exist."""
        try:
            return pathlib.Path(path).read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def discard(path, reason):
        """Remove a stale or corrupt file, saying why."""
        _log.warning('discarding %s: %s', path, reason)
        pathlib.Path(path).unlink(missing_ok=True)
