"""ONNX Runtime backend: TensorRT EP, then CUDA EP, then CPU EP, whichever exist."""

from pathlib import Path

import numpy as np
import onnxruntime as ort

from jetson_classifier.cpu_features import has_vnni
from jetson_classifier.errors import BackendUnavailableError, ModelLoadError
from jetson_classifier.inference.backends import SPIN_WAIT
from jetson_classifier.inference.backends.base import Backend
from jetson_classifier.inference.model_info import is_explicitly_quantized

_PREFERRED = ('TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider')
# What the classifier feeds a model: normalised float32, or uint8 pixels (preprocessing.py).
_INPUT_TYPES = {'tensor(float)': np.dtype(np.float32), 'tensor(uint8)': np.dtype(np.uint8)}
# x86 CPUs without VNNI (AVX2, AVX-512F) multiply uint8 by int8 in 16-bit pairs that saturate:
# lite0_160_int8 lost 8.2 top-1 points there (71.9 vs 80.1 %, AMD EPYC with AVX2 only). This
# key makes ONNX Runtime use its exact uint8 x uint8 kernels (0.6 points lost). ONNX Runtime
# honours it on every x86 CPU, VNNI ones too (MlasPlatformU8S8Overflow in mlas/lib/platform.cpp
# is true wherever its U8U8 and U8S8 dispatches differ), where VNNI is exact already and the
# key only costs speed; ARM builds compile it out.
EXACT_INT8_ON_X86 = ('session.x64quantprecision', '1')
# A process-wide pool for Python sessions: absent from ONNX Runtime 1.16 to 1.22 (JetPack 6's).
GLOBAL_POOL = hasattr(ort, 'set_global_thread_pool_sizes')
# Workers that sleep between parallel sections instead of spinning: a core free between frames,
# a wake-up per section (measured in the README's "What the node costs").
IDLE_WORKERS_SLEEP = ('session.intra_op.allow_spinning', '0')
_shared_pool = None  # (threads, whether they are one global pool)


def session_options(exact_int8_key=None):
    """
    Return ONNX Runtime session options with every optimization and exact int8 arithmetic.

    `exact_int8_key` says whether to set EXACT_INT8_ON_X86; None: where the CPU lacks VNNI.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if exact_int8_key is None:
        exact_int8_key = not has_vnni()
    if exact_int8_key:
        options.add_session_config_entry(*EXACT_INT8_ON_X86)
    return options


def share_one_thread_pool(threads, shared=GLOBAL_POOL):
    """
    Run every session this process creates from now on on one pool of `threads` threads.

    For processes that keep several models loaded and run them in turn, like the benchmark:
    with a pool each, the idle pools' spinning workers take cores from the running one
    (lite1_int8 at 2 threads, alternating with lite1: 1.38x slower than alone with a pool
    each, 1.12x sharing one; benchmarks/thread_pools.py). ONNX Runtime allows this once per
    process: later calls must match. Where it has no global pool (`shared` False), each
    session gets a pool of `threads` whose idle workers sleep instead of spinning.
    """
    global _shared_pool
    if _shared_pool is None:
        if shared:
            ort.set_global_thread_pool_sizes(threads, 1)
        _shared_pool = (threads, shared)
    elif _shared_pool != (threads, shared):
        what = 'shares a pool' if _shared_pool[1] else 'gives each session a pool'
        raise BackendUnavailableError(
            f'this process already {what} of {_shared_pool[0]} ONNX Runtime threads; it '
            f'cannot have one of {threads} as well')


def describe_thread_pool():
    """Say how share_one_thread_pool(), once called, set this process's sessions' threads up."""
    threads, shared = _shared_pool
    if shared:
        return f'one shared pool of {threads}, idle ones spin'
    return f'a pool of {threads} per session, idle ones sleep' + (
        '' if GLOBAL_POOL else f' (this ONNX Runtime {ort.__version__} has no shared pool)')


def session_input_dtype(session):
    """Return the numpy dtype a session's first input takes, or None if we feed no such type."""
    return _INPUT_TYPES.get(session.get_inputs()[0].type)


