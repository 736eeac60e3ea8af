"""Inference backends behind one interface, chosen by name."""

import logging
from pathlib import Path

from jetson_classifier.errors import BackendUnavailableError
from jetson_classifier.inference.backends.base import Backend

BACKEND_NAMES = ('auto', 'tensorrt', 'onnxruntime')
TENSORRT_OPTIONS = ('precision', 'cache_dir', 'max_batch', 'workspace_mb',
                    'calibration_images', 'progress')
# ONNX Runtime's idle CPU workers sleep unless asked to spin. In the node at 30 Hz (2 cores, 2
# threads, six rungs; benchmarks/spin_wait.py) spinning ones kept 0.6-0.9 of a core busy for
# calls within 3% of sleeping ones' (lite0_160_int8 18% faster), and at saturation the node
# labelled no more frames with them: the cores are worth more to the robot's other nodes.
SPIN_WAIT = False

_log = logging.getLogger(__name__)


def create_backend(kind, model_path, **options):
    """
    Load `model_path` with backend `kind` (auto|tensorrt|onnxruntime).

    auto is TensorRT where tensorrt and pycuda import, a GPU answers and TensorRT can build
    the model, else ONNX Runtime: a fallback logged at WARNING with the reason, which the
    backend keeps in `fallback_reason`. tensorrt raises BackendUnavailableError instead.

    Options a backend does not use are ignored, so one set of node parameters serves all.
    """
    if kind not in BACKEND_NAMES:
        raise BackendUnavailableError(
            f'unknown backend {kind!r}: expected one of {", ".join(BACKEND_NAMES)}')
    fallback_reason = None
    if kind in ('auto', 'tensorrt'):
        from jetson_classifier.inference.backends.tensorrt_backend import TensorRTBackend
        try:
            return TensorRTBackend(model_path, **{
                k: options[k] for k in TENSORRT_OPTIONS if options.get(k) is not None})
        except BackendUnavailableError as error:
            if kind == 'tensorrt':
                raise
            fallback_reason = str(error)
            _log.warning('%s runs on ONNX Runtime, not TensorRT: %s', Path(model_path).name,
                         fallback_reason)
    from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
    backend = OnnxRuntimeBackend(model_path, threads=options.get('threads'),
                                 precision=options.get('precision'),
                                 cache_dir=options.get('cache_dir'),
                                 spin_wait=options.get('spin_wait', SPIN_WAIT))
    backend.fallback_reason = fallback_reason
    return backend


__all__ = ['Backend', 'BACKEND_NAMES', 'create_backend', 'SPIN_WAIT']
