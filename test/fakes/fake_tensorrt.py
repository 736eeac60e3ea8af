"""
A faithful stand-in for the TensorRT 10 and 11 Python APIs that really runs the ONNX model.

The parser reads the real ONNX file, the "engine" is a header plus the ONNX bytes, and
``execute_async_v3`` queues an ONNX Runtime (CPU) run on the fake CUDA stream that reads
its inputs from, and writes its outputs to, the device buffers whose addresses were set
(on a real GPU, through real pycuda, after ``reset(memory=real_cuda)``: fakes/real_cuda.py).
FP16 and INT8 engines compute what ONNX Runtime computes for their ONNX file, in FP32 with
FP16 weights or by QDQ emulation: tests may compare top-1, never expect TensorRT's numbers.

Protocol mistakes fail as TensorRT fails: execute returns False and logs an error when an
I/O address or a dynamic input shape is missing, deserialize returns None for corrupt,
other-version or other-GPU plans, a dynamic network without an optimization profile does
not build. The ONNX parser refuses the Q/DQ nodes onnx-tensorrt's importer refuses (see
_check_quantize_node) and the builder the ones TensorRT's network validation refuses.

``reset(version)`` chooses the API surface: 10.x (Python bindings of release/10.3,
python/src/infer/pyCore.cpp and pyInt8.cpp) has BuilderFlag.FP16/INT8, EXPLICIT_BATCH
and the INT8 calibrators, and builds weakly typed networks; 11.x (main, 11.1) has none of
them (pyInt8.cpp is gone; weak typing was deprecated in 10.12 and removed in 11.0) and
builds every network strongly typed: the precision is the ONNX file's types and Q/DQ.
Everything a test may want to check is appended to ``RECORD``.
"""

import enum
import json
import struct
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
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
_surface = {}  # the names reset() puts in this module for its version
# Where engines find streams and device memory: stream_by_handle, device_bytes and Error.
_memory = fake_pycuda


def _major():
    return int(__version__.split('.')[0])


def reset(version='10.3.0', memory=fake_pycuda):
    """
    Forget all records; choose the TensorRT version (and its API surface) tests see.

    ``memory`` holds the streams and device memory engines and calibrations use: fake_pycuda,
    or fakes.real_cuda to run on a real GPU's (stream_by_handle, device_bytes and Error).
    """
    global RECORD, __version__, _surface, _memory
    RECORD = _Record()
    __version__ = version
    _memory = memory
    _surface = _SURFACES[11 if _major() >= 11 else 10]
    for name in set().union(*_SURFACES.values()):
        globals().pop(name, None)
    globals().update(_surface)


class _Bound:
    """pybind11 objects refuse attributes their class does not bind (no py::dynamic_attr)."""

    def __setattr__(self, name, value):
        if not name.startswith('_') and not isinstance(getattr(type(self), name, None),
                                                       property):
            raise AttributeError(f"'tensorrt.{type(self).__name__}' object has no attribute "
                                 f"'{name}'")
        object.__setattr__(self, name, value)


_NetworkFlags10 = enum.IntEnum('NetworkDefinitionCreationFlag',
                               {'EXPLICIT_BATCH': 0, 'STRONGLY_TYPED': 1})
# 11: STRONGLY_TYPED is kept, "Deprecated: always enabled" (pyCore.cpp on main).
_NetworkFlags11 = enum.IntEnum('NetworkDefinitionCreationFlag', {
    'STRONGLY_TYPED': 1, 'PREFER_AOT_PYTHON_PLUGINS': 2, 'PREFER_JIT_PYTHON_PLUGINS': 3})
_COMMON_FLAGS = {'DEBUG': 2, 'GPU_FALLBACK': 3, 'REFIT': 5, 'TF32': 7}
_BuilderFlag10 = enum.IntEnum('BuilderFlag', {'FP16': 0, 'INT8': 1, 'BF16': 20,
                                              **_COMMON_FLAGS})
_BuilderFlag11 = enum.IntEnum('BuilderFlag', _COMMON_FLAGS)


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


