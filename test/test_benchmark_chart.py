"""The speed/accuracy chart is written as PNG or SVG for full and sparse profiles."""

import struct
import xml.etree.ElementTree as ElementTree

import pytest

from jetson_classifier.benchmark import chart
from jetson_classifier.benchmark.chart import draw_chart
from jetson_classifier.benchmark.profile_builder import build_profile
from jetson_classifier.errors import ClassifierError

MACHINE = {'cpu': 'Test CPU', 'cpu_count': 2, 'gpu': 'Orin (sm_87)', 'board': None,
           'python': '3.11.7', 'onnxruntime': '1.32.0', 'tensorrt': '10.3.0'}


def entry(name, backend, precision, latency_ms, macs, top1):
    return {'name': name, 'backend': backend, 'precision': precision, 'device': 'dev',
            'input_size': 224, 'macs': macs, 'params': None, 'file_bytes': None, 'batch': 1,
            'latency_ms': {'p50': latency_ms, 'p90': latency_ms * 1.1,
                           'p99': latency_ms * 1.3, 'mean': latency_ms},
            'fps': 1000 / latency_ms, 'throughput_fps': {}, 'top1': top1, 'top5': None,
            'grouped_top1': None, 'peak_rss_mb': None}


def full_profile():
    models = [entry('lite0', 'onnxruntime', 'fp32', 8.0, 0.41e9, 0.75),
              entry('lite1', 'onnxruntime', 'fp32', 12.0, 0.63e9, 0.77),
              entry('lite2', 'onnxruntime', 'fp32', 16.0, 0.90e9, 0.78),
              entry('lite0_trt', 'tensorrt', 'fp16', 1.2, 0.41e9, 0.75),
              entry('lite2_trt', 'tensorrt', 'fp16', 2.0, 0.90e9, 0.78),
              entry('no_macs', 'tensorrt', 'int8', 1.0, None, 0.70),
              entry('no_accuracy', 'onnxruntime', 'int8', 3.0, 0.41e9, None)]
    return build_profile(models, '/data/sample', 1000, machine=MACHINE,
                         created='2025-01-02T03:04:05+00:00')


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', data[16:24])


def test_png_chart_is_written_at_the_designed_size(tmp_path):
    profile = full_profile()
    assert len(profile['fits']['latency_vs_gmacs']) == 2  # the chart has two fit lines to draw
    draw_chart(profile, tmp_path / 'chart.png')
    assert png_size(tmp_path / 'chart.png') == (1820, 832)  # 14 x 6.4 inches at 130 dpi
    assert (tmp_path / 'chart.png').stat().st_size > 50_000


def test_svg_chart_is_well_formed_svg(tmp_path):
    draw_chart(full_profile(), tmp_path / 'chart.SVG')
    root = ElementTree.parse(tmp_path / 'chart.SVG').getroot()
    assert root.tag == '{http://www.w3.org/2000/svg}svg'


@pytest.mark.parametrize('settings, named', [
    ({'threads': 2, 'spin_wait': False}, 'CPU Test CPU (2 cores)  ·  2 threads, idle ones sleep'),
    ({'threads': 4, 'spin_wait': True}, 'CPU Test CPU (2 cores)  ·  4 threads, idle ones spin'),
    ({'threads': 2}, 'CPU Test CPU (2 cores)  ·  2 threads  ·  GPU'),  # older profiles
    ({}, 'CPU Test CPU (2 cores)  ·  GPU')])
def test_the_caption_names_the_cpu_threads_the_models_were_timed_with(settings, named):
    profile = dict(full_profile(), benchmark=settings)
    assert named in chart._caption(profile)


def test_chart_of_a_single_model_without_fits_is_still_drawn(tmp_path):
    profile = build_profile([entry('only', 'onnxruntime', 'fp32', 5.0, 0.2e9, 0.7)], '/d', 1,
                            machine={}, created='2025-01-02T03:04:05')
    assert profile['fits'] == {'latency_vs_gmacs': [], 'accuracy_vs_latency': []}
    draw_chart(profile, tmp_path / 'one.png')
    assert png_size(tmp_path / 'one.png') == (1820, 832)


def test_chart_refuses_unknown_extension(tmp_path):
    with pytest.raises(ClassifierError, match=r"chart .*chart\.jpg: extension '\.jpg'"):
        draw_chart(full_profile(), tmp_path / 'chart.jpg')
    assert not list(tmp_path.iterdir())


def test_chart_creates_its_folder(tmp_path):
    draw_chart(full_profile(), tmp_path / 'new' / 'chart.png')
    assert png_size(tmp_path / 'new' / 'chart.png') == (1820, 832)


def test_chart_into_unwritable_place_names_the_file(tmp_path):
    (tmp_path / 'blocker').write_text('a file, not a folder')
    with pytest.raises(ClassifierError, match='cannot write chart .*blocker/chart.png'):
        draw_chart(full_profile(), tmp_path / 'blocker' / 'chart.png')
