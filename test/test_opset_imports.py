"""Model files import only the opset domains their nodes use, as old runtimes accept them."""

import onnx
from onnx import helper, TensorProto
import pytest

from jetson_classifier.inference.opset_imports import (ACCEPTED, imported, lowest_opset_imports,
                                                       MAX_IR_VERSION, opset_problems,
                                                       tidy_opset_imports)

# The domains ONNX Runtime's optimizer wrote into every INT8 file before recipe 3.
OPTIMIZER_IMPORTS = {'ai.onnx.ml': 5, 'ai.onnx.training': 1, 'ai.onnx.preview': 1,
                     'com.microsoft': 1, 'ai.onnx.preview.training': 1,
                     'com.microsoft.experimental': 1, 'com.microsoft.nchwc': 1,
                     'org.pytorch.aten': 1}


def relu_then_pad(imports, ir_version=8):
    """Return a two-node model (Relu since opset 14, Pad since 13) importing `imports`."""
    pads = helper.make_tensor('pads', TensorProto.INT64, [4], [0, 1, 0, 1])
    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['r']), helper.make_node('Pad', ['r', 'pads'], ['y'])],
        'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4])], [pads])
    return helper.make_model(graph, ir_version=ir_version, opset_imports=[
        helper.make_opsetid('' if domain == 'ai.onnx' else domain, version)
        for domain, version in imports.items()])


def test_every_catalog_file_imports_only_what_its_nodes_use_as_old_runtimes_accept(catalog):
    names = [name for name, entry in catalog.entries.items() if entry.export or entry.int8_of]
    assert len(names) >= 10  # the ladder, FP32 and INT8
    for name in names:
        model = onnx.load(str(catalog.path_of(catalog.entry(name))), load_external_data=False)
        assert opset_problems(model) == [], name
        assert imported(model) == lowest_opset_imports(model), name
        for runtime, limits in ACCEPTED.items():
            for domain, version in imported(model).items():
                assert limits[domain][0] <= version <= limits[domain][1], (name, runtime)
        assert model.ir_version <= MAX_IR_VERSION


def test_tidy_keeps_the_used_domain_at_the_lowest_version_that_holds_its_nodes():
    model = tidy_opset_imports(relu_then_pad({'ai.onnx': 17, **OPTIMIZER_IMPORTS},
                                             ir_version=10))
    assert imported(model) == {'ai.onnx': 14}
    assert model.ir_version == MAX_IR_VERSION
    onnx.checker.check_model(model)
    assert opset_problems(model) == []


def test_problems_name_unused_domains_and_versions_old_runtimes_refuse():
    problems = opset_problems(relu_then_pad({'ai.onnx': 20, 'ai.onnx.ml': 5}, ir_version=10))
    assert 'imports ai.onnx.ml 5, which no node uses' in problems
    assert 'imports ai.onnx 20 where 19 holds its nodes' in problems  # Pad-19
    assert 'ONNX Runtime 1.16 takes ai.onnx 7 to 19, not 20' in problems
    assert 'ONNX Runtime 1.16 takes ai.onnx.ml 1 to 3, not 5' in problems
    assert 'TensorRT 10.3 does not take domain ai.onnx.ml' in problems
    assert 'IR version 10: ONNX Runtime 1.16 reads up to 9' in problems


def test_a_low_opset_is_raised_to_what_tensorrt_takes():
    graph = helper.make_graph(
        [helper.make_node('GlobalAveragePool', ['x'], ['y'])], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2, 3, 3])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 2, 1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    assert lowest_opset_imports(model) == {'ai.onnx': 9}  # GlobalAveragePool is opset 1's


def test_a_node_of_a_domain_the_model_does_not_import_is_an_error():
    with pytest.raises(ValueError, match='nodes use domain ai.onnx, which the model does not'):
        lowest_opset_imports(relu_then_pad({'ai.onnx.ml': 3}))
