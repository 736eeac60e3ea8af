"""
A faithful stand-in for the TensorRT 10 Python API that really runs the ONNX model.

The parser reads the real ONNX file, the "engine" is a header plus the ONNX bytes, and
``execute_async_v3`` queues an ONNX Runtime (CPU) run on the fake CUDA stream that reads
its inputs from, and writes its outputs to, the device buffers whose addresses were set.
Protocol mistakes fail as TensorRT fails: execute returns False and logs an error when an
I/O address or a dynamic input shape is missing, deserialize returns None for corrupt,
other-version or other-GPU plans, a dynamic network without an optimization profile does
not build. Everything a test may want to check is appended to ``RECORD``.
"""

import enum
import json
import struct

import numpy as np
import onnx
import onnxruntime

from . import fake_pycuda

__version__ = '10.3.0'

_MAGIC = b'FAKETRT1'
_TIMING_MAGIC = b'FAKETC1\n'


class _Record:
    """What the fake saw: builds, engines loaded, addresses set, executions, log."""

    def __init__(self):
        self.builders_created = 0
        self.networks = []
        self.builds = []
        self.deserializations = []
        self.set_input_shape = []
        self.set_tensor_address = []
        self.executions = []
        self.log = []


RECORD = _Record()


def reset(version='10.3.0'):
    """Forget all records; choose the TensorRT version the next test sees."""
    global RECORD, __version__
    RECORD = _Record()
    __version__ = version


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0
    STRONGLY_TYPED = 1


class BuilderFlag(enum.IntEnum):
    FP16 = 0
    INT8 = 1
    DEBUG = 2
    GPU_FALLBACK = 3
    REFIT = 5
    TF32 = 7


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0
    DLA_MANAGED_SRAM = 1
    DLA_LOCAL_DRAM = 2
    DLA_GLOBAL_DRAM = 3
    TACTIC_DRAM = 4


