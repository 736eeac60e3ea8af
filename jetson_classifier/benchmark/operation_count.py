"""Count a model's multiply-accumulates and parameters from its ONNX graph."""

import math

import onnx
from onnx import numpy_helper


def _shapes(model):
    """Infer every tensor's static shape with the batch dimension fixed to 1."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {t.name: tuple(t.dims) for t in inferred.graph.initializer}
    for info in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        shapes[info.name] = tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
    return inferred.graph, shapes


def count_macs(model):
    """Count the multiply-accumulates of one image through Conv, Gemm and MatMul nodes."""
    graph, shapes = _shapes(model)
    total = 0
    for node in graph.node:
        if node.op_type == 'Conv':
            weight, output = shapes[node.input[1]], shapes[node.output[0]]
            total += math.prod(output[1:]) * math.prod(weight[1:])
        elif node.op_type in ('Gemm', 'MatMul'):
            left, right = shapes[node.input[0]], shapes[node.input[1]]
            transposed = any(a.name == 'transB' and a.i for a in node.attribute)
            columns = right[0] if transposed else right[-1]
            total += math.prod(left) * columns
    return total


def count_parameters(model):
    """Count the weights stored in the graph's floating-point initializers."""
    return sum(numpy_helper.to_array(t).size for t in model.graph.initializer
               if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16))
