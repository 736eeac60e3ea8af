"""Inference backends behind one interface, chosen by name."""

from jetson_classifier.backends.base import Backend
from jetson_classifier.errors import BackendUnavailableError

BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime')


def create_backend(kind, model_path, **options):
    """
    Load `model_path` with backend `kind` (auto|tensorrt|onnxruntime).

    Options a backend does not use are ignored, so one set of node parameters serves all.
    """
    if kind not in BACKEND_NAMES:
        raise BackendUnavailableError(
            f'unknown backend {kind!r}: expected one of {", ".join(BACKEND_NAMES)}')
    if kind == 'tensorrt':
        raise BackendUnavailableError('the tensorrt backend is not available in this build')
    from jetson_classifier.backends.onnxruntime_backend import OnnxRuntimeBackend
    return OnnxRuntimeBackend(model_path, threads=options.get('threads'),
                              precision=options.get('precision'),
                              cache_dir=options.get('cache_dir'))


__all__ = ['Backend', 'BACKEND_NAMES', 'create_backend']
