"""
TensorRT backend: build (or load the cached) engine from ONNX, run it on a CUDA stream.

Written against the TensorRT 10 Python API (JetPack 6: 10.3): named I/O tensors,
``set_tensor_address`` + ``execute_async_v3``, explicit batch only, memory pools. TensorRT 10
builds weakly typed networks, FP16 and INT8 chosen by builder flags; TensorRT 11 has no such
flags and no INT8 calibrators (weak typing was deprecated in 10.12, removed in 11.0): its
networks are strongly typed, so the precision is the ONNX file's own (tensorrt_models).
All CUDA calls go through ``cuda_memory``.
"""

import logging
import pathlib
import threading

import numpy as np

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import BackendUnavailableError, ClassifierError, ModelLoadError
from jetson_classifier.inference.backends.base import Backend
from jetson_classifier.inference.backends.cuda_memory import open_device
from jetson_classifier.inference.backends.engine_cache import EngineCache, EngineKey, sha256_hex
from jetson_classifier.inference.backends.tensorrt_models import tensorrt_source, write_fp16_twin
from jetson_classifier.inference.model_info import is_explicitly_quantized

PRECISIONS = ('fp32', 'fp16', 'int8')
# What a float model builds as when no precision is asked for (QDQ models: always INT8). The
# FP16 copies of the rungs kept FP32's top-1 within 0.1 points on the sample photos
# (benchmarks/tensorrt_files.py); Jetson GPUs run FP16 on their tensor cores.
DEFAULT_PRECISION = 'fp16'

_log = logging.getLogger(__name__)

_LOG_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.DEBUG}
_TRT_LOGGERS = {}


def import_tensorrt():
    """Import tensorrt (10 or newer), or raise BackendUnavailableError saying why not."""
    try:
        import tensorrt as trt
    except ImportError as err:
        raise BackendUnavailableError(
            f'TensorRT cannot be imported ({err}); on a Jetson it comes with JetPack '
            '(python3-libnvinfer; a virtual environment needs --system-site-packages)') from err
    if int(trt.__version__.split('.')[0]) < 10:
        raise BackendUnavailableError(
            f'TensorRT {trt.__version__} is installed; this backend needs TensorRT 10 or '
            'newer: JetPack 6 (TensorRT 10.3) or later, or use backend onnxruntime')
    return trt


def is_strongly_typed(trt):
    """Tell whether this TensorRT builds strongly typed networks only (11: no FP16/INT8 flags)."""
    return not hasattr(trt.BuilderFlag, 'FP16')


def _trt_logger(trt):
    """One ILogger per tensorrt module (TensorRT treats it as a singleton), into logging."""
    if trt not in _TRT_LOGGERS:
        class _Logger(trt.ILogger):
            """Forwards TensorRT's messages to this module's logger."""

            def __init__(self):
                trt.ILogger.__init__(self)

            def log(self, severity, msg):
                level = _LOG_LEVELS.get(int(severity))
                if level is not None:
                    _log.log(level, 'TensorRT: %s', msg)

        _TRT_LOGGERS[trt] = _Logger()
    return _TRT_LOGGERS[trt]


