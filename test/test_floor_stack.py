"""
The JetPack 6 floor (make test-floor): old runtimes load our files and answer alike.

ONNX Runtime 1.16's own limits on opset imports are checked where it is installed; the
catalog models' answers where JETSON_CLASSIFIER_REFERENCE_TOP1 names the answers the
development stack gave on the same files (test/catalog_top1.py --write). Elsewhere these
tests are skipped.
"""

import json
import os
from pathlib import Path

from catalog_top1 import catalog_top1
import onnx
from onnx import helper, TensorProto
import onnxruntime as ort
import pytest

from jetson_classifier.errors import ModelLoadError
from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_classifier.inference.opset_imports import ACCEPTED, MAX_IR_VERSION

REFERENCE = os.environ.get('JETSON_CLASSIFIER_REFERENCE_TOP1')
ORT_1_16 = ort.__version__.startswith('1.16.')
LIMITS = ACCEPTED['ONNX Runtime 1.16']
# The largest margin (probability of the top-1 less the runner-up's) the stacks may swap.
NEAR_TIE = 0.1


@pytest.mark.skipif(not REFERENCE, reason='JETSON_CLASSIFIER_REFERENCE_TOP1 is not set')
def test_every_catalog_model_gives_every_photo_the_top1_of_the_development_stack(catalog):
    expected = json.loads(Path(REFERENCE).read_text())
    answers = catalog_top1(catalog)
    assert sorted(answers) == sorted(expected) and len(answers) >= 10
    assert min(len(labels) for labels in answers.values()) >= 6
    differences = [(model, photo, reference, answers[model][photo][0])
                   for model, labels in expected.items()
                   for photo, reference in labels.items()
                   if answers[model][photo][0] != reference[0]]
    # A pixel one level apart swapped the best two where they were level or one quantized
    # step apart (margins 0.0 and 0.025; lite0_192_int8 and lite0_int8 while INT8 logits were
    # quantized, 2026-12-05).
    swaps = [d for d in differences if d[3] == d[2][1] and d[2][2] < NEAR_TIE]
    assert differences == swaps and len(swaps) <= 3


def relu_model(path, imports, ir_version):
    """Save a one-Relu model importing `imports` ({domain: version}); return its path."""
    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'])], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 2])])
    model = helper.make_model(graph, ir_version=ir_version, opset_imports=[
        helper.make_opsetid('' if domain == 'ai.onnx' else domain, version)
        for domain, version in imports.items()])
    onnx.save(model, str(path))
    return path


@pytest.mark.skipif(not ORT_1_16, reason=f'needs ONNX Runtime 1.16, not {ort.__version__}')
@pytest.mark.parametrize('domain', sorted(LIMITS))
def test_onnx_runtime_1_16_takes_each_domain_up_to_the_version_opset_imports_names(
        tmp_path, domain):
    high = LIMITS[domain][1]
    base = {'ai.onnx': 14} if domain != 'ai.onnx' else {}
    OnnxRuntimeBackend(relu_model(tmp_path / 'ok.onnx', {**base, domain: high}, 8)).close()
    with pytest.raises(ModelLoadError, match=f'Opset {high + 1} is under development'):
        OnnxRuntimeBackend(relu_model(tmp_path / 'new.onnx', {**base, domain: high + 1}, 8))


@pytest.mark.skipif(not ORT_1_16, reason=f'needs ONNX Runtime 1.16, not {ort.__version__}')
def test_onnx_runtime_1_16_reads_ir_versions_up_to_the_one_opset_imports_names(tmp_path):
    path = relu_model(tmp_path / 'ok.onnx', {'ai.onnx': 14}, MAX_IR_VERSION)
    OnnxRuntimeBackend(path).close()
    with pytest.raises(ModelLoadError, match='Unsupported model IR version'):
        OnnxRuntimeBackend(relu_model(tmp_path / 'new.onnx', {'ai.onnx': 14},
                                      MAX_IR_VERSION + 1))
