"""
The ONNX Runtime backend: the input types it feeds, exact int8, spin_wait, the shared pool.

Exact int8 is asked for only where the CPU lacks VNNI; the pool is process-wide, so its tests
run in fresh processes.
"""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto
import pytest

from jetson_classifier.cpu_features import has_vnni, VNNI
from jetson_classifier.errors import ModelLoadError
from jetson_classifier.inference.backends import onnxruntime_backend
from jetson_classifier.inference.backends.onnxruntime_backend import (GLOBAL_POOL,
                                                                      OnnxRuntimeBackend)

ROOT = Path(__file__).resolve().parent.parent


def write_model_taking(elem_type, path):
    """Write a model that casts its (N, 3, 2, 2) input of `elem_type` to float and pools it."""
    graph = helper.make_graph(
        [helper.make_node('Cast', ['input'], ['floats'], to=TensorProto.FLOAT),
         helper.make_node('ReduceMean', ['floats'], ['logits'], axes=[2, 3], keepdims=0)],
        'cast', [helper.make_tensor_value_info('input', elem_type, ['batch', 3, 2, 2])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize('elem_type, dtype', [(TensorProto.FLOAT, np.float32),
                                              (TensorProto.UINT8, np.uint8)])
def test_a_model_is_fed_normalised_floats_or_pixels_as_its_input_says(
        tmp_path, elem_type, dtype):
    backend = OnnxRuntimeBackend(write_model_taking(elem_type, tmp_path / 'm.onnx'), threads=1)
    assert backend.input_dtype == dtype
    batch = np.arange(24).reshape(2, 3, 2, 2).astype(dtype)
    np.testing.assert_allclose(backend.infer(batch), batch.mean(axis=(2, 3)))
    backend.close()


def test_a_model_taking_another_input_type_is_refused_naming_it(tmp_path):
    path = write_model_taking(TensorProto.FLOAT16, tmp_path / 'half.onnx')
    with pytest.raises(ModelLoadError, match=r'half.onnx takes tensor\(float16\)'):
        OnnxRuntimeBackend(path, threads=1)


def test_has_vnni_reads_the_cpu_flags():
    flags = next((line.split(':', 1)[1].split() for line in open('/proc/cpuinfo')
                  if line.startswith(('flags', 'Features'))), [])
    assert has_vnni() == any(feature in flags for feature in VNNI)


@pytest.mark.parametrize('vnni', [False, True], ids=['without VNNI', 'with VNNI'])
def test_exact_int8_is_asked_for_only_where_the_cpu_lacks_vnni(monkeypatch, vnni):
    # With VNNI the products are exact already, and the key would only slow int8 down 2x.
    monkeypatch.setattr(onnxruntime_backend, 'has_vnni', lambda: vnni)
    options = onnxruntime_backend.session_options()
    key, value = onnxruntime_backend.EXACT_INT8_ON_X86
    if vnni:
        with pytest.raises(RuntimeError, match='does not have configuration'):
            options.get_session_config_entry(key)
    else:
        assert options.get_session_config_entry(key) == value


def spinning_entry(backend):
    """Return the session's allow_spinning config entry, or None where it is unset (spins)."""
    options = backend._session.get_session_options()
    try:
        return options.get_session_config_entry(onnxruntime_backend.IDLE_WORKERS_SLEEP[0])
    except RuntimeError:  # unset: ONNX Runtime's default, spinning
        return None


@pytest.mark.parametrize('spin_wait, entry, described', [
    (True, None, '2, idle ones spin'), (False, '0', '2, idle ones sleep')])
def test_spin_wait_false_makes_idle_workers_sleep_and_true_leaves_the_default_spin(
        tmp_path, spin_wait, entry, described):
    path = write_model_taking(TensorProto.FLOAT, tmp_path / 'm.onnx')
    backend = OnnxRuntimeBackend(path, threads=2, spin_wait=spin_wait)
    assert (spinning_entry(backend), backend.cpu_threads) == (entry, described)
    assert backend._session.get_session_options().intra_op_num_threads == 2
    batch = np.ones((1, 3, 2, 2), np.float32)
    np.testing.assert_allclose(backend.infer(batch), [[1.0, 1.0, 1.0]])


# Prints what a session with its own pool scores next to two later sessions on the shared
# pool (one asking for another thread count), and what resizing the shared pool raises.
SHARED_POOL_SCRIPT = """
import json, sys
import numpy as np
from jetson_classifier.errors import BackendUnavailableError
from jetson_classifier.inference.backends.onnxruntime_backend import (OnnxRuntimeBackend,
                                                            share_one_thread_pool)

path = sys.argv[1]
batch = np.random.default_rng(0).uniform(-1, 1, (2, 3, 160, 160)).astype(np.float32)
own = OnnxRuntimeBackend(path, threads=1)
share_one_thread_pool(2)
share_one_thread_pool(2)
shared = [OnnxRuntimeBackend(path, threads=threads) for threads in (2, 1)]
scores = [b.infer(batch) for b in (*shared, own)]
try:
    share_one_thread_pool(1)
    refusal = None
except BackendUnavailableError as error:
    refusal = str(error)
print(json.dumps({'max_diff': max(float(np.abs(s - scores[-1]).max()) for s in scores),
                  'top1': [s.argmax(1).tolist() for s in scores], 'refusal': refusal}))
"""


def test_sessions_on_the_shared_pool_score_as_one_with_its_own_and_resizing_is_refused(
        catalog):
    path = catalog.path_of(catalog.entry('lite0_160'))
    done = subprocess.run([sys.executable, '-c', SHARED_POOL_SCRIPT, str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer['max_diff'] < 1e-4
    assert answer['top1'][0] == answer['top1'][1] == answer['top1'][2]
    what = 'shares a pool' if GLOBAL_POOL else 'gives each session a pool'  # ONNX Runtime < 1.23
    assert answer['refusal'] == (f'this process already {what} of 2 ONNX Runtime threads; it '
                                 'cannot have one of 1 as well')


# Where ONNX Runtime has no global pool: what the sessions get instead, and how it is told.
NO_GLOBAL_POOL_SCRIPT = """
import json, sys
from jetson_classifier.inference.backends import onnxruntime_backend as backend

backend.share_one_thread_pool(2, shared=False)
session = backend.OnnxRuntimeBackend(sys.argv[1], threads=1, spin_wait=True)
options = session._session.get_session_options()
spinning = options.get_session_config_entry('session.intra_op.allow_spinning')
print(json.dumps({'threads': options.intra_op_num_threads, 'spinning': spinning,
                  'described': session.cpu_threads}))
"""


def test_without_a_global_pool_each_session_gets_the_threads_and_its_idle_workers_sleep(
        catalog):
    path = catalog.path_of(catalog.entry('lite0_160'))
    done = subprocess.run([sys.executable, '-c', NO_GLOBAL_POOL_SCRIPT, str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert (answer['threads'], answer['spinning']) == (2, '0')
    assert answer['described'].startswith('a pool of 2 per session, idle ones sleep')
