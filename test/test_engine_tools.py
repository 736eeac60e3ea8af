"""The engine tools against the fake TensorRT (10.3 and 11): `build_engine`, tools/gpu_check.py."""

import importlib.util
import json
from pathlib import Path
import re
import shutil
import subprocess
import sys

from fakes import fake_pycuda, fake_tensorrt, install
from fakes.tiny_model import export_tiny_cnn, quantize_tiny_cnn
import pytest

from jetson_classifier.commands.build_engine import main as build_engine

ROOT = Path(__file__).resolve().parent.parent


def test_build_engine_builds_once_then_reuses_and_prints_the_engine_file(
        fakes, tmp_path, capsys):
    model = export_tiny_cnn(tmp_path / 'tiny.onnx', dynamic=True)
    argv = ['--model', str(model), '--precision', 'fp32', '--max-batch', '2',
            '--cache-dir', str(tmp_path / 'engines')]
    assert build_engine(argv) == 0
    out = capsys.readouterr().out
    assert 'building TensorRT engine for tiny.onnx (fp32), this takes minutes' in out
    engine = re.search(r'^built fp32 engine for .*tiny\.onnx on Orin \(fake\) \(sm_87\): '
                       r'(\S+\.engine)$', out, re.M).group(1)
    assert Path(engine).parent == tmp_path / 'engines' and Path(engine).is_file()
    assert fake_tensorrt.RECORD.builds[0]['profiles'][0]['images'][2] == (2, 3, 32, 32)
    assert build_engine(argv) == 0
    assert capsys.readouterr().out.startswith(f'reused fp32 engine for {model}')
    assert fake_tensorrt.RECORD.builders_created == 1


def test_build_engine_resolves_catalog_names_and_defaults_to_fp16(
        fakes, catalog, tmp_path, capsys):
    assert build_engine(['--model', 'lite0', '--model-dir', str(catalog.model_dir),
                         '--cache-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r'^built fp16 engine for \S+efficientnet_lite0_224\.onnx on', out, re.M)


def test_build_engine_builds_the_default_model_at_int8_from_its_tensorrt_twin(
        fakes, catalog, tmp_path, capsys):
    assert build_engine(['--model', 'lite0_int8', '--model-dir', str(catalog.model_dir),
                         '--cache-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r'^built int8 engine for \S+efficientnet_lite0_224_int8\.onnx '
                     r'\(from efficientnet_lite0_224_int8\.tensorrt\.onnx\) on', out, re.M)


def test_build_engine_refuses_an_asymmetric_model_and_names_the_way_out(
        fakes, tmp_path, capsys):
    model = quantize_tiny_cnn(export_tiny_cnn(tmp_path / 'tiny.onnx', dynamic=True),
                              tmp_path / 'mine_int8.onnx', symmetric=False)
    assert build_engine(['--model', str(model), '--cache-dir', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith('build_engine: ') and len(err.strip().splitlines()) == 1
    assert 'non-zero zero points' in err and 'mine_int8.tensorrt.onnx' in err


def test_build_engine_reports_an_unknown_model_and_fails(fakes, tmp_path, capsys):
    assert build_engine(['--model', 'no_such_model', '--cache-dir', str(tmp_path)]) == 1
    assert 'no_such_model' in capsys.readouterr().err


def _gpu_check():
    spec = importlib.util.spec_from_file_location('gpu_check', ROOT / 'tools' / 'gpu_check.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(out):
    return {line.split()[0]: line for line in out.splitlines()
            if line.startswith(('onnxruntime ', 'tensorrt '))}


@pytest.mark.parametrize('model, precision', [('lite0', 'fp16'), ('lite0_int8', 'int8')])
def test_gpu_check_table_shows_agreement_with_onnxruntime(
        fakes, catalog, sample_images, tmp_path, capsys, model, precision):
    status = _gpu_check().main(['--model', model, '--images', str(sample_images[0].parent),
                                '--count', '6', '--cache-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = _table(out)
    assert 'CPUExecutionProvider' in rows['onnxruntime']
    assert 'Orin (fake) (sm_87)' in rows['tensorrt'] and f' {precision} ' in rows['tensorrt']
    assert rows['tensorrt'].endswith('100.0%')
    accuracy = {name: row.split()[-2] for name, row in rows.items()}
    assert accuracy['tensorrt'] == accuracy['onnxruntime']
    assert 'TensorRT engine built in' in out and out.rstrip().endswith('OK')


def test_gpu_check_int8_from_fp32_calibrates_on_the_photos(
        fakes10, catalog, sample_images, tmp_path, capsys):
    photos = tmp_path / 'photos'
    photos.mkdir()
    for path in sample_images[:4]:
        shutil.copy(path, photos)
    status = _gpu_check().main(['--model', 'lite0', '--precision', 'int8', '--images',
                                str(photos), '--cache-dir', str(tmp_path / 'cache')])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f'calibrating INT8 on the photos in {photos}' in out
    assert fake_tensorrt.RECORD.builds[0]['calibration_batches'] == 4
    assert ' int8 ' in _table(out)['tensorrt']


def test_gpu_check_cuda_only_prints_one_json_line_of_results(fakes, capsys):
    status = _gpu_check().main(['--cuda-only', '--megabytes', '1', '--rounds', '3'])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0 and len(out) == 1
    results = json.loads(out[0])
    assert results['ok'] and results['mismatches'] == 0
    assert (results['cycles'], results['threads'], results['round_trips']) == (20, 2, 120)
    assert results['device'] == 'Orin (fake) (sm_87)'
    assert fake_pycuda.primary_context_retains() == (1, 0)
    fake_pycuda._state.driver_stacks.clear()  # pycuda's detach at release: see fake_pycuda


def test_gpu_check_cuda_only_without_a_gpu_fails_with_one_line(monkeypatch, capsys):
    install(monkeypatch, count=0)
    assert _gpu_check().main(['--cuda-only']) == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert captured.err == ('gpu_check: CUDA device 0 is not usable: cuInit failed: no '
                            'CUDA-capable device is detected\n')


def test_gpu_check_cuda_only_without_pycuda_fails_with_one_line(tmp_path):
    if importlib.util.find_spec('pycuda') is not None:
        pytest.skip('pycuda is installed here')
    done = subprocess.run([sys.executable, str(ROOT / 'tools' / 'gpu_check.py'), '--cuda-only'],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ''
    assert done.stderr.startswith('gpu_check: pycuda cannot be imported (No module named')
    assert len(done.stderr.strip().splitlines()) == 1 and 'CUDA_ROOT=' in done.stderr
