"""Inference backends behind one interface, chosen by name."""

import logging

from jetson_classifier.errors import BackendUnavailableError
from jetson_classifier.inference.backends.base import Backend

BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime')
TENSORRT_OPTIONS = ('precision', 'cache_dir', 'max_batch', 'workspace_mb',
                    'calibration_images', 'progress')

_log = logging.getLogger(__name__)


def create_backend(kind, model_path, **options):
    """
    Load `model_path` with backend `kind` (auto|tensorrt|onnxruntime).

    auto is TensorRT where tensorrt and pycuda import and a GPU answers, else ONNX Runtime.

    Options a backend does not use are ignored, so one set of node parameters serves all.
    """
    if kind not in BACKEND_NAMES:
        raise BackendUnavailableError(
            f'unknown backend {kind!r}: expected one of {", ".join(BACKEND_NAMES)}')
    if kind in ('auto', 'tensorrt'):
        from jetson_classifier.inference.backends.tensorrt_backend import TensorRTBackend
        try:
            return TensorRTBackend(model_path, **{
                k: options[k] for k in TENSORRT_OPTIONS if options.get(k) is not None})
        except BackendUnavailableError as error:
            if kind == 'tensorrt':
                raise
            _log.info('TensorRT is not usable here (%s); using ONNX Runtime', error)
    from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
    return OnnxRuntimeBackend(model_path, threads=options.get('threads'),
                              precision=options.get('precision'),
                              cache_dir=options.get('cache_dir'))


__all__ = ['Backend', 'BACKEND_NAMES', 'create_backend']