def available_providers():
    """Return the preferred execution providers this onnxruntime build offers, best first."""
    offered = ort.get_available_providers()
    return [p for p in _PREFERRED if p in offered]


class OnnxRuntimeBackend(Backend):
    """
    Runs an ONNX model with ONNX Runtime; threads=None lets it use every core.

    `spin_wait` says whether the session's idle workers spin or sleep (SPIN_WAIT). After
    share_one_thread_pool() the session runs as that says; `threads` and `spin_wait` are ignored.
    """

    name = 'onnxruntime'

    def __init__(self, model_path, threads=None, precision=None, cache_dir=None,
                 providers=None, spin_wait=SPIN_WAIT):
        """Load `model_path`; precision 'fp16'/'int8' reaches the TensorRT EP only."""
        self._path = str(model_path)
        self._model_precision = _declared_precision(model_path)
        self._precision = precision or self._model_precision
        options = session_options()
        if _shared_pool is not None:
            self.cpu_threads = describe_thread_pool()
            if _shared_pool[1]:
                options.use_per_session_threads = False
            else:
                options.intra_op_num_threads, options.inter_op_num_threads = _shared_pool[0], 1
                options.add_session_config_entry(*IDLE_WORKERS_SLEEP)
        else:
            if threads:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            if not spin_wait:
                options.add_session_config_entry(*IDLE_WORKERS_SLEEP)
            self.cpu_threads = (f'{threads}' if threads else 'one per core') + (
                ', idle ones spin' if spin_wait else ', idle ones sleep')
        chosen = providers or available_providers()
        try:
            self._session = ort.InferenceSession(
                self._path, options, providers=[self._configure(p, cache_dir) for p in chosen])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise ModelLoadError(f'onnxruntime cannot load {self._path}: {error}') from error
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._input_dtype = session_input_dtype(self._session)
        if self._input_dtype is None:
            raise ModelLoadError(f'{self._path} takes {model_input.type}; the classifier feeds '
                                 f'{" or ".join(_INPUT_TYPES)}')
        self._input_shape = tuple(d if isinstance(d, int) else None for d in model_input.shape)

    def _configure(self, provider, cache_dir):
        if provider != 'TensorrtExecutionProvider':
            return provider
        settings = {'trt_fp16_enable': self._precision == 'fp16',
                    'trt_int8_enable': self._precision == 'int8'}
        if cache_dir:
            settings.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir),
                            trt_timing_cache_enable=True, trt_timing_cache_path=str(cache_dir))
        return provider, settings

    @property
    def input_shape(self):
        """(N, C, H, W); N is None for our models, which take any batch size."""
        return self._input_shape

    @property
    def input_dtype(self):
        return self._input_dtype

    @property
    def precision(self):
        """Arithmetic in use: TensorRT EP honours the request, other providers run the file."""
        if self.device == 'TensorrtExecutionProvider':
            return self._precision
        return self._model_precision

    @property
    def device(self):
        """Return the execution provider that runs the model."""
        return self._session.get_providers()[0]

    def infer(self, batch):
        """Score an NCHW batch of `input_dtype`; returns the logits."""
        return self._session.run(None, {self._input_name: batch})[0]

    def close(self):
        """Drop the session."""
        self._session = None


def _declared_precision(path):
    """
    Return 'int8' for a quantized (QDQ) graph, else 'fp32'.

    The same detector the TensorRT backend uses; our files' metadata says the same.
    """
    try:
        onnx_bytes = Path(path).read_bytes()
    except OSError as error:
        raise ModelLoadError(f'cannot read model file {path}: {error}') from error
    return 'int8' if is_explicitly_quantized(onnx_bytes) else 'fp32'