class _ParseFailure(Exception):
    """One node onnx-tensorrt refuses: what ParserError reports."""

    def __init__(self, index, node, code, description):
        super().__init__(description)
        self.index, self.node, self.code = index, node, code


# onnx-tensorrt, onnxOpImporters.cpp, QuantDequantLinearHelper (identical in the 10.0 and 10.6
# sources, so in 10.3): each check below quotes the importer's message.
_SYMMETRIC_ONLY = ('TensorRT only supports symmetric quantization. The zero point for the '
                   'QuantizeLinear/DequantizeLinear operator must be all zeros.')
# onnx 1.14 (the JetPack 6 floor) has no INT4 yet, nor can its models hold one.
_QUANTIZED_TYPES = tuple(getattr(onnx.TensorProto, name)
                         for name in ('INT8', 'FLOAT8E4M3FN', 'INT4')
                         if hasattr(onnx.TensorProto, name))


def _check_quantize_node(index, node, types, constants):
    """Raise _ParseFailure where onnx-tensorrt's importer refuses this Q/DQ node."""
    def fail(code, description):
        raise _ParseFailure(index, node, code, description)

    def elem_type(name):
        return types.get(name, (None, None))[0]

    # checkNotInvalidType(inputs.at(0), {"UINT8"}), and for Q the zero point (input 2) too.
    checked = node.input[:1] if node.op_type == 'DequantizeLinear' else node.input[:3:2]
    if any(name and elem_type(name) == onnx.TensorProto.UINT8 for name in checked):
        fail('UNSUPPORTED_NODE', 'Found unsupported input type of UINT8')
    if len(node.input) < 2:
        fail('INVALID_NODE', 'This version of TensorRT requires at least 2 inputs for the '
             'QuantizeLinear/DequantizeLinear operator.')
    scale = constants.get(node.input[1])
    if scale is not None and not scale.size:
        fail('INVALID_NODE', 'Cannot have scale with no coefficients.')
    if scale is not None and not (scale > 0).all():
        fail('INVALID_NODE', 'Assertion failed: scaleAllPositive: Scale coefficients must '
             'all be positive')
    zero_point = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if zero_point is not None and zero_point.dtype.kind in 'iu':
        if zero_point.any():
            fail('INVALID_NODE', f'Assertion failed: shiftIsAllZeros(zeroPoint): '
                 f'{_SYMMETRIC_ONLY}')
        if scale is not None and zero_point.size != scale.size:
            fail('INVALID_NODE', f'The scale and zero point must have the same volume. Size of '
                 f'zero point = {zero_point.size}, size of the scale = {scale.size}.')
    dims = types.get(node.input[0], (None, None))[1]
    if scale is not None and scale.size != 1 and scale.ndim == 1 and dims:
        axis = next((a.i for a in node.attribute if a.name == 'axis'), len(dims))
        axis = 0 if axis == len(dims) else axis % len(dims)
        if dims[axis] not in (-1, scale.size):
            fail('INVALID_NODE', f'The number of scales is not equal to the number of output '
                 f'channels. Number of output channels = {dims[axis]}, number of scales = '
                 f'{scale.size}.')


def _types(model):
    """Return {tensor name: (ONNX element type, dims or None)} after shape inference."""
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {}
    for value in (*inferred.input, *inferred.value_info, *inferred.output):
        tensor = value.type.tensor_type
        dims = (tuple(d.dim_value if d.HasField('dim_value') else -1 for d in tensor.shape.dim)
                if tensor.HasField('shape') else None)
        types[value.name] = (tensor.elem_type, dims)
    for tensor in model.graph.initializer:
        types[tensor.name] = (tensor.data_type, tuple(tensor.dims))
    return types


def _constant_values(graph):
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant' and node.attribute[0].name == 'value':
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return constants


