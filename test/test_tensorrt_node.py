"""
The classifier node as a real process on the fake TensorRT (10.3 and 11): it starts either way.

The fakes stand in for tensorrt and pycuda through test/fakes/as_installed on PYTHONPATH.
The default model runs on TensorRT at INT8; a user's asymmetric INT8 model runs on ONNX
Runtime, and the node says why in its log and its diagnostics.
"""

import os
from pathlib import Path
import shutil

from classifier_testing import classifier_status
from diagnostic_msgs.msg import DiagnosticArray
from fakes import TENSORRT_VERSIONS
import pytest
from ros_processes import domain_id, listener, node_process, ros_env, ros_params

from jetson_classifier.inference.backends.engine_cache import CACHE_DIR_ENV

NODE = 'jetson_classifier.nodes.classifier_node'
TEST_DIR = Path(__file__).resolve().parent


def fake_tensorrt_env(version, cache_dir):
    """Return the node's environment: ROS as usual, the fakes found as tensorrt and pycuda."""
    env = ros_env(domain_id())
    env['PYTHONPATH'] = os.pathsep.join(
        [str(TEST_DIR / 'fakes' / 'as_installed'), str(TEST_DIR), env['PYTHONPATH']])
    env['FAKE_TENSORRT_VERSION'] = version
    env[CACHE_DIR_ENV] = str(cache_dir)
    return env


@pytest.mark.parametrize('version', TENSORRT_VERSIONS)
def test_node_serves_the_default_model_on_tensorrt_at_int8(catalog, tmp_path, version):
    env = fake_tensorrt_env(version, tmp_path)
    with node_process(NODE, ros_params(), env=env, ready_text='classifying',
                      timeout_s=90.0) as node:
        pass
    assert 'with lite0_int8 on tensorrt (Orin (fake) (sm_87), int8)' in node.output()
    assert 'building TensorRT engine for efficientnet_lite0_224_int8.onnx (int8)' in \
        node.output()


def test_node_serves_an_asymmetric_model_on_onnxruntime_and_says_why(catalog, tmp_path):
    model = tmp_path / 'my_int8.onnx'
    shutil.copy(catalog.path_of(catalog.entry('lite0_int8')), model)
    env = fake_tensorrt_env(TENSORRT_VERSIONS[0], tmp_path / 'engines')
    with listener(domain_id()) as ros:
        received = ros.subscribe(DiagnosticArray, '/diagnostics', 10)
        with node_process(NODE, ros_params(model=str(model)), env=env,
                          ready_text='classifying', timeout_s=60.0) as node:
            ros.spin_until(lambda: classifier_status(received), timeout_s=10.0)
    assert 'with lite0_int8 on onnxruntime (CPUExecutionProvider, int8)' in node.output()
    warning = next(line for line in node.output().splitlines() if '[WARN]' in line)
    assert 'my_int8.onnx runs on ONNX Runtime, not TensorRT' in warning
    assert 'quantizes to uint8' in warning and 'my_int8.tensorrt.onnx' in warning
    status = classifier_status(received)
    assert status['backend'] == 'onnxruntime'
    assert 'quantizes to uint8' in status['tensorrt fallback']
