"""The TensorRT backend against faithful fakes of tensorrt + pycuda, and the real ones."""

import enum
import importlib.util
import logging
import sys
import threading

from fakes import fake_pycuda, fake_tensorrt, install
from fakes.tiny_model import CLASSES, export_tiny_cnn, SIZE
import numpy as np
import onnxruntime
from onnxruntime import quantization
import pytest

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import BackendUnavailableError, ClassifierError, ModelLoadError
from jetson_classifier.inference.backends import create_backend, int8_calibration
from jetson_classifier.inference.backends.engine_cache import CACHE_DIR_ENV, EngineCache, EngineKey
from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_classifier.inference.backends.tensorrt_backend import TensorRTBackend
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.model_info import is_explicitly_quantized, read_model_info
from jetson_classifier.inference.preprocessing import preprocess


@pytest.fixture(scope='session')
def models(tmp_path_factory):
    """Fixed-batch, dynamic-batch and QDQ-quantized versions of one tiny CNN."""
    folder = tmp_path_factory.mktemp('models')
    fixed = export_tiny_cnn(folder / 'tiny_fixed.onnx', dynamic=False)
    dynamic = export_tiny_cnn(folder / 'tiny_dynamic.onnx', dynamic=True)

    class Reader(quantization.CalibrationDataReader):
        """Four random inputs for onnxruntime's static quantization."""

        def __init__(self):
            rng = np.random.default_rng(1)
            self._feeds = iter([{'images': rng.normal(size=(1, 3, SIZE, SIZE))
                                 .astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self._feeds, None)

    qdq = folder / 'tiny_int8.onnx'
    quantization.quantize_static(str(dynamic), str(qdq), Reader(),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=True)
    return {'fixed': fixed, 'dynamic': dynamic, 'qdq': qdq}


@pytest.fixture
def fakes(monkeypatch):
    """Fresh fake tensorrt/pycuda modules in sys.modules for one test."""
    return install(monkeypatch)


def _batch(count, seed=0):
    return np.random.default_rng(seed).normal(size=(count, 3, SIZE, SIZE)).astype(np.float32)


def _reference(model, batch, input_name='images'):
    session = onnxruntime.InferenceSession(str(model), providers=['CPUExecutionProvider'])
    return session.run(None, {input_name: batch})[0]


def _backend(model, cache_dir, **options):
    return TensorRTBackend(model, cache_dir=cache_dir, **options)


def test_fp16_build_sets_fp16_flag_workspace_limit_and_no_explicit_batch_flag(
        fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp16', workspace_mb=256)
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == {fake_tensorrt.BuilderFlag.FP16}
    assert build['memory_pools'] == {fake_tensorrt.MemoryPoolType.WORKSPACE: 256 << 20}
    assert fake_tensorrt.RECORD.networks == [0]
    assert build['calibrator'] is None
    assert backend.precision == 'fp16'
    assert backend.device == 'Orin (fake) (sm_87)'
    backend.close()


def test_fp32_build_sets_no_precision_flag(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp32')
    assert fake_tensorrt.RECORD.builds[0]['flags'] == set()
    assert backend.precision == 'fp32'
    backend.close()


def test_qdq_model_builds_int8_by_explicit_quantization_without_calibrator(
        fakes, models, tmp_path):
    assert is_explicitly_quantized(models['qdq'].read_bytes())
    assert not is_explicitly_quantized(models['dynamic'].read_bytes())
    backend = _backend(models['qdq'], tmp_path, precision='int8')
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == {fake_tensorrt.BuilderFlag.FP16, fake_tensorrt.BuilderFlag.INT8}
    assert build['explicit_quantization']
    assert build['calibrator'] is None
    batch = _batch(1)
    np.testing.assert_allclose(backend.infer(batch), _reference(models['qdq'], batch),
                               rtol=1e-5, atol=1e-5)
    backend.close()


def test_qdq_model_asked_for_fp16_still_reports_int8(fakes, models, tmp_path):
    backend = _backend(models['qdq'], tmp_path, precision='fp16')
    assert backend.precision == 'int8'
    assert 'int8' in backend.engine_path.name
    backend.close()


def test_int8_from_fp32_model_calibrates_on_images_and_reuses_the_table(
        fakes, models, tmp_path, monkeypatch):
    images = tmp_path / 'images'
    images.mkdir()
    for i in range(3):
        (images / f'{i}.png').write_bytes(_png(i))
    (images / 'notes.txt').write_text('not an image')

    def preprocess(rgb):
        return rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0

    monkeypatch.setattr(int8_calibration, 'model_preprocessor', lambda path: preprocess)
    backend = TensorRTBackend(models['fixed'], precision='int8', cache_dir=tmp_path / 'c',
                              calibration_images=images)
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == {fake_tensorrt.BuilderFlag.FP16, fake_tensorrt.BuilderFlag.INT8}
    assert build['calibration_batches'] == 3
    tables = list((tmp_path / 'c').glob('*.calib'))
    assert len(tables) == 1
    assert tables[0].read_bytes().startswith(b'TRT-100300-EntropyCalibration2\nimages: ')
    backend.close()
    backend.engine_path.unlink()

    again = TensorRTBackend(models['fixed'], precision='int8', cache_dir=tmp_path / 'c',
                            calibration_images=images)
    rebuild = fake_tensorrt.RECORD.builds[1]
    assert rebuild['calibration_cache_used']
    assert rebuild['calibration_batches'] == 0
    again.close()


def _png(seed):
    import cv2
    pixels = np.random.default_rng(seed).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    return cv2.imencode('.png', pixels)[1].tobytes()


def test_int8_from_fp32_model_without_images_names_the_way_out(fakes, models, tmp_path):
    with pytest.raises(ModelLoadError, match='needs calibration images .*QDQ-quantized'):
        _backend(models['fixed'], tmp_path, precision='int8')


def test_cache_key_file_name_changes_with_every_component():
    base = EngineKey('ab' * 32, '10.3.0', 'Orin', (8, 7), 'fp16', 1)
    variants = [
        EngineKey('cd' * 32, '10.3.0', 'Orin', (8, 7), 'fp16', 1),
        EngineKey('ab' * 32, '10.4.0', 'Orin', (8, 7), 'fp16', 1),
        EngineKey('ab' * 32, '10.3.0', 'Xavier', (8, 7), 'fp16', 1),
        EngineKey('ab' * 32, '10.3.0', 'Orin', (7, 2), 'fp16', 1),
        EngineKey('ab' * 32, '10.3.0', 'Orin', (8, 7), 'int8', 1),
        EngineKey('ab' * 32, '10.3.0', 'Orin', (8, 7), 'fp16', 4),
    ]
    names = {key.file_name('lite0') for key in [base] + variants}
    assert len(names) == 7
    assert base.file_name('lite0').startswith('lite0-fp16-b1-trt10-3-0-sm87-')


def test_engine_key_hashes_the_onnx_bytes_and_names_gpu(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    import hashlib
    digest = hashlib.sha256(models['fixed'].read_bytes()).hexdigest()
    expected = EngineKey(digest, '10.3.0', 'Orin (fake)', (8, 7), 'fp16', 1)
    assert backend.engine_path == tmp_path / expected.file_name('tiny_fixed')
    backend.close()


def test_second_start_reuses_the_engine_without_building(fakes, models, tmp_path):
    first = _backend(models['fixed'], tmp_path)
    assert first.built
    first.close()
    second = _backend(models['fixed'], tmp_path)
    assert not second.built
    assert fake_tensorrt.RECORD.builders_created == 1
    assert fake_tensorrt.RECORD.deserializations == ['ok', 'ok']
    second.close()


def test_new_gpu_or_tensorrt_version_gets_its_own_engine(fakes, models, tmp_path):
    _backend(models['fixed'], tmp_path).close()
    fake_tensorrt.reset(version='10.4.1')
    _backend(models['fixed'], tmp_path).close()
    assert fake_tensorrt.RECORD.builders_created == 1
    assert len(list(tmp_path.glob('*.engine'))) == 2


def test_corrupt_cached_engine_is_logged_and_rebuilt(fakes, models, tmp_path, caplog):
    first = _backend(models['fixed'], tmp_path)
    path = first.engine_path
    first.close()
    path.write_bytes(b'\x00garbage from a half-copied SD card')
    with caplog.at_level(logging.WARNING):
        second = _backend(models['fixed'], tmp_path)
    assert second.built
    assert fake_tensorrt.RECORD.builders_created == 2
    assert any(str(path) in r.getMessage() and 'rebuilding' in r.getMessage()
               for r in caplog.records)
    assert any('Magic tag does not match' in r.getMessage() for r in caplog.records)
    batch = _batch(1)
    np.testing.assert_allclose(second.infer(batch), _reference(models['fixed'], batch),
                               rtol=1e-5, atol=1e-6)
    assert path.read_bytes().startswith(b'FAKETRT1')
    second.close()


def test_engine_whose_deserialization_raises_is_rebuilt(fakes, models, tmp_path, monkeypatch):
    _backend(models['fixed'], tmp_path).close()

    def explode(self, plan):
        raise RuntimeError('std::exception in deserializeCudaEngine')

    original = fake_tensorrt.Runtime.deserialize_cuda_engine
    calls = []

    def once(self, plan):
        calls.append(1)
        return explode(self, plan) if len(calls) == 1 else original(self, plan)

    monkeypatch.setattr(fake_tensorrt.Runtime, 'deserialize_cuda_engine', once)
    backend = _backend(models['fixed'], tmp_path)
    assert backend.built
    backend.close()


def test_unwritable_cache_dir_fails_at_start_naming_dir_and_how_to_change_it(
        fakes, models, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(ModelLoadError) as caught:
        _backend(models['fixed'], blocker / 'engines')
    message = str(caught.value)
    assert str(blocker / 'engines') in message
    assert CACHE_DIR_ENV in message and 'cache_dir' in message
    assert fake_tensorrt.RECORD.builders_created == 0


def test_default_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / 'from_env'))
    assert EngineCache().directory == tmp_path / 'from_env'
    assert (tmp_path / 'from_env').is_dir()


def test_atomic_write_leaves_no_temp_files_and_replaces_old_content(tmp_path):
    target = tmp_path / 'x.engine'
    target.write_bytes(b'old')
    write_atomically(target, b'new')
    assert target.read_bytes() == b'new'
    assert [p.name for p in tmp_path.iterdir()] == ['x.engine']


def test_tensor_addresses_are_set_by_name_to_the_device_buffers(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    backend.infer(_batch(1))
    addresses = dict(fake_tensorrt.RECORD.set_tensor_address)
    assert set(addresses) == {'images', 'logits'}
    assert addresses['images'] != addresses['logits']
    execution = fake_tensorrt.RECORD.executions[0]
    assert execution['addresses'] == addresses
    assert execution['shapes'] == {'images': (1, 3, SIZE, SIZE), 'logits': (1, CLASSES)}
    backend.close()


def test_outputs_are_read_after_the_stream_is_synchronized(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    for seed in range(3):
        batch = _batch(1, seed)
        np.testing.assert_allclose(backend.infer(batch), _reference(models['fixed'], batch),
                                   rtol=1e-5, atol=1e-6)
    stream = fake_tensorrt.RECORD.executions[0]['stream']
    assert fake_pycuda.synchronize_calls() == [stream] * 3
    backend.close()


def test_fake_leaves_host_output_stale_until_synchronize(
        fakes, models, tmp_path, monkeypatch):
    backend = _backend(models['fixed'], tmp_path)
    first, second = _batch(1, seed=1), _batch(1, seed=2)
    backend.infer(first)
    monkeypatch.setattr(backend._stream, 'synchronize', lambda: None)
    stale = backend.infer(second)
    np.testing.assert_allclose(stale, _reference(models['fixed'], first), rtol=1e-5, atol=1e-6)
    assert not np.allclose(stale, _reference(models['fixed'], second))
    backend.close()


def test_dynamic_batch_builds_a_profile_and_runs_smaller_batches(fakes, models, tmp_path):
    backend = _backend(models['dynamic'], tmp_path, max_batch=4)
    shapes = (1, 3, SIZE, SIZE), (4, 3, SIZE, SIZE), (4, 3, SIZE, SIZE)
    assert fake_tensorrt.RECORD.builds[0]['profiles'] == [{'images': shapes}]
    assert backend.input_shape == (None, 3, SIZE, SIZE)
    assert backend.max_batch == 4
    batch = _batch(3)
    np.testing.assert_allclose(backend.infer(batch), _reference(models['dynamic'], batch),
                               rtol=1e-5, atol=1e-6)
    assert fake_tensorrt.RECORD.set_input_shape[-1] == ('images', (3, 3, SIZE, SIZE))
    with pytest.raises(ClassifierError, match=r'\(1\.\.4, 3, 32, 32\)'):
        backend.infer(_batch(5))
    backend.close()


def test_fixed_batch_model_refuses_a_larger_max_batch(fakes, models, tmp_path):
    with pytest.raises(ModelLoadError, match='fixed batch of 1; max_batch 2'):
        _backend(models['fixed'], tmp_path, max_batch=2)


def test_fake_execute_fails_without_input_shape_or_addresses(fakes, models, tmp_path, caplog):
    backend = _backend(models['dynamic'], tmp_path, max_batch=2)
    engine = backend._engine
    with backend._cuda.activate():
        stream = fake_pycuda.Stream()
        context = engine.create_execution_context()
        assert not context.execute_async_v3(stream.handle)
        assert context.set_input_shape('images', (1, 3, SIZE, SIZE))
        context.set_tensor_address('images', int(backend._io['images'][1]))
        assert not context.execute_async_v3(stream.handle)
        assert not context.set_input_shape('images', (3, 3, SIZE, SIZE))
    messages = [m for _, m in fake_tensorrt.RECORD.log]
    assert any('inputDimensionSpecified' in m for m in messages)
    assert any('Address is not set for input/output tensor logits' in m for m in messages)
    backend.close()


def test_fake_execute_fails_when_a_buffer_is_too_small(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    with backend._cuda.activate():
        context = backend._engine.create_execution_context()
        context.set_tensor_address('images', int(fake_pycuda.mem_alloc(16)))
        context.set_tensor_address('logits', int(backend._io['logits'][1]))
        assert not context.execute_async_v3(backend._stream.handle)
    assert 'illegal memory access' in fake_tensorrt.RECORD.log[-1][1]
    backend.close()


def test_tensorrt_without_weak_typing_flags_is_refused_for_fp16(
        fakes, models, tmp_path, monkeypatch):
    monkeypatch.setattr(fake_tensorrt, 'BuilderFlag', enum.IntEnum('BuilderFlag', ['TF32']))
    with pytest.raises(BackendUnavailableError, match='no BuilderFlag.FP16'):
        _backend(models['fixed'], tmp_path, precision='fp16')


def test_tensorrt_without_calibrators_refuses_int8_from_fp32_but_builds_qdq(
        fakes, models, tmp_path, monkeypatch):
    monkeypatch.delattr(fake_tensorrt, 'IInt8EntropyCalibrator2')
    with pytest.raises(BackendUnavailableError, match='use a QDQ-quantized model'):
        _backend(models['fixed'], tmp_path, precision='int8', calibration_images=tmp_path)
    _backend(models['qdq'], tmp_path, precision='int8').close()


def test_output_shape_mismatch_is_reported(fakes, models, tmp_path, monkeypatch):
    backend = _backend(models['fixed'], tmp_path)
    monkeypatch.setattr(fake_tensorrt.IExecutionContext, 'get_tensor_shape',
                        lambda self, name: fake_tensorrt.Dims((1, CLASSES + 1)))
    with pytest.raises(ClassifierError, match=r'output logits has shape \(1, 11\)'):
        backend.infer(_batch(1))
    backend.close()


def test_bad_onnx_file_raises_model_load_error_naming_the_file(fakes, tmp_path):
    bad = tmp_path / 'broken.onnx'
    bad.write_bytes(b'this is not a protobuf')
    with pytest.raises(ModelLoadError, match=f'cannot parse {bad}'):
        _backend(bad, tmp_path / 'cache')
    with pytest.raises(ModelLoadError, match='missing.onnx'):
        _backend(tmp_path / 'missing.onnx', tmp_path / 'cache')


def test_infer_from_another_thread_pushes_the_context(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    batch, results = _batch(1), []
    worker = threading.Thread(target=lambda: results.append(backend.infer(batch)))
    worker.start()
    worker.join()
    np.testing.assert_allclose(results[0], _reference(models['fixed'], batch),
                               rtol=1e-5, atol=1e-6)
    assert not fake_pycuda.has_current_context()
    backend.close()


def test_fake_cuda_refuses_work_without_a_current_context(fakes):
    fake_pycuda.init()
    with pytest.raises(fake_pycuda.LogicError, match='invalid device context'):
        fake_pycuda.mem_alloc(16)


def test_timing_cache_is_saved_and_fed_to_the_next_build(fakes, models, tmp_path):
    _backend(models['fixed'], tmp_path, precision='fp16').close()
    timing = list(tmp_path.glob('timing-*.cache'))
    assert [p.name for p in timing] == ['timing-trt10-3-0-orin-fake-sm87.cache']
    _backend(models['fixed'], tmp_path, precision='fp32').close()
    _backend(models['dynamic'], tmp_path, precision='fp16', max_batch=2).close()
    builds = fake_tensorrt.RECORD.builds
    assert all(b['timing_cache_set'] for b in builds)
    assert builds[0]['timing_cache_hits'] == 0
    assert builds[2]['timing_cache_hits'] > 0


def test_close_frees_device_memory_and_releases_the_context(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    backend.close()
    backend.close()
    assert fake_pycuda._state.allocations == {}
    assert fake_pycuda._state.primary_retains == 0


def test_catalog_int8_models_are_detected_as_qdq_and_fp32_ones_are_not(catalog):
    lite0 = catalog.path_of(catalog.entry('lite0')).read_bytes()
    lite0_int8 = catalog.path_of(catalog.entry('lite0_int8')).read_bytes()
    assert is_explicitly_quantized(lite0_int8)
    assert not is_explicitly_quantized(lite0)


def test_lite0_int8_calibration_uses_the_models_own_preprocessing(
        fakes, catalog, sample_images, tmp_path):
    images = tmp_path / 'calibration'
    images.mkdir()
    for path in sample_images[:2]:
        (images / path.name).write_bytes(path.read_bytes())
    model = catalog.path_of(catalog.entry('lite0'))
    backend = TensorRTBackend(model, precision='int8', cache_dir=tmp_path / 'cache',
                              calibration_images=images)
    assert fake_tensorrt.RECORD.builds[0]['calibration_batches'] == 2
    info = read_model_info(model)
    batch = preprocess(read_rgb(sample_images[0]), info)
    assert (backend.input_shape, backend.max_batch) == ((None, 3, 224, 224), 1)
    np.testing.assert_allclose(backend.infer(batch), _reference(model, batch, 'input'),
                               rtol=1e-4, atol=1e-4)
    backend.close()


def test_auto_backend_is_tensorrt_where_tensorrt_and_a_gpu_answer(fakes, models, tmp_path):
    backend = create_backend('auto', models['dynamic'], precision='fp32', cache_dir=tmp_path,
                             max_batch=2, threads=2)
    assert isinstance(backend, TensorRTBackend)
    assert (backend.precision, backend.max_batch) == ('fp32', 2)
    assert backend.engine_path.parent == tmp_path
    backend.close()


def test_auto_backend_falls_back_to_onnxruntime_without_tensorrt(models, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    with caplog.at_level(logging.INFO):
        backend = create_backend('auto', models['fixed'])
    assert isinstance(backend, OnnxRuntimeBackend)
    assert 'TensorRT is not usable here' in caplog.text
    with pytest.raises(BackendUnavailableError, match='TensorRT cannot be imported'):
        create_backend('tensorrt', models['fixed'])


def test_tensorrt_older_than_10_is_refused_with_its_version(fakes, models, tmp_path):
    fake_tensorrt.reset(version='8.6.2')
    with pytest.raises(BackendUnavailableError, match='TensorRT 8.6.2 is installed'):
        _backend(models['fixed'], tmp_path)


def _real_gpu_available():
    if importlib.util.find_spec('tensorrt') is None or importlib.util.find_spec(
            'pycuda') is None:
        return False
    import pycuda.driver as cuda
    try:
        cuda.init()
        return cuda.Device.count() > 0
    except cuda.Error:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _real_gpu_available(), reason='needs real TensorRT, pycuda and a GPU')
def test_real_tensorrt_matches_onnxruntime(models, tmp_path):
    backend = _backend(models['dynamic'], tmp_path, precision='fp32', max_batch=2)
    batch = _batch(2)
    np.testing.assert_allclose(backend.infer(batch), _reference(models['dynamic'], batch),
                               rtol=1e-3, atol=1e-3)
    backend.close()
    again = _backend(models['dynamic'], tmp_path, precision='fp32', max_batch=2)
    assert not again.built
    again.close()
