"""
The TensorRT backend against faithful fakes of tensorrt + pycuda, and the real ones.

The contract tests take the `fakes` fixture and so run twice: as TensorRT 10.3 (JetPack 6,
weakly typed builds) and as TensorRT 11 (strongly typed only). Fake FP16 and INT8 engines
compute what ONNX Runtime computes for their file, so those tests compare top-1 answers,
not numbers; FP32 engines run the very model and must match ONNX Runtime closely.
"""

import importlib.util
import logging
import shutil
import sys
import threading

from fakes import fake_pycuda, fake_tensorrt
from fakes.tiny_model import CLASSES, export_tiny_cnn, quantize_tiny_cnn, SIZE
import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime
import pytest

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import BackendUnavailableError, ClassifierError, ModelLoadError
from jetson_classifier.inference.backends import create_backend, int8_calibration
from jetson_classifier.inference.backends.cuda_memory import release_devices
from jetson_classifier.inference.backends.engine_cache import CACHE_DIR_ENV, EngineCache, EngineKey
from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_classifier.inference.backends.tensorrt_backend import TensorRTBackend
from jetson_classifier.inference.backends.tensorrt_models import tensorrt_twin_path
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.model_info import is_explicitly_quantized, read_model_info
from jetson_classifier.inference.preprocessing import preprocess


@pytest.fixture(scope='session')
def models(tmp_path_factory):
    """One tiny CNN: fixed and dynamic batch, QDQ symmetric (TensorRT-valid) and asymmetric."""
    folder = tmp_path_factory.mktemp('models')
    fixed = export_tiny_cnn(folder / 'tiny_fixed.onnx', dynamic=False)
    dynamic = export_tiny_cnn(folder / 'tiny_dynamic.onnx', dynamic=True)
    return {'fixed': fixed, 'dynamic': dynamic,
            'qdq': quantize_tiny_cnn(dynamic, folder / 'tiny_int8.onnx', symmetric=True),
            'asymmetric': quantize_tiny_cnn(dynamic, folder / 'user_int8.onnx', symmetric=False)}


def _batch(count, seed=0):
    return np.random.default_rng(seed).normal(size=(count, 3, SIZE, SIZE)).astype(np.float32)


def _reference(model, batch, input_name='images'):
    session = onnxruntime.InferenceSession(str(model), providers=['CPUExecutionProvider'])
    return session.run(None, {input_name: batch})[0]


def _backend(model, cache_dir, **options):
    return TensorRTBackend(model, cache_dir=cache_dir, **options)


def _weakly_typed():
    return hasattr(fake_tensorrt.BuilderFlag, 'FP16')


def _flags_for(precision):
    """Return the builder flags a build at `precision` sets: TensorRT 10's, none on 11."""
    if not _weakly_typed():
        return set()
    flag = fake_tensorrt.BuilderFlag
    return {'fp32': set(), 'fp16': {flag.FP16}, 'int8': {flag.FP16, flag.INT8}}[precision]


def _same_top1(backend, model, seeds=range(8), input_name='images'):
    for seed in seeds:
        batch = _batch(1, seed)
        assert backend.infer(batch).argmax() == _reference(model, batch, input_name).argmax()


def test_fp16_is_the_default_for_float_models(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, workspace_mb=256)
    build = fake_tensorrt.RECORD.builds[0]
    assert backend.precision == build['precision'] == 'fp16'
    assert build['flags'] == _flags_for('fp16')
    assert build['memory_pools'] == {fake_tensorrt.MemoryPoolType.WORKSPACE: 256 << 20}
    assert fake_tensorrt.RECORD.networks == [0]
    assert build['calibrator'] is None
    assert backend.device == 'Orin (fake) (sm_87)'
    _same_top1(backend, models['fixed'])
    backend.close()


def test_strongly_typed_fp16_builds_from_an_fp16_copy_with_fp32_inputs_and_outputs(
        fakes11, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp16')
    assert fake_tensorrt.RECORD.builds[0]['strongly_typed']
    copies = list(tmp_path.glob('*-fp16.onnx'))
    assert [p.parent for p in copies] == [backend.engine_path.parent]
    model = onnx.load(str(copies[0]))
    assert {t.data_type for t in model.graph.initializer} == {onnx.TensorProto.FLOAT16}
    assert [v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)] \
        == [onnx.TensorProto.FLOAT] * 2
    assert backend.infer(_batch(1)).dtype == np.float32
    backend.close()
    backend.engine_path.unlink()
    _backend(models['fixed'], tmp_path, precision='fp16').close()
    assert list(tmp_path.glob('*-fp16.onnx')) == copies


