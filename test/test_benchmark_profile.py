"""The profile schema: building, writing, reading back, and refusing malformed files."""

import copy
import csv
import importlib.util
import json
import os
import platform
import re

import onnxruntime
import pytest

from jetson_classifier.benchmark.profile_builder import (build_profile, machine_differences,
                                                         machine_info, thread_differences,
                                                         write_profile)
from jetson_classifier.benchmark.profile_schema import load_profile, SCHEMA
from jetson_classifier.cpu_features import INT8_FEATURES
from jetson_classifier.errors import ClassifierError

MACHINE = {'cpu': 'Test CPU', 'cpu_count': 2, 'gpu': None, 'python': '3.11.7',
           'onnxruntime': '1.32.0', 'tensorrt': None}


def model(name, latency_ms, gmacs, top1, precision='fp32'):
    return {
        'name': name, 'backend': 'onnxruntime', 'precision': precision,
        'device': 'CPUExecutionProvider', 'input_size': 224, 'macs': gmacs * 1e9,
        'params': 4_650_000, 'file_bytes': 18_600_000, 'batch': 1,
        'latency_ms': {'p50': latency_ms, 'p90': latency_ms + 1, 'p99': latency_ms + 2,
                       'mean': latency_ms + 0.5},
        'fps': 1000 / latency_ms, 'throughput_fps': {'1': 1000 / latency_ms},
        'top1': top1, 'top5': None if top1 is None else 0.9, 'grouped_top1': None,
        'peak_rss_mb': 250.0,
    }


def sample_models():
    # fp32: latency = 10 ms/GMAC + 1 ms exactly; top1 = 0.8 - 0.6 / latency exactly.
    return [model('small', 3.0, 0.2, 0.6), model('mid', 5.0, 0.4, 0.68),
            model('big', 9.0, 0.8, 0.8 - 0.6 / 9.0), model('small_int8', 2.0, 0.4, 0.7, 'int8'),
            model('untested', 4.0, 0.3, None)]


def sample_profile():
    return build_profile(sample_models(), '/data/sample', 1000, machine=MACHINE,
                         created='2025-01-02T03:04:05+00:00')


def test_build_profile_finds_pareto_front_over_fps_and_top1():
    # small_int8 (500 fps, 0.70) beats small (333, 0.60) and mid (200, 0.68); big is best top1.
    assert sample_profile()['pareto'] == ['big', 'small_int8']


def test_build_profile_fits_each_precision_group_separately():
    fits = sample_profile()['fits']
    latency = fits['latency_vs_gmacs'][0]
    assert latency['precision'] == 'fp32'
    assert latency['models'] == ['small', 'mid', 'big', 'untested']
    assert latency['slope'] == pytest.approx(10.0)
    assert latency['intercept'] == pytest.approx(1.0)
    assert latency['r2'] == pytest.approx(1.0)
    (accuracy,) = fits['accuracy_vs_latency']
    assert accuracy['models'] == ['small', 'mid', 'big']
    assert (accuracy['a'], accuracy['b'], accuracy['r2']) == pytest.approx((0.8, 0.6, 1.0))
    # one int8 model is not enough to fit a line
    assert [f['precision'] for f in fits['latency_vs_gmacs']] == ['fp32']


def test_build_profile_records_schema_dataset_and_time():
    profile = sample_profile()
    assert profile['schema'] == SCHEMA == 'jetson_classifier.profile/1'
    assert profile['dataset'] == {'path': '/data/sample', 'images': 1000}
    assert profile['created'] == '2025-01-02T03:04:05+00:00'


def test_build_profile_stamps_current_time_and_machine_by_default():
    profile = build_profile(sample_models()[:1], '/data', 1)
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00', profile['created'])
    assert profile['machine']['python'] == platform.python_version()


def test_machine_differences_name_what_sets_the_speed_and_compare_only_what_the_profile_says():
    here = machine_info()
    assert machine_differences(json.loads(json.dumps(here)), here) == []
    assert machine_differences({}, here) == []
    int8 = [] if here['cpu_int8_instructions'] else ['avx2']
    other = dict(here, cpu_int8_instructions=int8, cpu_count=64, python='2.7')
    assert machine_differences(other, here) == [
        f"cpu_count 64 vs {here['cpu_count']}",
        f"cpu_int8_instructions {', '.join(int8) or 'none'} vs "
        f"{', '.join(here['cpu_int8_instructions']) or 'none'}"]


def test_thread_differences_compare_the_classifiers_threads_with_what_the_profile_records():
    timed = {'threads': os.cpu_count(), 'spin_wait': False, 'rounds': 20}
    assert thread_differences(timed, 0, False) == []  # 0: one per core, the benchmark's default
    assert thread_differences(timed, os.cpu_count(), False) == []
    assert thread_differences(timed, os.cpu_count() + 1, True) == [
        f'threads {os.cpu_count()} vs {os.cpu_count() + 1}', 'spin_wait false vs true']
    assert thread_differences({'threads': 2}, 2, True) == []  # older profiles: no spin_wait
    assert thread_differences({}, 3, True) == []


def test_profile_round_trips_through_json(tmp_path):
    profile = sample_profile()
    write_profile(profile, tmp_path / 'profile.json')
    assert load_profile(tmp_path / 'profile.json') == profile