class TensorIOMode(enum.IntEnum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class DataType(enum.IntEnum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    INT64 = 8


class LayerType(enum.IntEnum):
    CONVOLUTION = 0
    ACTIVATION = 2
    POOLING = 3
    ELEMENTWISE = 7
    SHUFFLE = 14
    REDUCE = 16
    CONSTANT = 17
    MATRIX_MULTIPLY = 18
    UNARY = 8
    QUANTIZE = 33
    DEQUANTIZE = 34


_LAYER_TYPES = {
    'Conv': LayerType.CONVOLUTION, 'Relu': LayerType.ACTIVATION,
    'Sigmoid': LayerType.ACTIVATION, 'Clip': LayerType.ACTIVATION,
    'MaxPool': LayerType.POOLING, 'AveragePool': LayerType.POOLING,
    'GlobalAveragePool': LayerType.REDUCE, 'ReduceMean': LayerType.REDUCE,
    'Add': LayerType.ELEMENTWISE, 'Mul': LayerType.ELEMENTWISE,
    'Flatten': LayerType.SHUFFLE, 'Reshape': LayerType.SHUFFLE,
    'Gemm': LayerType.MATRIX_MULTIPLY, 'MatMul': LayerType.MATRIX_MULTIPLY,
    'Constant': LayerType.CONSTANT,
    'QuantizeLinear': LayerType.QUANTIZE, 'DequantizeLinear': LayerType.DEQUANTIZE,
}

_NUMPY_TYPES = {
    DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8,
    DataType.INT32: np.int32, DataType.BOOL: np.bool_, DataType.UINT8: np.uint8,
    DataType.INT64: np.int64,
}

_ONNX_TYPES = {
    onnx.TensorProto.FLOAT: DataType.FLOAT, onnx.TensorProto.FLOAT16: DataType.HALF,
    onnx.TensorProto.INT8: DataType.INT8, onnx.TensorProto.INT32: DataType.INT32,
    onnx.TensorProto.BOOL: DataType.BOOL, onnx.TensorProto.UINT8: DataType.UINT8,
    onnx.TensorProto.INT64: DataType.INT64,
}


def nptype(trt_type):
    return _NUMPY_TYPES[DataType(trt_type)]


def volume(shape):
    return int(np.prod(tuple(shape), dtype=np.int64))


class Dims(tuple):
    """Shape; -1 marks a dynamic dimension."""


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    """Base of loggers; subclasses must call ILogger.__init__ (pybind11 insists)."""

    Severity = Severity
    INTERNAL_ERROR = Severity.INTERNAL_ERROR
    ERROR = Severity.ERROR
    WARNING = Severity.WARNING
    INFO = Severity.INFO
    VERBOSE = Severity.VERBOSE

    def __init__(self):
        self._base_initialised = True

    def log(self, severity, msg):
        raise NotImplementedError


class Logger(ILogger):
    """TensorRT's stock logger: prints to stderr at or above min_severity."""

    def __init__(self, min_severity=Severity.WARNING):
        super().__init__()
        self.min_severity = min_severity

    def log(self, severity, msg):
        if severity <= self.min_severity:
            print(f'[TRT] {msg}')


def _check_logger(logger):
    if not getattr(logger, '_base_initialised', False):
        raise TypeError('tensorrt.ILogger.__init__() must be called when overriding __init__')
    return logger


def _emit(logger, severity, message):
    RECORD.log.append((Severity(severity), message))
    logger.log(Severity(severity), message)


class IHostMemory(bytes):
    """Serialized data; supports the buffer protocol like the real one."""

    @property
    def nbytes(self):
        return len(self)


class _Graph:
    """What the fake keeps of an ONNX model."""

    def __init__(self, onnx_bytes):
        model = onnx.load_model_from_string(onnx_bytes)
        onnx.checker.check_model(model)
        initializers = {t.name for t in model.graph.initializer}
        self.onnx_bytes = onnx_bytes
        self.inputs = [_value_info(v) for v in model.graph.input if v.name not in initializers]
        self.outputs = [_value_info(v) for v in model.graph.output]
        self.layers = [ILayer(node.name or f'{node.op_type}_{i}',
                              _LAYER_TYPES.get(node.op_type, LayerType.UNARY))
                       for i, node in enumerate(model.graph.node)]


def _value_info(value):
    tensor = value.type.tensor_type
    dims = Dims(d.dim_value if d.HasField('dim_value') else -1 for d in tensor.shape.dim)
    return ITensor(value.name, dims, _ONNX_TYPES[tensor.elem_type])


def _session(onnx_bytes):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        onnx_bytes, options, providers=['CPUExecutionProvider'])


class ITensor:
    """A network input or output: name, shape, data type."""

    def __init__(self, name, shape, dtype):
        self.name = name
        self.shape = shape
        self.dtype = dtype


class ILayer:
    """One layer of the parsed network: name and LayerType."""

    def __init__(self, name, layer_type):
        self.name = name
        self.type = layer_type


class INetworkDefinition:
    """The network the ONNX parser fills."""

    def __init__(self, flags):
        self.flags = flags
        self.graph = None

    @property
    def num_inputs(self):
        return len(self.graph.inputs) if self.graph else 0

    def get_input(self, index):
        return self.graph.inputs[index]

    @property
    def num_outputs(self):
        return len(self.graph.outputs) if self.graph else 0

    def get_output(self, index):
        return self.graph.outputs[index]

    @property
    def num_layers(self):
        return len(self.graph.layers) if self.graph else 0

    def get_layer(self, index):
        return self.graph.layers[index]


class ParserError:
    """One ONNX parser error."""

    def __init__(self, description):
        self._description = description

    def desc(self):
        return self._description

    def __str__(self):
        return f'In node -1 (parseGraph): INVALID_GRAPH: {self._description}'


class OnnxParser:
    """Parses an ONNX model (the real file, via onnx) into a network."""

    def __init__(self, network, logger):
        self.network = network
        self.logger = _check_logger(logger)
        self._errors = []

    def parse(self, model, path=None):
        try:
            self.network.graph = _Graph(bytes(model))
        except Exception as err:  # noqa: B902 - the real parser reports any failure
            self._errors.append(ParserError(f'Failed to parse ONNX model: {err}'))
            return False
        return True

    def parse_from_file(self, model):
        with open(model, 'rb') as source:
            return self.parse(source.read(), model)

    @property
    def num_errors(self):
        return len(self._errors)

    def get_error(self, index):
        return self._errors[index]

    def clear_errors(self):
        self._errors = []


class IOptimizationProfile:
    """Min/opt/max shapes per dynamic input."""

    def __init__(self):
        self.shapes = {}

    def set_shape(self, input, min, opt, max):  # noqa: A002 - TensorRT's keyword names
        self.shapes[input] = tuple(Dims(s) for s in (min, opt, max))

    def get_shape(self, input):  # noqa: A002
        return list(self.shapes.get(input, ()))


class ITimingCache:
    """Tactic timings, keyed by layer and builder flags."""

    def __init__(self, entries, origin):
        self.entries = dict(entries)
        self.origin = origin

    def serialize(self):
        payload = json.dumps({'origin': self.origin, 'entries': self.entries}).encode()
        return IHostMemory(_TIMING_MAGIC + payload)

    def combine(self, input_cache, ignore_mismatch):
        self.entries.update(input_cache.entries)
        return True

    def reset(self):
        self.entries = {}
        return True


def _device_origin():
    return [__version__, fake_pycuda.GPU['name'], list(fake_pycuda.GPU['compute_capability'])]


class IBuilderConfig:
    """Builder flags, memory pools, calibrator, profiles and timing cache."""

    def __init__(self, logger):
        self._logger = logger
        self.flags = set()
        self.memory_pools = {}
        self.int8_calibrator = None
        self.calibration_profile = None
        self.profiles = []
        self.timing_cache = None
        self.timing_cache_ignore_mismatch = None

    def set_flag(self, flag):
        self.flags.add(BuilderFlag(flag))

    def clear_flag(self, flag):
        self.flags.discard(BuilderFlag(flag))

    def get_flag(self, flag):
        return BuilderFlag(flag) in self.flags

    def set_memory_pool_limit(self, pool, pool_size):
        self.memory_pools[MemoryPoolType(pool)] = int(pool_size)

    def get_memory_pool_limit(self, pool):
        return self.memory_pools.get(MemoryPoolType(pool), 8 << 30)

    def set_calibration_profile(self, profile):
        self.calibration_profile = profile
        return True

    def get_calibration_profile(self):
        return self.calibration_profile

    def add_optimization_profile(self, profile):
        self.profiles.append(profile)
        return len(self.profiles) - 1

    @property
    def num_optimization_profiles(self):
        return len(self.profiles)

    def create_timing_cache(self, serialized_timing_cache):
        data = bytes(serialized_timing_cache)
        if not data:
            return ITimingCache({}, _device_origin())
        if not data.startswith(_TIMING_MAGIC):
            _emit(self._logger, Severity.ERROR, 'Error Code 1: Serialization (timing cache '
                  'deserialization failed: magic tag mismatch)')
            return None
        content = json.loads(data[len(_TIMING_MAGIC):])
        return ITimingCache(content['entries'], content['origin'])

    def set_timing_cache(self, cache, ignore_mismatch):
        if cache.origin != _device_origin() and not ignore_mismatch:
            _emit(self._logger, Severity.WARNING, 'Timing cache was created on another '
                  'device or TensorRT version; it will not be used')
            return False
        self.timing_cache = cache
        self.timing_cache_ignore_mismatch = ignore_mismatch
        return True

    def get_timing_cache(self):
        return self.timing_cache


class Builder:
    """Builds serialized engines; counts how often it is created."""

    def __init__(self, logger):
        self.logger = _check_logger(logger)
        RECORD.builders_created += 1

    @property
    def platform_has_fast_fp16(self):
        return True

    def create_network(self, flags=0):
        flags = int(flags)
        if flags & (1 << NetworkDefinitionCreationFlag.EXPLICIT_BATCH):
            _emit(self.logger, Severity.WARNING, 'kEXPLICIT_BATCH is deprecated and has no '
                  'effect: networks are always explicit batch in TensorRT 10')
        RECORD.networks.append(flags)
        return INetworkDefinition(flags)

    def create_builder_config(self):
        return IBuilderConfig(self.logger)

    def create_optimization_profile(self):
        return IOptimizationProfile()

    def build_serialized_network(self, network, config):
        record = {
            'network_flags': network.flags, 'flags': set(config.flags),
            'memory_pools': dict(config.memory_pools), 'calibrator': config.int8_calibrator,
            'calibration_batches': 0, 'calibration_cache_used': False,
            'profiles': [dict(p.shapes) for p in config.profiles],
            'timing_cache_set': config.timing_cache is not None,
            'timing_cache_hits': 0, 'explicit_quantization': False,
        }
        RECORD.builds.append(record)
        graph = network.graph
        if graph is None or not graph.inputs:
            return self._fail('Network must have at least one input')
        profile = self._profile_for(graph, config)
        if profile is False:
            return None
        quantized = any(layer.type in (LayerType.QUANTIZE, LayerType.DEQUANTIZE)
                        for layer in graph.layers)
        record['explicit_quantization'] = quantized
        if quantized and BuilderFlag.INT8 not in config.flags:
            return self._fail('Network has Q/DQ layers: BuilderFlag.INT8 must be set to build '
                              'an explicitly quantized network')
        if BuilderFlag.INT8 in config.flags and not self._calibrate(
                graph, config, profile, quantized, record):
            return None
        if config.timing_cache is not None:
            for layer in graph.layers:
                key = f'{layer.name}|{sorted(int(f) for f in config.flags)}'
                if key in config.timing_cache.entries:
                    record['timing_cache_hits'] += 1
                config.timing_cache.entries[key] = 0.01
        return IHostMemory(_serialize_engine(graph, profile, config.flags))

    def _fail(self, message):
        _emit(self.logger, Severity.ERROR, message)
        return None

    def _profile_for(self, graph, config):
        dynamic = [t for t in graph.inputs if -1 in t.shape]
        if not dynamic:
            return {}
        if not config.profiles:
            self._fail('Error Code 4: API Usage Error (Network has dynamic or shape inputs, '
                       'but no optimization profile has been defined.)')
            return False
        profile = config.profiles[0].shapes
        for tensor in dynamic:
            if tensor.name not in profile:
                self._fail(f'Error Code 4: API Usage Error (Optimization profile is missing '
                           f'values for dynamic input {tensor.name})')
                return False
            low, opt, high = profile[tensor.name]
            fits = all(len(s) == len(tensor.shape) for s in (low, opt, high)) and all(
                (d == -1 and lo <= op <= hi) or lo == op == hi == d
                for d, lo, op, hi in zip(tensor.shape, low, opt, high))
            if not fits:
                self._fail(f'Error Code 4: API Usage Error (profile {low} {opt} {high} does '
                           f'not fit input {tensor.name} of shape {tensor.shape})')
                return False
        return {name: [list(s) for s in shapes] for name, shapes in profile.items()}

    def _calibrate(self, graph, config, profile, quantized, record):
        calibrator = config.int8_calibrator
        if quantized:
            if calibrator is not None:
                _emit(self.logger, Severity.WARNING, "Calibrator won't be used in explicit "
                      'quantization mode. Please insert Quantize/Dequantize layers to '
                      'indicate which tensors to quantize/dequantize.')
            return True
        if calibrator is not None and not getattr(calibrator, '_base_initialised', False):
            raise TypeError('tensorrt.IInt8Calibrator.__init__() must be called when '
                            'overriding __init__')
        if calibrator is None:
            _emit(self.logger, Severity.WARNING, 'Calibrator is not being used. Users must '
                  'provide dynamic range for all tensors that are not Int32 or Bool.')
            return True
        if calibrator.read_calibration_cache():
            record['calibration_cache_used'] = True
            return True
        names = [t.name for t in graph.inputs]
        if profile and config.calibration_profile is None:
            self._fail('Error Code 4: API Usage Error (Calibration profile must be set with '
                       'set_calibration_profile for a network with dynamic input shapes)')
            return False
        shapes = [Dims(config.calibration_profile.shapes[t.name][1]) if t.name in profile
                  else t.shape for t in graph.inputs]
        record['calibration_batch_size'] = calibrator.get_batch_size()
        session = _session(graph.onnx_bytes)
        peaks = {}
        while True:
            pointers = calibrator.get_batch(names)
            if not pointers:
                break
            if len(pointers) != len(names):
                self._fail(f'Calibrator returned {len(pointers)} buffers for {len(names)} inputs')
                return False
            feeds = {}
            for name, shape, pointer in zip(names, shapes, pointers):
                raw = fake_pycuda.device_bytes(pointer, volume(shape) * 4)
                feeds[name] = raw.view(np.float32).reshape(shape).copy()
                peaks[name] = max(peaks.get(name, 0.0), float(np.abs(feeds[name]).max()))
            session.run(None, feeds)
            record['calibration_batches'] += 1
        if not record['calibration_batches']:
            self._fail('Calibration failure occurred with no scaling factors detected.')
            return False
        table = ''.join(f'{name}: {np.float32(peak / 127.0).view(np.uint32):08x}\n'
                        for name, peak in peaks.items())
        major, minor, patch = (__version__.split('.') + ['0', '0'])[:3]
        header = f'TRT-{major}{minor.zfill(2)}{patch.zfill(2)}-EntropyCalibration2\n'
        calibrator.write_calibration_cache(memoryview((header + table).encode()))
        return True


def _serialize_engine(graph, profile, flags):
    session = _session(graph.onnx_bytes)
    feeds = {}
    for tensor in graph.inputs:
        shape = profile[tensor.name][1] if tensor.name in profile else list(tensor.shape)
        feeds[tensor.name] = np.zeros(shape, nptype(tensor.dtype))
    results = session.run(None, feeds)
    dynamic_batch = any(-1 in t.shape for t in graph.inputs)
    outputs = []
    for tensor, result in zip(graph.outputs, results):
        shape = list(result.shape)
        if dynamic_batch:
            shape[0] = -1
        outputs.append({'name': tensor.name, 'shape': shape, 'dtype': int(tensor.dtype)})
    header = json.dumps({
        'tensorrt_version': __version__,
        'compute_capability': list(fake_pycuda.GPU['compute_capability']),
        'flags': sorted(int(f) for f in flags),
        'inputs': [{'name': t.name, 'shape': list(t.shape), 'dtype': int(t.dtype)}
                   for t in graph.inputs],
        'outputs': outputs,
        'profile': profile,
    }).encode()
    return _MAGIC + struct.pack('<I', len(header)) + header + graph.onnx_bytes


class CalibrationAlgoType(enum.IntEnum):
    LEGACY_CALIBRATION = 0
    ENTROPY_CALIBRATION = 1
    ENTROPY_CALIBRATION_2 = 2
    MINMAX_CALIBRATION = 3


class IInt8Calibrator:
    """Base of calibrators; subclasses must call the base __init__ (pybind11 insists)."""

    def __init__(self):
        self._base_initialised = True


class IInt8EntropyCalibrator2(IInt8Calibrator):
    """The entropy calibrator base the application subclasses."""

    def get_algorithm(self):
        return CalibrationAlgoType.ENTROPY_CALIBRATION_2


class Runtime:
    """Deserializes plans, returning None (and logging) for unusable ones."""

    def __init__(self, logger):
        self.logger = _check_logger(logger)

    def deserialize_cuda_engine(self, serialized_engine):
        data = bytes(serialized_engine)
        engine, reason = None, None
        try:
            if not data.startswith(_MAGIC):
                reason = 'Error Code 1: Serialization (Serialization assertion magicTagRead ' \
                         '== kMAGIC_TAG failed.Magic tag does not match)'
            else:
                (length,) = struct.unpack_from('<I', data, len(_MAGIC))
                start = len(_MAGIC) + 4
                header = json.loads(data[start:start + length])
                device = list(fake_pycuda.GPU['compute_capability'])
                if header['tensorrt_version'] != __version__:
                    reason = ('Error Code 6: API Usage Error (The engine plan file is not '
                              'compatible with this version of TensorRT, expecting library '
                              f'version {__version__} got {header["tensorrt_version"]}, '
                              'please rebuild.)')
                elif header['compute_capability'] != device:
                    reason = ('Error Code 6: API Usage Error (The engine plan file is '
                              'generated on an incompatible device, expecting compute '
                              f'{device} got compute {header["compute_capability"]}, '
                              'please rebuild.)')
                else:
                    engine = ICudaEngine(header, data[start + length:], self.logger)
        except Exception as err:  # noqa: B902 - any damage means "cannot deserialize"
            reason = f'Error Code 1: Serialization (deserialization failed: {err})'
        RECORD.deserializations.append(reason or 'ok')
        if reason:
            _emit(self.logger, Severity.ERROR, reason)
        return engine


class ICudaEngine:
    """A deserialized engine: named I/O tensors and an ONNX Runtime session."""

    def __init__(self, header, onnx_bytes, logger):
        self.logger = logger
        self._tensors = {}
        for mode, key in ((TensorIOMode.INPUT, 'inputs'), (TensorIOMode.OUTPUT, 'outputs')):
            for tensor in header[key]:
                self._tensors[tensor['name']] = (mode, Dims(tensor['shape']),
                                                 DataType(tensor['dtype']))
        self._profile = header['profile']
        self.flags = {BuilderFlag(f) for f in header['flags']}
        self.session = _session(onnx_bytes)

    @property
    def num_io_tensors(self):
        return len(self._tensors)

    @property
    def num_optimization_profiles(self):
        return 1

    def get_tensor_name(self, index):
        return list(self._tensors)[index]

    def get_tensor_mode(self, name):
        return self._tensors[name][0] if name in self._tensors else TensorIOMode.NONE

    def get_tensor_shape(self, name):
        return self._tensors[name][1]

    def get_tensor_dtype(self, name):
        return self._tensors[name][2]

    def get_tensor_profile_shape(self, name, profile_index):
        if name not in self._profile:
            shape = self._tensors[name][1]
            return [shape, shape, shape]
        return [Dims(s) for s in self._profile[name]]

    def create_execution_context(self):
        return IExecutionContext(self)


class IExecutionContext:
    """Per-inference state: input shapes and tensor addresses."""

    def __init__(self, engine):
        self.engine = engine
        self._shapes = {}
        self._addresses = {}

    def _names(self, mode):
        return [n for n in self.engine._tensors if self.engine.get_tensor_mode(n) == mode]

    def set_input_shape(self, name, shape):
        RECORD.set_input_shape.append((name, tuple(shape)))
        if self.engine.get_tensor_mode(name) != TensorIOMode.INPUT:
            return False
        low, _, high = self.engine.get_tensor_profile_shape(name, 0)
        if len(shape) != len(low) or not all(a <= s <= b for a, s, b in zip(low, shape, high)):
            return False
        self._shapes[name] = Dims(shape)
        return True

    def get_tensor_shape(self, name):
        mode = self.engine.get_tensor_mode(name)
        engine_shape = self.engine.get_tensor_shape(name)
        if mode == TensorIOMode.INPUT:
            return self._shapes.get(name, engine_shape)
        batch = [self._shapes.get(n, self.engine.get_tensor_shape(n))[0]
                 for n in self._names(TensorIOMode.INPUT)][0]
        return Dims((batch,) + tuple(engine_shape[1:])) if engine_shape[0] == -1 \
            else engine_shape

    @property
    def all_input_dimensions_specified(self):
        return all(-1 not in self.get_tensor_shape(n) for n in self._names(TensorIOMode.INPUT))

    def set_tensor_address(self, name, memory):
        RECORD.set_tensor_address.append((name, int(memory)))
        if self.engine.get_tensor_mode(name) == TensorIOMode.NONE:
            return False
        self._addresses[name] = int(memory)
        return True

    def get_tensor_address(self, name):
        return self._addresses.get(name, 0)

    def execute_async_v3(self, stream_handle):
        problem = self._check_ready(stream_handle)
        if problem:
            _emit(self.engine.logger, Severity.ERROR, problem)
            return False
        views = {}
        for name in self.engine._tensors:
            shape = self.get_tensor_shape(name)
            nbytes = volume(shape) * np.dtype(nptype(self.engine.get_tensor_dtype(name))).itemsize
            try:
                views[name] = (fake_pycuda.device_bytes(self._addresses[name], nbytes), shape)
            except fake_pycuda.Error as err:
                _emit(self.engine.logger, Severity.ERROR, f'Error Code 1: Cuda Runtime ({err})')
                return False
        RECORD.executions.append({'stream': stream_handle,
                                  'addresses': dict(self._addresses),
                                  'shapes': {n: tuple(v[1]) for n, v in views.items()}})
        fake_pycuda.stream_by_handle(stream_handle).enqueue(lambda: self._run(views))
        return True

    def _check_ready(self, stream_handle):
        if fake_pycuda.stream_by_handle(stream_handle) is None:
            return f'Error Code 1: Cuda Runtime (invalid resource handle {stream_handle:#x})'
        for name in self._names(TensorIOMode.INPUT):
            if -1 in self.get_tensor_shape(name):
                return ('Error Code 3: API Usage Error (Parameter check failed, condition: '
                        f'inputDimensionSpecified. Input shape of {name} is not specified; '
                        'call set_input_shape first)')
        for name in self.engine._tensors:
            if not self._addresses.get(name):
                return ('Error Code 3: API Usage Error (Parameter check failed, condition: '
                        f'mContext.profileObliviousBindings.at(profileObliviousIndex) || '
                        f'getPtrOrNull(mOutputAllocators, profileObliviousIndex). Address is '
                        f'not set for input/output tensor {name}.)')
        return None

    def _run(self, views):
        feeds = {}
        for name in self._names(TensorIOMode.INPUT):
            raw, shape = views[name]
            dtype = nptype(self.engine.get_tensor_dtype(name))
            feeds[name] = raw.view(dtype).reshape(shape).copy()
        outputs = self._names(TensorIOMode.OUTPUT)
        for name, result in zip(outputs, self.engine.session.run(outputs, feeds)):
            raw, _ = views[name]
            raw[:] = np.ascontiguousarray(result).reshape(-1).view(np.uint8)