def test_fp32_build_sets_no_precision_flag_and_matches_onnxruntime(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp32')
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == set() and backend.precision == build['precision'] == 'fp32'
    batch = _batch(1)
    np.testing.assert_allclose(backend.infer(batch), _reference(models['fixed'], batch),
                               rtol=1e-5, atol=1e-6)
    backend.close()


def test_symmetric_qdq_model_builds_int8_by_explicit_quantization_without_calibrator(
        fakes, models, tmp_path):
    assert is_explicitly_quantized(models['qdq'].read_bytes())
    assert not is_explicitly_quantized(models['dynamic'].read_bytes())
    backend = _backend(models['qdq'], tmp_path)
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == _flags_for('int8')
    assert build['explicit_quantization'] and build['calibrator'] is None
    assert backend.precision == build['precision'] == 'int8'
    assert backend.source_path == models['qdq']
    _same_top1(backend, models['qdq'])
    backend.close()


def test_qdq_model_asked_for_fp16_still_reports_int8(fakes, models, tmp_path):
    backend = _backend(models['qdq'], tmp_path, precision='fp16')
    assert backend.precision == 'int8'
    assert 'int8' in backend.engine_path.name
    backend.close()


def test_asymmetric_qdq_model_is_refused_with_the_reason_and_the_way_out(
        fakes, models, tmp_path):
    for make in (lambda: _backend(models['asymmetric'], tmp_path),
                 lambda: create_backend('tensorrt', models['asymmetric'], cache_dir=tmp_path)):
        with pytest.raises(BackendUnavailableError) as caught:
            make()
        message = str(caught.value)
        assert 'non-zero zero points' in message and 'int32' in message
        assert str(tensorrt_twin_path(models['asymmetric'])) in message
        assert 'prepare_models' in message and 'ActivationSymmetric=True' in message
    assert fake_tensorrt.RECORD.builders_created == 0
    assert fake_pycuda.primary_context_retains() == (0, 0)


def test_auto_serves_an_asymmetric_model_with_onnxruntime_and_a_warning(
        fakes, models, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        backend = create_backend('auto', models['asymmetric'], cache_dir=tmp_path)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert 'non-zero zero points' in backend.fallback_reason
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert 'user_int8.onnx runs on ONNX Runtime, not TensorRT' in warning.getMessage()
    assert 'non-zero zero points' in warning.getMessage()
    _same_top1(backend, models['asymmetric'])


def test_asymmetric_model_builds_from_its_symmetric_twin(fakes, models, tmp_path):
    model = tmp_path / 'parts_int8.onnx'
    shutil.copy(models['asymmetric'], model)
    shutil.copy(models['qdq'], tensorrt_twin_path(model))
    backend = _backend(model, tmp_path / 'engines')
    assert backend.source_path == tmp_path / 'parts_int8.tensorrt.onnx'
    assert backend.precision == 'int8'
    assert backend.engine_path.name.startswith('parts-int8-int8-b1-')
    _same_top1(backend, models['qdq'])
    backend.close()


def test_an_asymmetric_twin_is_refused_too(fakes, models, tmp_path):
    model = tmp_path / 'parts_int8.onnx'
    shutil.copy(models['asymmetric'], model)
    shutil.copy(models['asymmetric'], tensorrt_twin_path(model))
    with pytest.raises(BackendUnavailableError, match='parts_int8.tensorrt.onnx: .*remake it'):
        _backend(model, tmp_path)


def _parse(onnx_bytes):
    logger = fake_tensorrt.Logger()
    network = fake_tensorrt.Builder(logger).create_network(0)
    parser = fake_tensorrt.OnnxParser(network, logger)
    parsed = parser.parse(onnx_bytes)
    return parsed, [str(parser.get_error(i)) for i in range(parser.num_errors)], network


def _edited(path, edit):
    model = onnx.load(str(path))
    edit({t.name: t for t in model.graph.initializer}, model.graph)
    return model.SerializeToString()


def _set(tensor, values):
    tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))


def _scale_of_node(graph, tensors, op_type):
    node = next(n for n in graph.node if n.op_type == op_type and n.input[1] in tensors
                and tensors[n.input[1]].dims)
    return tensors[node.input[1]]


