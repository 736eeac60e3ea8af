"""
The ONNX file TensorRT builds a model from: the model itself, its symmetric twin, or FP16.

TensorRT quantizes symmetrically only. onnx-tensorrt refuses a QuantizeLinear or
DequantizeLinear whose zero point is not all zeros ("TensorRT only supports symmetric
quantization") or whose data or Q zero point is uint8 ("Found unsupported input type of
UINT8"; onnxOpImporters.cpp, QuantDequantLinearHelper, the same from TensorRT 10.0 to 10.6),
and IDequantizeLayer takes only quantized types: int8, fp8, int4 (NvInfer.h, 10.3), not the
int32 biases ONNX Runtime's quantizer makes by default. A QDQ model with any of these, like
the catalog's CPU INT8 files (asymmetric uint8), is served by its symmetric twin beside it,
X.tensorrt.onnx for X.onnx, which prepare_models makes for the catalog's _int8 rungs.

TensorRT 11 builds strongly typed networks only: the model's own types are the precision,
so FP16 takes a copy of the model converted to FP16 (inputs and outputs kept FP32).
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import BackendUnavailableError, ModelLoadError
from jetson_classifier.inference.model_info import is_explicitly_quantized

SYMMETRIC_RECIPE = ('onnxruntime.quantization.quantize_static with activation_type and '
                    'weight_type QuantType.QInt8 and extra_options ActivationSymmetric=True, '
                    'WeightSymmetric=True, QuantizeBias=False')
_QDQ = ('QuantizeLinear', 'DequantizeLinear')


def tensorrt_twin_path(model_path):
    """Return where the symmetric TensorRT twin of `model_path` is: X.tensorrt.onnx for X.onnx."""
    return Path(model_path).with_suffix('.tensorrt.onnx')


def _constants(graph):
    """Return the graph's initializers and Constant node outputs, by name (unconverted)."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant' and node.attribute and node.attribute[0].name == 'value':
            constants[node.output[0]] = node.attribute[0].t
    return constants


def _node_problems(node, constants):
    """Yield (kind, words) for each thing TensorRT refuses in one Q/DQ node."""
    name = f'{node.op_type} {node.name or node.output[0]}'
    data = constants.get(node.input[0])
    zero_point = constants.get(node.input[2]) if len(node.input) > 2 else None
    types = {t.data_type for t in (data, zero_point) if t is not None}
    if onnx.TensorProto.UINT8 in types:
        yield 'uint8', f'quantizes to uint8 ({name})'
    if onnx.TensorProto.INT32 in types:
        yield 'int32', f'dequantizes int32 biases ({name})'
    if zero_point is not None and np.any(numpy_helper.to_array(zero_point)):
        values = np.unique(numpy_helper.to_array(zero_point))[:3].tolist()
        yield 'asymmetric', f'has non-zero zero points, e.g. {values} ({name})'


def quantization_problem(model):
    """Say what of a QDQ model TensorRT refuses (the first node of each kind); None if nothing."""
    constants = _constants(model.graph)
    problems = {}
    for node in model.graph.node:
        if node.op_type in _QDQ:
            for kind, words in _node_problems(node, constants):
                problems.setdefault(kind, words)
    return ', '.join(problems.values()) or None


def tensorrt_source(model_path, onnx_bytes):
    """
    Return (path, bytes) of the ONNX file TensorRT builds for `model_path` (read: `onnx_bytes`).

    That is the model itself unless it is a QDQ model TensorRT refuses; then its symmetric
    twin, or BackendUnavailableError saying why and the way out.
    """
    if not is_explicitly_quantized(onnx_bytes):
        return Path(model_path), onnx_bytes
    problem = quantization_problem(onnx.load_from_string(onnx_bytes))
    if problem is None:
        return Path(model_path), onnx_bytes
    twin = tensorrt_twin_path(model_path)
    way_out = (f'TensorRT takes only symmetric int8 Q/DQ (zero points 0, no int32), so it '
               f'builds a symmetric twin at {twin} instead')
    try:
        twin_bytes = twin.read_bytes()
    except FileNotFoundError:
        raise BackendUnavailableError(
            f'{model_path}: {problem}. {way_out}, which does not exist: make it with '
            f'prepare_models (catalog _int8 models) or {SYMMETRIC_RECIPE}') from None
    twin_problem = quantization_problem(onnx.load_from_string(twin_bytes))
    if twin_problem is not None:
        raise BackendUnavailableError(f'{model_path}: {problem}. {way_out}, but {twin}: '
                                      f'{twin_problem}; remake it with {SYMMETRIC_RECIPE}')
    return twin, twin_bytes


def write_fp16_twin(source, target):
    """
    Write `source` converted to FP16, its inputs and outputs kept FP32, to `target`.

    The converter (ONNX Runtime's copy of onnxconverter-common's float16) appends the input
    Casts after the nodes that read them; the nodes are put back in topological order, as
    ONNX requires (onnx-tensorrt sorts for itself, onnx.checker does not).
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    _sort_topologically(model.graph)
    write_atomically(target, model.SerializeToString())


def _sort_topologically(graph):
    available = {''} | {v.name for v in graph.input} | {t.name for t in graph.initializer}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [node for node in pending if available.issuperset(node.input)]
        if not ready:
            raise ModelLoadError(f'graph {graph.name} has a cycle or an undefined input')
        for node in ready:
            available.update(node.output)
        ordered += ready
        pending = [node for node in pending if node not in ready]
    del graph.node[:]
    graph.node.extend(ordered)
