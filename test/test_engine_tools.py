"""The engine tools against the fake TensorRT: `build_engine` and tools/gpu_check.py."""

import importlib.util
from pathlib import Path
import re

from fakes import fake_tensorrt, install
from fakes.tiny_model import export_tiny_cnn
import pytest

from jetson_classifier.commands.build_engine import main as build_engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fakes(monkeypatch):
    """Fresh fake tensorrt/pycuda modules in sys.modules for one test."""
    return install(monkeypatch)


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


def test_build_engine_resolves_catalog_names(fakes, catalog, tmp_path, capsys):
    assert build_engine(['--model', 'lite0', '--precision', 'fp16', '--model-dir',
                         str(catalog.model_dir), '--cache-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r'^built fp16 engine for \S+efficientnet_lite0_224\.onnx', out, re.M)


def test_build_engine_refuses_the_cpu_int8_twin_and_names_the_way_out(
        fakes, catalog, tmp_path, capsys):
    assert build_engine(['--model', 'lite0_int8', '--model-dir', str(catalog.model_dir),
                         '--cache-dir', str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert 'asymmetric uint8' in err and '--calibration-dir' in err


def test_build_engine_reports_an_unknown_model_and_fails(fakes, tmp_path, capsys):
    assert build_engine(['--model', 'no_such_model', '--cache-dir', str(tmp_path)]) == 1
    assert 'no_such_model' in capsys.readouterr().err


def _gpu_check():
    spec = importlib.util.spec_from_file_location('gpu_check', ROOT / 'tools' / 'gpu_check.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_table_shows_agreement_with_onnxruntime(
        fakes, catalog, sample_images, tmp_path, capsys):
    status = _gpu_check().main(['--images', str(sample_images[0].parent), '--count', '6',
                                '--cache-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(('onnxruntime ', 'tensorrt '))}
    assert 'CPUExecutionProvider' in rows['onnxruntime']
    assert 'Orin (fake) (sm_87)' in rows['tensorrt'] and ' fp16 ' in rows['tensorrt']
    assert rows['tensorrt'].endswith('100.0%')
    accuracy = {name: row.split()[-2] for name, row in rows.items()}
    assert accuracy['tensorrt'] == accuracy['onnxruntime']
    assert 'TensorRT engine built in' in out and out.rstrip().endswith('OK')