def test_fake_parser_refuses_what_onnx_tensorrt_refuses(fakes, models, catalog):
    def negative_scale(tensors, graph):
        scale = _scale_of_node(graph, tensors, 'DequantizeLinear')
        _set(scale, -numpy_helper.to_array(scale))

    def wrong_scale_count(tensors, graph):
        scale = _scale_of_node(graph, tensors, 'DequantizeLinear')
        node = next(n for n in graph.node if n.input[1] == scale.name)
        for tensor in (scale, tensors[node.input[2]]):
            _set(tensor, numpy_helper.to_array(tensor)[:-1])

    cases = {
        'TensorRT only supports symmetric quantization': models['asymmetric'].read_bytes(),
        'Found unsupported input type of UINT8':
            catalog.path_of(catalog.entry('lite0_int8')).read_bytes(),
        'Scale coefficients must all be positive': _edited(models['qdq'], negative_scale),
        'The number of scales is not equal to the number of output channels':
            _edited(models['qdq'], wrong_scale_count),
    }
    for message, onnx_bytes in cases.items():
        parsed, errors, _ = _parse(onnx_bytes)
        assert not parsed and len(errors) == 1 and message in errors[0], errors
        assert errors[0].startswith('In node ') and '(parseNode): ' in errors[0]
    assert _parse(models['qdq'].read_bytes())[0]


def test_fake_builder_refuses_to_dequantize_int32(fakes10, models):
    def zero_points_to_zero(tensors, graph):
        for node in graph.node:
            if node.op_type in ('QuantizeLinear', 'DequantizeLinear'):
                zero_point = tensors[node.input[2]]
                _set(zero_point, np.zeros_like(numpy_helper.to_array(zero_point)))

    parsed, _, network = _parse(_edited(models['asymmetric'], zero_points_to_zero))
    assert parsed
    builder = fake_tensorrt.Builder(fake_tensorrt.Logger())
    config = builder.create_builder_config()
    config.set_flag(fake_tensorrt.BuilderFlag.INT8)
    profile = builder.create_optimization_profile()
    profile.set_shape('images', (1, 3, SIZE, SIZE), (1, 3, SIZE, SIZE), (1, 3, SIZE, SIZE))
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(network, config) is None
    assert 'IDequantizeLayer input of type INT32' in fake_tensorrt.RECORD.log[-1][1]


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
    expected = EngineKey(digest, fake_tensorrt.__version__, 'Orin (fake)', (8, 7), 'fp16', 1)
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
    major, minor, patch = fake_tensorrt.__version__.split('.')
    fake_tensorrt.reset(version=f'{major}.{int(minor) + 1}.{patch}')
    _backend(models['fixed'], tmp_path).close()
    assert fake_tensorrt.RECORD.builders_created == 1
    assert len(list(tmp_path.glob('*.engine'))) == 2


def test_corrupt_cached_engine_is_logged_and_rebuilt(fakes, models, tmp_path, caplog):
    first = _backend(models['fixed'], tmp_path, precision='fp32')
    path = first.engine_path
    first.close()
    path.write_bytes(b'\x00garbage from a half-copied SD card')
    with caplog.at_level(logging.WARNING):
        second = _backend(models['fixed'], tmp_path, precision='fp32')
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
    backend = _backend(models['fixed'], tmp_path, precision='fp32')
    for seed in range(3):
        batch = _batch(1, seed)
        np.testing.assert_allclose(backend.infer(batch), _reference(models['fixed'], batch),
                                   rtol=1e-5, atol=1e-6)
    stream = fake_tensorrt.RECORD.executions[0]['stream']
    assert fake_pycuda.synchronize_calls() == [stream] * 3
    backend.close()