def test_csv_has_one_row_per_model_with_blank_nulls(tmp_path):
    profile = sample_profile()
    profile['models'][1]['throughput_fps']['8'] = 260.0
    write_profile(profile, tmp_path / 'p.json', tmp_path / 'p.csv')
    with open(tmp_path / 'p.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['small', 'mid', 'big', 'small_int8', 'untested']
    mid = rows[1]
    assert mid['latency_p50_ms'] == '5.0'
    assert mid['latency_p99_ms'] == '7.0'
    assert mid['throughput_fps_batch1'] == '200.0'
    assert mid['throughput_fps_batch8'] == '260.0'
    assert rows[0]['throughput_fps_batch8'] == ''
    assert mid['grouped_top1'] == ''
    assert mid['macs'] == '400000000.0'
    assert [r['pareto'] for r in rows] == ['False', 'False', 'True', 'True', 'False']


def test_write_leaves_no_temporary_files_and_readable_modes(tmp_path):
    write_profile(sample_profile(), tmp_path / 'out' / 'p.json', tmp_path / 'out' / 'p.csv')
    assert sorted(os.listdir(tmp_path / 'out')) == ['p.csv', 'p.json']
    assert os.stat(tmp_path / 'out' / 'p.json').st_mode & 0o777 == 0o644


def test_write_into_unwritable_place_names_the_file(tmp_path):
    (tmp_path / 'blocker').write_text('a file, not a folder')
    target = tmp_path / 'blocker' / 'p.json'
    with pytest.raises(ClassifierError, match=re.escape(f'cannot write profile file {target}')):
        write_profile(sample_profile(), target)


def test_write_refuses_invalid_profile_before_touching_disk(tmp_path):
    profile = sample_profile()
    profile['models'][0]['fps'] = -1
    with pytest.raises(ClassifierError, match=r'models\[0\]\.fps must be > 0, got -1'):
        write_profile(profile, tmp_path / 'p.json')
    assert not os.listdir(tmp_path)


def broken(change):
    profile = copy.deepcopy(sample_profile())
    change(profile)
    return profile


@pytest.mark.parametrize('change, message', [
    (lambda p: p.update(schema='jetson_classifier.profile/0'),
     "schema must be 'jetson_classifier.profile/1', got 'jetson_classifier.profile/0'"),
    (lambda p: p.update(created='yesterday'), "created must be an ISO 8601 time, got 'yesterday'"),
    (lambda p: p['dataset'].pop('images'), 'dataset.images is missing'),
    (lambda p: p.update(models=[]), 'models is empty'),
    (lambda p: p['models'][1]['latency_ms'].pop('p99'), r'models\[1\]\.latency_ms p99 is missing'),
    (lambda p: p['models'][2].update(top1=1.5), r'models\[2\]\.top1 must be <= 1, got 1.5'),
    (lambda p: p['models'][0].update(precision='fp8'), r'models\[0\]\.precision must be one of'),
    (lambda p: p['models'][0].update(batch=True), r'models\[0\]\.batch must be an integer'),
    (lambda p: p['models'][0].update(input_size=[224, 0]), r'models\[0\]\.input_size'),
    (lambda p: p['models'][0]['throughput_fps'].update({'0': 5.0}),
     r"models\[0\]\.throughput_fps key '0' must be a batch size >= 1"),
    (lambda p: p['models'][3].update(name='small'), r"models\[3\]\.name 'small' appears twice"),
    (lambda p: p['pareto'].append('ghost'), r"pareto\[2\] 'ghost' is not the name of a model"),
    (lambda p: p['fits'].pop('accuracy_vs_latency'), 'fits.accuracy_vs_latency must be a list'),
    (lambda p: p['fits']['latency_vs_gmacs'][0].pop('slope'),
     r'fits\.latency_vs_gmacs\[0\]\.slope is missing'),
    (lambda p: p['fits']['accuracy_vs_latency'][0].update(models=['big']),
     r'fits\.accuracy_vs_latency\[0\]\.models must name two or more models'),
])
def test_load_names_file_and_field_of_schema_errors(tmp_path, change, message):
    path = tmp_path / 'profile.json'
    path.write_text(json.dumps(broken(change)))
    with pytest.raises(ClassifierError, match=re.escape(f'profile {path}: ') + message):
        load_profile(path)


def test_input_size_may_be_height_and_width(tmp_path):
    profile = sample_profile()
    profile['models'][0]['input_size'] = [240, 320]
    write_profile(profile, tmp_path / 'p.json', tmp_path / 'p.csv')
    with open(tmp_path / 'p.csv', newline='') as f:
        assert next(csv.DictReader(f))['input_size'] == '240x320'


def test_load_reports_bad_json_with_its_position(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text('{\n  "schema": "jetson_classifier.profile/1",\n  "models": [,]\n}')
    with pytest.raises(ClassifierError, match=re.escape(f'profile {path} is not valid JSON') +
                       '.* line 3 column 14'):
        load_profile(path)


def test_load_reports_missing_file(tmp_path):
    with pytest.raises(ClassifierError, match=re.escape(f'cannot read profile {tmp_path}/no')):
        load_profile(tmp_path / 'no.json')


def test_machine_info_reports_this_machine():
    info = machine_info()
    assert info['python'] == platform.python_version()
    assert info['onnxruntime'] == onnxruntime.__version__
    if importlib.util.find_spec('tensorrt') is None:
        assert info['tensorrt'] is None
    assert info['cpu_count'] == os.cpu_count()
    assert isinstance(info['cpu'], str) and info['cpu']
    with open('/proc/cpuinfo') as f:
        model_names = [line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name')]
    if model_names:
        assert info['cpu'] == model_names[0]
    flags = next((line.split(':', 1)[1].split() for line in open('/proc/cpuinfo')
                  if line.startswith(('flags', 'Features'))), [])
    assert info['cpu_int8_instructions'] == [f for f in INT8_FEATURES if f in flags]
    assert 'avx2' not in flags or 'avx2' in info['cpu_int8_instructions']