class _Graph:
    """What the fake keeps of an ONNX model, once the importer's checks pass."""

    def __init__(self, onnx_bytes):
        model = onnx.load_model_from_string(onnx_bytes)
        onnx.checker.check_model(model)
        types = _types(model)
        constants = _constant_values(model.graph)
        for index, node in enumerate(model.graph.node):
            if node.op_type in ('QuantizeLinear', 'DequantizeLinear'):
                _check_quantize_node(index, node, types, constants)
        initializers = {t.name for t in model.graph.initializer}
        self.onnx_bytes = onnx_bytes
        self.inputs = [_value_info(v) for v in model.graph.input if v.name not in initializers]
        self.outputs = [_value_info(v) for v in model.graph.output]
        self.layers = [ILayer(node.name or f'{node.op_type}_{i}',
                              _LAYER_TYPES.get(node.op_type, LayerType.UNARY))
                       for i, node in enumerate(model.graph.node)]
        self.dequantized_types = {layer.name: types.get(node.input[0], (None,))[0]
                                  for layer, node in zip(self.layers, model.graph.node)
                                  if node.op_type == 'DequantizeLinear'}
        self.has_fp16 = any(t == onnx.TensorProto.FLOAT16 for t, _ in types.values())

    @property
    def quantized(self):
        return any(layer.type in (LayerType.QUANTIZE, LayerType.DEQUANTIZE)
                   for layer in self.layers)


def _value_info(value):
    tensor = value.type.tensor_type
    dims = Dims(d.dim_value if d.HasField('dim_value') else -1 for d in tensor.shape.dim)
    return ITensor(value.name, dims, _ONNX_TYPES[tensor.elem_type])


def _session(onnx_bytes):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # Exact int8 products on x86 CPUs without VNNI, as TensorRT's int8 kernels compute them.
    options.add_session_config_entry('session.x64quantprecision', '1')
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
    """The network the ONNX parser fills; strongly typed always on 11, by flag on 10."""

    def __init__(self, flags):
        self.flags = flags
        self.graph = None

    @property
    def strongly_typed(self):
        return _major() >= 11 or bool(self.flags & (1 << 1))

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
    """One ONNX parser error; str() as onnx-tensorrt's parserErrorStr (pyOnnx.cpp) writes it."""

    def __init__(self, description, code='INVALID_GRAPH', node=-1, node_name='',
                 node_operator='', func='parseGraph'):
        self._description = description
        self._code, self._node, self._func = code, node, func
        self._node_name, self._node_operator = node_name, node_operator

    def desc(self):
        return self._description

    def node(self):
        return self._node

    def node_name(self):
        return self._node_name

    def node_operator(self):
        return self._node_operator

    def __str__(self):
        return (f'In node {self._node} with name: {self._node_name} and operator: '
                f'{self._node_operator} ({self._func}): {self._code}: {self._description}')


class OnnxParser:
    """Parses an ONNX model (the real file, via onnx) into a network."""

    def __init__(self, network, logger):
        self.network = network
        self.logger = _check_logger(logger)
        self._errors = []

    def parse(self, model, path=None):
        try:
            self.network.graph = _Graph(bytes(model))
        except _ParseFailure as failure:
            node = failure.node
            self._errors.append(ParserError(str(failure), failure.code, failure.index,
                                            node.name, node.op_type, 'parseNode'))
            return False
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


class IBuilderConfig(_Bound):
    """Builder flags, memory pools, profiles and timing cache (both versions)."""

    def __init__(self, logger):
        self._logger = logger
        self._flags = set()
        self._memory_pools = {}
        self._calibrator = None
        self._profiles = []
        self._timing_cache = None

    def set_flag(self, flag):
        self._flags.add(_surface['BuilderFlag'](flag))

    def clear_flag(self, flag):
        self._flags.discard(_surface['BuilderFlag'](flag))

    def get_flag(self, flag):
        return _surface['BuilderFlag'](flag) in self._flags

    def set_memory_pool_limit(self, pool, pool_size):
        self._memory_pools[MemoryPoolType(pool)] = int(pool_size)

    def get_memory_pool_limit(self, pool):
        return self._memory_pools.get(MemoryPoolType(pool), 8 << 30)

    def add_optimization_profile(self, profile):
        self._profiles.append(profile)
        return len(self._profiles) - 1

    @property
    def num_optimization_profiles(self):
        return len(self._profiles)

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
        self._timing_cache = cache
        return True

    def get_timing_cache(self):
        return self._timing_cache