def test_fake_leaves_host_output_stale_until_synchronize(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp32')
    first, second = _batch(1, seed=1), _batch(1, seed=2)
    backend.infer(first)
    # Not monkeypatch: pytest before 9.2 undoes a patched method by writing the bound method
    # into the stream's __dict__, a cycle that kept the engine alive at teardown.
    backend._stream.synchronize = lambda: None
    try:
        stale = backend.infer(second)
    finally:
        del backend._stream.synchronize
    np.testing.assert_allclose(stale, _reference(models['fixed'], first), rtol=1e-5, atol=1e-6)
    assert not np.allclose(stale, _reference(models['fixed'], second))
    backend.close()


def test_dynamic_batch_builds_a_profile_and_runs_smaller_batches(fakes, models, tmp_path):
    backend = _backend(models['dynamic'], tmp_path, precision='fp32', max_batch=4)
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


def test_fake_execute_fails_without_input_shape_or_addresses(fakes, models, tmp_path):
    backend = _backend(models['dynamic'], tmp_path, max_batch=2)
    with backend._cuda.activate():
        stream = fake_pycuda.Stream()
        context = backend._engine.create_execution_context()
        assert not context.execute_async_v3(stream.handle)
        assert context.set_input_shape('images', (1, 3, SIZE, SIZE))
        context.set_tensor_address('images', int(backend._io['images'][1]))
        assert not context.execute_async_v3(stream.handle)
        assert not context.set_input_shape('images', (3, 3, SIZE, SIZE))
    messages = [m for _, m in fake_tensorrt.RECORD.log]
    assert any('inputDimensionSpecified' in m for m in messages)
    assert any('Address is not set for input/output tensor logits' in m for m in messages)
    del context
    backend.close()


def test_fake_execute_fails_when_a_buffer_is_too_small(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    with backend._cuda.activate():
        context = backend._engine.create_execution_context()
        context.set_tensor_address('images', int(fake_pycuda.mem_alloc(16)))
        context.set_tensor_address('logits', int(backend._io['logits'][1]))
        assert not context.execute_async_v3(backend._stream.handle)
    assert 'illegal memory access' in fake_tensorrt.RECORD.log[-1][1]
    del context
    backend.close()


def test_int8_from_fp32_model_calibrates_on_images_and_reuses_the_table(
        fakes10, models, tmp_path, monkeypatch):
    images = tmp_path / 'images'
    images.mkdir()
    for i in range(3):
        (images / f'{i}.png').write_bytes(_png(i))
    (images / 'notes.txt').write_text('not an image')

    def preprocess(rgb):
        return rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0

    monkeypatch.setattr(int8_calibration, 'model_preprocessor', lambda path: preprocess)
    with pytest.warns(DeprecationWarning, match='Superseded by explicit quantization'):
        backend = TensorRTBackend(models['fixed'], precision='int8',
                                  cache_dir=tmp_path / 'c', calibration_images=images)
    build = fake_tensorrt.RECORD.builds[0]
    assert build['flags'] == _flags_for('int8')
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


def test_int8_from_fp32_model_without_images_names_the_way_out(fakes10, models, tmp_path):
    with pytest.raises(ModelLoadError, match='needs calibration images .*QDQ-quantized'):
        _backend(models['fixed'], tmp_path, precision='int8')


def test_strongly_typed_tensorrt_refuses_int8_from_fp32_before_building(
        fakes11, models, tmp_path):
    with pytest.raises(BackendUnavailableError, match='no INT8 calibrators .*QDQ-quantized'):
        _backend(models['fixed'], tmp_path, precision='int8', calibration_images=tmp_path)
    assert fake_tensorrt.RECORD.builders_created == 0
    assert fake_pycuda.primary_context_retains() == (0, 0)


def test_tensorrt_11_builds_touch_no_precision_flag_or_calibrator(fakes11, models, tmp_path):
    for name in ('BuilderFlag.FP16', 'BuilderFlag.INT8', 'IInt8EntropyCalibrator2',
                 'NetworkDefinitionCreationFlag.EXPLICIT_BATCH'):
        owner, _, attribute = name.rpartition('.')
        with pytest.raises(AttributeError):
            getattr(getattr(fake_tensorrt, owner) if owner else fake_tensorrt, attribute)
    config = fake_tensorrt.Builder(fake_tensorrt.Logger()).create_builder_config()
    with pytest.raises(AttributeError, match="no attribute 'int8_calibrator'"):
        config.int8_calibrator = object()
    for model, precision in ((models['fixed'], 'fp32'), (models['fixed'], 'fp16'),
                             (models['qdq'], 'int8')):
        _backend(model, tmp_path, precision=precision).close()
    builds = fake_tensorrt.RECORD.builds
    assert [b['precision'] for b in builds] == ['fp32', 'fp16', 'int8']
    assert all(b['flags'] == set() and b['calibrator'] is None and b['strongly_typed']
               for b in builds)


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
    with pytest.raises(ModelLoadError, match='cannot parse .*broken'):
        _backend(bad, tmp_path / 'cache', precision='fp32')
    with pytest.raises(ModelLoadError, match='missing.onnx'):
        _backend(tmp_path / 'missing.onnx', tmp_path / 'cache')


def test_infer_from_another_thread_pushes_and_pops_the_context(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path, precision='fp32')
    batch, results = _batch(1), []
    worker = threading.Thread(target=lambda: results.append(backend.infer(batch)))
    worker.start()
    worker.join()
    np.testing.assert_allclose(results[0], _reference(models['fixed'], batch),
                               rtol=1e-5, atol=1e-6)
    assert fake_pycuda.context_stacks() == {}
    backend.close()


def test_fake_cuda_refuses_work_without_a_current_context(fakes):
    fake_pycuda.init()
    with pytest.raises(fake_pycuda.LogicError, match='invalid device context'):
        fake_pycuda.mem_alloc(16)


def test_timing_cache_is_saved_and_fed_to_the_next_build(fakes, models, tmp_path):
    _backend(models['fixed'], tmp_path, precision='fp16').close()
    timing = list(tmp_path.glob('timing-*.cache'))
    version = fake_tensorrt.__version__.replace('.', '-')
    assert [p.name for p in timing] == [f'timing-trt{version}-orin-fake-sm87.cache']
    _backend(models['fixed'], tmp_path, precision='fp32').close()
    _backend(models['dynamic'], tmp_path, precision='fp16', max_batch=2).close()
    builds = fake_tensorrt.RECORD.builds
    assert all(b['timing_cache_set'] for b in builds)
    assert builds[0]['timing_cache_hits'] == 0
    assert builds[2]['timing_cache_hits'] > 0


def test_close_frees_device_memory_and_keeps_the_context_for_the_next_model(
        fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    backend.close()
    backend.close()
    assert fake_pycuda._state.allocations == {}
    assert fake_pycuda.primary_context_retains() == (1, 1)
    release_devices()
    assert fake_pycuda.primary_context_retains() == (1, 0)
    # pycuda's detach leaves the released context on the exiting thread's driver stack
    assert list(fake_pycuda.context_stacks().values()) == [(0, 1)]
    fake_pycuda._state.driver_stacks.clear()


def test_close_on_another_thread_frees_the_pinned_host_memory_in_the_context(
        fakes, models, tmp_path, recwarn):
    backend = _backend(models['fixed'], tmp_path)
    backend.infer(_batch(1))
    worker = threading.Thread(target=backend.close)
    worker.start()
    worker.join()
    assert [str(w.message) for w in recwarn if 'could not be cleaned up' in str(w.message)] == []
    assert fake_pycuda._state.allocations == {}


def test_twenty_model_switches_retain_the_context_once_and_leave_no_stack_entries(
        fakes, models, tmp_path):
    worker_stacks = []

    def infer_on_a_worker(backend):
        worker = threading.Thread(target=lambda: (backend.infer(_batch(1)), worker_stacks
                                                  .append(fake_pycuda.context_stacks())))
        worker.start()
        worker.join()

    current = None
    for switch in range(20):
        model = (models['fixed'], models['dynamic'], models['qdq'])[switch % 3]
        loaded = _backend(model, tmp_path)
        if current is not None:
            current.close()
        current = loaded
        infer_on_a_worker(current)
    current.close()
    assert worker_stacks == [{}] * 20
    assert fake_pycuda.context_stacks() == {}
    assert fake_pycuda.primary_context_retains() == (1, 1)


def test_fake_detach_of_a_primary_context_leaves_a_stale_stack_entry(fakes):
    fake_pycuda.init()
    context = fake_pycuda.Device(0).retain_primary_context()
    context.detach()
    assert list(fake_pycuda.context_stacks().values()) == [(0, 1)]
    with pytest.raises(fake_pycuda.LogicError, match='context is destroyed'):
        fake_pycuda.mem_alloc(16)
    fake_pycuda._state.driver_stacks.clear()


def test_fake_refuses_to_release_the_context_under_a_live_engine(fakes, models, tmp_path):
    backend = _backend(models['fixed'], tmp_path)
    engine = backend._engine
    backend.close()
    with pytest.raises(fake_pycuda.LogicError, match='1 TensorRT engine'):
        release_devices()
    del engine


def test_fake_cuda_warns_when_memory_of_another_threads_context_is_freed_unactivated(fakes):
    fake_pycuda.init()
    context = fake_pycuda.Device(0).retain_primary_context()
    context.push()
    memory = fake_pycuda.mem_alloc(16)
    fake_pycuda.Context.pop()
    worker = threading.Thread(target=memory.free)
    with pytest.warns(UserWarning, match='out-of-thread context could not be cleaned up'):
        worker.start()
        worker.join()
    assert memory.address in fake_pycuda._state.allocations
    memory.free()
    assert fake_pycuda._state.allocations == {}
    context.detach()
    fake_pycuda._state.driver_stacks.clear()


def test_fake_cuda_warns_when_a_pinned_array_of_another_threads_context_dies_unactivated(
        fakes):
    fake_pycuda.init()
    context = fake_pycuda.Device(0).retain_primary_context()
    context.push()
    pinned = [fake_pycuda.pagelocked_empty((4,), np.float32)]
    fake_pycuda.Context.pop()
    worker = threading.Thread(target=pinned.clear)
    with pytest.warns(UserWarning, match='pagelocked_host_allocation in out-of-thread context'):
        worker.start()
        worker.join()
    context.detach()
    fake_pycuda._state.driver_stacks.clear()


def test_catalog_int8_models_are_detected_as_qdq_and_fp32_ones_are_not(catalog):
    lite0 = catalog.path_of(catalog.entry('lite0')).read_bytes()
    lite0_int8 = catalog.path_of(catalog.entry('lite0_int8')).read_bytes()
    assert is_explicitly_quantized(lite0_int8)
    assert not is_explicitly_quantized(lite0)


def _photo_batches(classifier, sample_images, count=8):
    return [classifier.preprocess([path]) for path in sample_images[:count]]


def test_default_model_runs_on_tensorrt_int8_and_lite0_at_fp16(
        fakes, catalog, sample_images, tmp_path):
    for name, precision in (('lite0_int8', 'int8'), ('lite0', 'fp16')):
        classifier = Classifier(name, catalog=catalog, cache_dir=tmp_path)
        backend = classifier.backend
        assert (backend.name, backend.precision) == ('tensorrt', precision)
        reference = OnnxRuntimeBackend(backend.source_path, threads=1)
        batches = _photo_batches(classifier, sample_images)
        agree = [classifier.backend.infer(b).argmax() == reference.infer(b).argmax()
                 for b in batches]
        assert sum(agree) >= len(batches) - 1, agree
        classifier.close()
    twin = tensorrt_twin_path(catalog.path_of(catalog.entry('lite0_int8')))
    assert fake_tensorrt.RECORD.builds[0]['explicit_quantization']
    assert OnnxRuntimeBackend(twin).precision == 'int8'


def test_lite0_int8_calibration_uses_the_models_own_preprocessing(
        fakes10, catalog, sample_images, tmp_path):
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
    assert backend.infer(batch).argmax() == _reference(model, batch, 'input').argmax()
    backend.close()


def test_auto_backend_is_tensorrt_where_tensorrt_and_a_gpu_answer(fakes, models, tmp_path):
    backend = create_backend('auto', models['dynamic'], precision='fp32', cache_dir=tmp_path,
                             max_batch=2, threads=2)
    assert isinstance(backend, TensorRTBackend) and backend.fallback_reason is None
    assert (backend.precision, backend.max_batch) == ('fp32', 2)
    assert backend.engine_path.parent == tmp_path
    backend.close()


def test_auto_backend_falls_back_to_onnxruntime_without_tensorrt_with_a_warning(
        models, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    with caplog.at_level(logging.WARNING):
        backend = create_backend('auto', models['fixed'])
    assert isinstance(backend, OnnxRuntimeBackend)
    assert 'TensorRT cannot be imported' in backend.fallback_reason
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert 'runs on ONNX Runtime, not TensorRT: TensorRT cannot be imported' in caplog.text
    assert create_backend('onnxruntime', models['fixed']).fallback_reason is None
    with pytest.raises(BackendUnavailableError, match='TensorRT cannot be imported'):
        create_backend('tensorrt', models['fixed'])


def test_auto_backend_without_a_gpu_falls_back_saying_so(models, monkeypatch, caplog):
    from fakes import install
    install(monkeypatch, count=0)
    with caplog.at_level(logging.WARNING):
        backend = create_backend('auto', models['fixed'])
    assert 'no CUDA-capable device is detected' in backend.fallback_reason


@pytest.mark.parametrize('version', ['8.6.2', '9.3.0'])
def test_tensorrt_older_than_10_is_refused_with_its_version_and_the_way_out(
        fakes, models, tmp_path, version):
    fake_tensorrt.reset(version=version)
    with pytest.raises(BackendUnavailableError,
                       match=f'TensorRT {version} is installed.*JetPack 6.*onnxruntime'):
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
