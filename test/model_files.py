"""Real ONNX classifier files that misbehave on purpose: slow to build, or impossible to."""

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

from jetson_classifier.inference.model_info import ModelInfo, write_model_info

SLOW_LABELS = ('slow cat', 'slow cup', 'slow rocket')


def write_slow_model(path, adds=30000):
    """
    Write a 3-class classifier whose ONNX Runtime session takes seconds to build.

    Its graph is a chain of `adds` Add nodes (ONNX Runtime spends about 80 us on each when
    it builds the session on this project's 2-core machine: 30000 take 2.5 s when it is
    idle, far longer while it classifies).
    """
    nodes = [helper.make_node('ReduceMean', ['input'], ['pooled'], axes=[2, 3], keepdims=0)]
    previous = 'pooled'
    for index in range(adds):
        nodes.append(helper.make_node('Add', [previous, 'zero'], [f'sum{index}']))
        previous = f'sum{index}'
    nodes.append(helper.make_node('Identity', [previous], ['logits']))
    graph = helper.make_graph(
        nodes, 'slow', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                      ['batch', 3, 8, 8])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', 3])],
        [numpy_helper.from_array(np.zeros(3, np.float32), 'zero')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    write_model_info(model, ModelInfo(labels=SLOW_LABELS, input_size=8, name=path.stem))
    onnx.save(model, str(path))
    return path


def write_unbuildable_model(source, path):
    """Copy the model at `source` with its first node made an operator nobody implements."""
    model = onnx.load(str(source))
    model.graph.node[0].op_type = 'NoSuchOperator'
    onnx.save(model, str(path))
    return path