def _deprecated_since_10_1():
    # python/src/utils.cpp issueDeprecationWarning, as pyCore.cpp's deprecateMember calls it.
    warnings.warn('Use Deprecated in TensorRT 10.1. Superseded by explicit quantization. '
                  'instead.', DeprecationWarning, stacklevel=3)


class _BuilderConfig10(IBuilderConfig):
    """10.x adds the INT8 calibrator and its profile (deprecated since 10.1)."""

    def __init__(self, logger):
        super().__init__(logger)
        self._calibration_profile = None

    @property
    def int8_calibrator(self):
        _deprecated_since_10_1()
        return self._calibrator

    @int8_calibrator.setter
    def int8_calibrator(self, calibrator):
        _deprecated_since_10_1()
        self._calibrator = calibrator

    def set_calibration_profile(self, profile):
        _deprecated_since_10_1()
        self._calibration_profile = profile
        return True

    def get_calibration_profile(self):
        _deprecated_since_10_1()
        return self._calibration_profile


class Builder:
    """Builds serialized engines; counts how often it is created."""

    _config_type = IBuilderConfig

    def __init__(self, logger):
        self.logger = _check_logger(logger)
        RECORD.builders_created += 1

    def create_network(self, flags=0):
        flags = int(flags)
        if _major() < 11 and flags & (1 << _NetworkFlags10.EXPLICIT_BATCH):
            _emit(self.logger, Severity.WARNING, 'kEXPLICIT_BATCH is deprecated and has no '
                  'effect: networks are always explicit batch in TensorRT 10')
        RECORD.networks.append(flags)
        return INetworkDefinition(flags)

    def create_builder_config(self):
        return self._config_type(self.logger)

    def create_optimization_profile(self):
        return IOptimizationProfile()

    def build_serialized_network(self, network, config):
        graph = network.graph
        record = {
            'network_flags': network.flags, 'strongly_typed': network.strongly_typed,
            'flags': set(config._flags), 'memory_pools': dict(config._memory_pools),
            'calibrator': config._calibrator, 'calibration_batches': 0,
            'calibration_cache_used': False,
            'profiles': [dict(p.shapes) for p in config._profiles],
            'timing_cache_set': config._timing_cache is not None, 'timing_cache_hits': 0,
            'explicit_quantization': bool(graph and graph.quantized), 'precision': None,
        }
        RECORD.builds.append(record)
        if graph is None or not graph.inputs:
            return self._fail('Network must have at least one input')
        profile = self._profile_for(graph, config)
        if profile is False:
            return None
        for layer, onnx_type in graph.dequantized_types.items():
            # NvInfer.h (10.3), IDequantizeLayer: "The input type ... must be constrained to
            # DataType::kINT8, DataType::kFP8 or DataType::kINT4". The importer passes an int32
            # DequantizeLinear through; the network's validation refuses it (message ours).
            if onnx_type not in _QUANTIZED_TYPES:
                name = onnx.TensorProto.DataType.Name(onnx_type) if onnx_type else 'unknown'
                return self._fail(f'Error Code 4: API Usage Error ({layer}: IDequantizeLayer '
                                  f'input of type {name}; only INT8, FP8 and INT4 can be '
                                  'dequantized)')
        if not self._set_precision(graph, config, profile, record):
            return None
        if config._timing_cache is not None:
            for layer in graph.layers:
                key = f'{layer.name}|{sorted(int(f) for f in config._flags)}'
                if key in config._timing_cache.entries:
                    record['timing_cache_hits'] += 1
                config._timing_cache.entries[key] = 0.01
        return IHostMemory(_serialize_engine(graph, profile, config._flags, record['precision']))

    def _set_precision(self, graph, config, profile, record):
        """Strongly typed: the graph's types; weakly typed (10): the flags, INT8 calibrated."""
        if record['strongly_typed']:
            record['precision'] = ('int8' if graph.quantized else
                                   'fp16' if graph.has_fp16 else 'fp32')
            return True
        flags, flag = config._flags, _surface['BuilderFlag']
        if graph.quantized and flag.INT8 not in flags:
            self._fail('Network has Q/DQ layers: BuilderFlag.INT8 must be set to build an '
                       'explicitly quantized network')
            return False
        record['precision'] = ('int8' if flag.INT8 in flags else
                               'fp16' if flag.FP16 in flags else 'fp32')
        return flag.INT8 not in flags or self._calibrate(graph, config, profile, record)

    def _fail(self, message):
        _emit(self.logger, Severity.ERROR, message)
        return None

    def _profile_for(self, graph, config):
        dynamic = [t for t in graph.inputs if -1 in t.shape]
        if not dynamic:
            return {}
        if not config._profiles:
            self._fail('Error Code 4: API Usage Error (Network has dynamic or shape inputs, '
                       'but no optimization profile has been defined.)')
            return False
        profile = config._profiles[0].shapes
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

    def _calibrate(self, graph, config, profile, record):
        calibrator = config._calibrator
        if graph.quantized:
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
        if profile and config._calibration_profile is None:
            self._fail('Error Code 4: API Usage Error (Calibration profile must be set with '
                       'set_calibration_profile for a network with dynamic input shapes)')
            return False
        shapes = [Dims(config._calibration_profile.shapes[t.name][1]) if t.name in profile
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
                raw = _memory.device_bytes(pointer, volume(shape) * 4)
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


class _Builder10(Builder):
    """10.x: weakly typed builds, calibrators, platform queries (gone in 11)."""

    _config_type = _BuilderConfig10

    @property
    def platform_has_fast_fp16(self):
        return True


def _serialize_engine(graph, profile, flags, precision):
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
        'flags': sorted(int(f) for f in flags), 'precision': precision,
        'inputs': [{'name': t.name, 'shape': list(t.shape), 'dtype': int(t.dtype)}
                   for t in graph.inputs],
        'outputs': outputs,
        'profile': profile,
    }).encode()
    return _MAGIC + struct.pack('<I', len(header)) + header + graph.onnx_bytes