class TensorRTBackend(Backend):
    """
    Runs an ONNX model as a TensorRT engine, cached on disk and reused across starts.

    ``precision`` is fp32, fp16 or int8 (None: fp16). QDQ-quantized models (the catalog's
    ``_int8`` models) always build as int8 by explicit quantization, from their symmetric
    twin where they are asymmetric (tensorrt_models). On TensorRT 10, int8 from an FP32
    model calibrates with an entropy calibrator over ``calibration_images`` (a folder),
    caching the calibration table; TensorRT 11 has no calibrators. ``progress`` receives
    one-line messages.
    """

    name = 'tensorrt'

    def __init__(self, model_path, precision=None, cache_dir=None, max_batch=1,
                 workspace_mb=1024, calibration_images=None, progress=None, device_index=0):
        self.model_path = pathlib.Path(model_path)
        if precision not in (None, *PRECISIONS):
            raise ClassifierError(
                f'precision {precision!r} is not one of {", ".join(PRECISIONS)}')
        if max_batch < 1:
            raise ClassifierError(f'max_batch must be at least 1, got {max_batch}')
        try:
            onnx_bytes = self.model_path.read_bytes()
        except OSError as err:
            raise ModelLoadError(f'cannot read model file {self.model_path}: {err}') from err
        self._cuda = None
        self._io = {}
        self._lock = threading.Lock()
        self._trt = import_tensorrt()
        self._strongly_typed = is_strongly_typed(self._trt)
        self._logger = _trt_logger(self._trt)
        self._progress = progress or _log.info
        self.source_path, onnx_bytes = tensorrt_source(self.model_path, onnx_bytes)
        self._quantized = is_explicitly_quantized(onnx_bytes)
        self._precision = 'int8' if self._quantized else precision or DEFAULT_PRECISION
        if self._quantized and precision not in (None, 'int8'):
            _log.info('%s is QDQ-quantized: building it as int8, not %s',
                      self.model_path.name, precision)
        if self._strongly_typed and self._precision == 'int8' and not self._quantized:
            raise BackendUnavailableError(
                f'TensorRT {self._trt.__version__} has no INT8 calibrators (networks are '
                f'strongly typed): int8 needs a QDQ-quantized model, not {self.model_path} '
                "(the catalog's _int8 models are; prepare_models makes their TensorRT twins)")
        self._onnx_sha256 = sha256_hex(onnx_bytes)
        self._cache = EngineCache(cache_dir)
        self._cuda = open_device(device_index)
        try:
            with self._cuda.activate():
                self._open(max_batch, workspace_mb, calibration_images)
        except BaseException:
            self.close()
            raise

    @property
    def input_shape(self):
        return (None if self._dynamic else self._max_batch,) + self._chw

    @property
    def max_batch(self):
        return self._max_batch

    @property
    def input_dtype(self):
        """uint8 for a network that takes pixels; float32 for any float input (cast on copy)."""
        dtype = self._io[self._input][0].dtype
        return dtype if dtype == np.uint8 else np.dtype(np.float32)

    @property
    def precision(self):
        return self._precision

    @property
    def device(self):
        return str(self._cuda)

    def _open(self, max_batch, workspace_mb, calibration_images):
        trt = self._trt
        key = EngineKey(self._onnx_sha256, trt.__version__, self._cuda.name,
                        self._cuda.compute_capability, self._precision, max_batch)
        self.engine_path = self._cache.engine_path(key, self.model_path.stem)
        self._runtime = trt.Runtime(self._logger)
        engine = self._load_cached_engine()
        self.built = engine is None
        if engine is None:
            plan = self._build(max_batch, workspace_mb, calibration_images)
            write_atomically(self.engine_path, plan)
            self._progress(f'TensorRT engine for {self.model_path.name} saved to '
                           f'{self.engine_path}')
            engine = self._runtime.deserialize_cuda_engine(plan)
            if engine is None:
                raise ModelLoadError(
                    f'TensorRT cannot load the engine it just built from {self.model_path}')
        self._engine = engine
        self._context = engine.create_execution_context()
        self._allocate_io()

    def _load_cached_engine(self):
        plan = self._cache.read(self.engine_path)
        if plan is None:
            return None
        try:
            engine = self._runtime.deserialize_cuda_engine(plan)
        except RuntimeError as err:
            # str(): a record holding the error would hold its frames, and the engine in them
            _log.warning('TensorRT raised while deserializing %s: %s', self.engine_path,
                         str(err))
            engine = None
        if engine is None:
            self._cache.discard(self.engine_path, 'TensorRT cannot deserialize this cached '
                                'engine (stale or corrupt); rebuilding it')
        return engine

    def _network_file(self):
        """Return the ONNX file to parse: the source, or its FP16 copy on TensorRT 11."""
        if not (self._strongly_typed and self._precision == 'fp16'):
            return self.source_path
        path = self._cache.fp16_model_path(self.model_path.stem, self._onnx_sha256)
        if not path.is_file():
            self._progress(f'converting {self.source_path.name} to FP16 for TensorRT '
                           f'{self._trt.__version__} (strongly typed): {path}')
            write_fp16_twin(self.source_path, path)
        return path

    def _build(self, max_batch, workspace_mb, calibration_images):
        trt = self._trt
        self._progress(f'building TensorRT engine for {self.model_path.name} '
                       f'({self._precision}), this takes minutes on a Jetson')
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch; strongly typed on TensorRT 11
        parser = trt.OnnxParser(network, self._logger)
        network_file = self._network_file()
        if not parser.parse_from_file(str(network_file)):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ModelLoadError(f'TensorRT cannot parse {network_file}: {errors}')
        if network.num_inputs != 1:
            raise ModelLoadError(f'{self.model_path} has {network.num_inputs} inputs; '
                                 'a classifier needs exactly one')
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
        shape, profile = self._set_batch_range(builder, config, network.get_input(0), max_batch)
        calibrator = self._set_precision(config, shape, profile, calibration_images)
        timing_cache_path = self._attach_timing_cache(config)
        try:
            plan = builder.build_serialized_network(network, config)
        finally:
            if calibrator is not None:
                calibrator.close()
        if plan is None:
            raise ModelLoadError(
                f'TensorRT cannot build a {self._precision} engine from {network_file}; '
                'the TensorRT errors logged above say why')
        write_atomically(timing_cache_path, bytes(config.get_timing_cache().serialize()))
        return bytes(plan)

    def _set_batch_range(self, builder, config, tensor, max_batch):
        """Add a profile 1..max_batch for a dynamic batch; return the build shape and profile."""
        shape = tuple(tensor.shape)
        if -1 in shape[1:]:
            raise ModelLoadError(f'{self.model_path} input {tensor.name} has shape {shape}: '
                                 'only the batch dimension may be dynamic')
        if shape[0] != -1:
            if max_batch > shape[0]:
                raise ModelLoadError(
                    f'{self.model_path} has a fixed batch of {shape[0]}; max_batch '
                    f'{max_batch} needs a model exported with a dynamic batch axis')
            return shape, None
        profile = builder.create_optimization_profile()
        built = (max_batch,) + shape[1:]
        profile.set_shape(tensor.name, (1,) + shape[1:], built, built)
        config.add_optimization_profile(profile)
        return built, profile

    def _set_precision(self, config, shape, profile, calibration_images):
        """Set TensorRT 10's precision flags; returns the INT8 calibrator when one is needed."""
        trt = self._trt
        if self._strongly_typed or self._precision == 'fp32':
            return None
        config.set_flag(trt.BuilderFlag.FP16)
        if self._precision == 'fp16':
            return None
        config.set_flag(trt.BuilderFlag.INT8)
        if self._quantized:
            return None
        from jetson_classifier.inference.backends import int8_calibration
        table = self._cache.calibration_path(self.model_path.stem, self._onnx_sha256, shape)
        calibrator = int8_calibration.make_entropy_calibrator(
            trt, self._cuda, self.model_path, calibration_images, shape, table)
        config.int8_calibrator = calibrator
        if profile is not None:
            config.set_calibration_profile(profile)
        return calibrator

    def _attach_timing_cache(self, config):
        """Load this GPU's timing cache into the config; returns where to save it."""
        path = self._cache.timing_cache_path(
            self._trt.__version__, self._cuda.name, self._cuda.compute_capability)
        data = self._cache.read(path) or b''
        cache = config.create_timing_cache(data)
        if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
            self._cache.discard(path, 'TensorRT cannot use this timing cache')
            config.set_timing_cache(config.create_timing_cache(b''), ignore_mismatch=False)
        return path

    def _allocate_io(self):
        """Pinned host + device buffers for every I/O tensor, sized for max_batch."""
        trt, engine, context = self._trt, self._engine, self._context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or not outputs:
            raise ModelLoadError(f'{self.model_path} engine has inputs {inputs} and outputs '
                                 f'{outputs}; a classifier needs one input and an output')
        self._input, self._output = inputs[0], outputs[0]
        shape = tuple(engine.get_tensor_shape(self._input))
        self._dynamic = shape[0] == -1
        self._chw = shape[1:]
        if self._dynamic:
            shape = tuple(engine.get_tensor_profile_shape(self._input, 0)[2])
            context.set_input_shape(self._input, shape)
        self._max_batch = shape[0]
        for name in names:
            dtype = trt.nptype(engine.get_tensor_dtype(name))
            host = self._cuda.pinned_array(tuple(context.get_tensor_shape(name)), dtype)
            self._io[name] = (host, self._cuda.device_buffer(host.nbytes))
        self._classes = int(np.prod(self._io[self._output][0].shape[1:]))
        self._stream = self._cuda.stream()

    def infer(self, batch):
        batch = np.asarray(batch)
        count = batch.shape[0] if batch.ndim == 4 else 0
        if batch.shape[1:] != self._chw or not 1 <= count <= self._max_batch:
            raise ClassifierError(
                f'batch of shape {batch.shape} does not fit {self.model_path.name}: expected '
                f'(1..{self._max_batch}, {", ".join(str(d) for d in self._chw)})')
        rows = count if self._dynamic else self._max_batch
        with self._lock, self._cuda.activate():
            host_in, device_in = self._io[self._input]
            host_in[:count] = batch
            host_in[count:rows] = 0
            if self._dynamic and not self._context.set_input_shape(
                    self._input, (rows,) + self._chw):
                raise ClassifierError(f'TensorRT refused input shape {(rows,) + self._chw} '
                                      f'for {self.model_path.name}')
            self._check_output_shape(rows)
            for name, (_, device) in self._io.items():
                self._context.set_tensor_address(name, int(device))
            self._cuda.copy_to_device_async(device_in, host_in[:rows], self._stream)
            if not self._context.execute_async_v3(self._stream.handle):
                raise ClassifierError(f'TensorRT execute_async_v3 failed for '
                                      f'{self.model_path.name}; see the TensorRT error above')
            host_out, device_out = self._io[self._output]
            self._cuda.copy_to_host_async(host_out[:rows], device_out, self._stream)
            self._stream.synchronize()
            return host_out[:count].reshape(count, self._classes).astype(np.float32)

    def _check_output_shape(self, rows):
        shape = tuple(self._context.get_tensor_shape(self._output))
        if shape[0] != rows or int(np.prod(shape[1:])) != self._classes:
            raise ClassifierError(
                f'{self.model_path.name} output {self._output} has shape {shape}; expected '
                f'{rows} rows of {self._classes} scores')

    def close(self):
        with self._lock:
            if self._cuda is None:
                return
            with self._cuda.activate():
                # Drop each pinned host array here too: pycuda frees one outside its context
                # only on the thread that opened the GPU; elsewhere it leaks, with a warning.
                for name in list(self._io):
                    self._io.pop(name)[1].free()
                self._context = self._engine = self._runtime = self._stream = None
            self._cuda.close()
            self._cuda = None