class _CalibrationAlgoType(enum.IntEnum):
    LEGACY_CALIBRATION = 0
    ENTROPY_CALIBRATION = 1
    ENTROPY_CALIBRATION_2 = 2
    MINMAX_CALIBRATION = 3


class _IInt8Calibrator:
    """Base of calibrators; subclasses must call the base __init__ (pybind11 insists)."""

    def __init__(self):
        self._base_initialised = True


class _IInt8EntropyCalibrator2(_IInt8Calibrator):
    """The entropy calibrator base the application subclasses."""

    def get_algorithm(self):
        return _CalibrationAlgoType.ENTROPY_CALIBRATION_2


_SURFACES = {
    10: {'BuilderFlag': _BuilderFlag10, 'NetworkDefinitionCreationFlag': _NetworkFlags10,
         'Builder': _Builder10, 'IInt8Calibrator': _IInt8Calibrator,
         'IInt8EntropyCalibrator2': _IInt8EntropyCalibrator2,
         'CalibrationAlgoType': _CalibrationAlgoType},
    11: {'BuilderFlag': _BuilderFlag11, 'NetworkDefinitionCreationFlag': _NetworkFlags11,
         'Builder': Builder},
}
reset()


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
        self.flags = {_surface['BuilderFlag'](f) for f in header['flags']}
        self.precision = header['precision']
        self.session = _session(onnx_bytes)
        fake_pycuda.register_engine(self)

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
                views[name] = (_memory.device_bytes(self._addresses[name], nbytes), shape)
            except _memory.Error as err:
                _emit(self.engine.logger, Severity.ERROR, f'Error Code 1: Cuda Runtime ({err})')
                return False
        RECORD.executions.append({'stream': stream_handle,
                                  'addresses': dict(self._addresses),
                                  'shapes': {n: tuple(v[1]) for n, v in views.items()}})
        _memory.stream_by_handle(stream_handle).enqueue(lambda: self._run(views))
        return True

    def _check_ready(self, stream_handle):
        if _memory.stream_by_handle(stream_handle) is None:
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
