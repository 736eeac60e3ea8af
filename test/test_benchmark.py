"""The benchmark tool on tiny colour models and solid-colour images with hand-counted answers."""

import io
import json
from pathlib import Path
import subprocess
import sys
import types

import cv2
import numpy as np
import onnx
from onnx import helper, TensorProto
import pytest

from jetson_classifier.benchmark import (command as benchmark, measuring, pacing, probing,
                                         reporting)
from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends.onnxruntime_backend import (GLOBAL_POOL,
                                                                      IDLE_WORKERS_SLEEP)
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.inference.model_info import ModelInfo, write_model_info
from jetson_classifier.switching.ladder import parse_constraint, plan_rung, rungs_from_profile

# Each tiny model averages the image to its mean colour m = (r, g, b) in [-1, 1] and scores
# class c as W[c] . m + bias[c]. On a red image m = (1, -1, -1), so the scores are
# red 8, green -4, blue -4, often 5, sometimes 3, rarely 1, never -1; blue images alike.
LABELS = ['red', 'green', 'blue', 'often', 'sometimes', 'rarely', 'never']
WEIGHTS = [[4, -2, -2], [-2, 4, -2], [-2, -2, 4], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
BIASES = [0, 0, 0, 5, 3, 1, -1]
RGB = {'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255)}
# (class folder, image colour) -> rank of the true class, counted by hand from the scores:
DATASET = [
    ('red', 'red'),      # red 8 is top: top-1 hit
    ('red', 'red'),      # again
    ('green', 'green'),  # top-1 hit
    ('green', 'red'),    # green -4 ties blue and trails 5 others: 7th, a top-5 miss
    ('often', 'red'),    # often 5 trails red 8: 2nd, a top-5 hit
    ('never', 'blue'),   # never -1 trails blue 8, often, sometimes, rarely: 5th, a top-5 hit
]
TOP1, TOP5 = 3 / 6, 5 / 6
ROOT = Path(__file__).resolve().parent.parent
# warm: red, cool: green + blue, the rest dropped (the often and never images). Red images
# score warm, the green one cool: right for red, red, green; wrong for the red one in green/.
GROUPS = 'name: temperature\nunlisted: drop\ngroups:\n  warm: [red]\n  cool: [green, blue]\n'
GROUPED_TOP1 = 3 / 4


def colour_model(size):
    """Build identity 1x1 conv -> global average pool -> linear, with labels in metadata."""
    identity = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)
    graph = helper.make_graph(
        [helper.make_node('Conv', ['input', 'identity'], ['same']),
         helper.make_node('GlobalAveragePool', ['same'], ['pooled']),
         helper.make_node('Flatten', ['pooled'], ['mean_colour']),
         helper.make_node('Gemm', ['mean_colour', 'weights', 'biases'], ['logits'], transB=1)],
        'colour', [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                 ['batch', 3, size, size])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', len(LABELS)])],
        [onnx.numpy_helper.from_array(identity, 'identity'),
         onnx.numpy_helper.from_array(np.array(WEIGHTS, np.float32), 'weights'),
         onnx.numpy_helper.from_array(np.array(BIASES, np.float32), 'biases')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 9
    write_model_info(model, ModelInfo(labels=tuple(LABELS), input_size=size, crop_fraction=1.0,
                                      mean=(0.5,) * 3, std=(0.5,) * 3, name=f'tiny{size}'))
    return model


def macs_of(size):
    """Hand count: the conv makes 3 x size² outputs of 3 MACs each; the linear layer 3 x 7."""
    return 9 * size * size + 21


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Return a folder with tiny16/tiny32 models, their catalog, the images and a group file."""
    root = tmp_path_factory.mktemp('tiny')
    for size in (16, 32):
        onnx.save(colour_model(size), str(root / f'tiny{size}.onnx'))
    (root / 'catalog.yaml').write_text(
        'models:\n  tiny16: {file: tiny16.onnx}\n  tiny32: {file: tiny32.onnx}\n'
        '  tiny16_again: {file: tiny16.onnx}\n  missing: {file: missing.onnx}\n')
    for i, (folder, colour) in enumerate(DATASET):
        (root / 'images' / folder).mkdir(parents=True, exist_ok=True)
        bgr = np.full((24, 30, 3), RGB[colour][::-1], np.uint8)
        assert cv2.imwrite(str(root / 'images' / folder / f'{i}_{colour}.png'), bgr)
    (root / 'groups.yaml').write_text(GROUPS)
    return root


def run_tool(tiny, tmp_path, *options):
    out = io.StringIO()
    args = benchmark.build_parser().parse_args(
        ['--catalog', str(tiny / 'catalog.yaml'), '--model-dir', str(tiny), '--dataset',
         str(tiny / 'images'), '--output', str(tmp_path), '--rounds', '2', '--runs', '8',
         '--warmup', '1', '--threads', '1', '--rate', '60', '--paced-frames', '10', *options])
    assert benchmark.run(args, out) == 0
    return load_profile(tmp_path / 'profile.json'), out.getvalue()


@pytest.fixture(scope='module')
def full_run(tiny, tmp_path_factory):
    """Run the tool once over both tiny models with groups and two constraints."""
    output = tmp_path_factory.mktemp('out')
    profile, text = run_tool(tiny, output, '--models', 'tiny16,tiny32', '--class-groups',
                             str(tiny / 'groups.yaml'), '--constraint', 'min_fps=1',
                             '--constraint', 'min_accuracy=0.9')
    return profile, text, output


def test_every_model_is_also_timed_as_the_node_runs_it_at_the_camera_rate(full_run):
    profile, text, _ = full_run
    for model in profile['models']:
        (paced,) = model['paced']
        assert paced['rate_hz'] == 60.0 and 1 <= paced['frames'] <= 10  # frames may drop
        assert 0 < paced['latency_ms']['p50'] <= paced['end_to_end_ms']['p50']
    assert profile['benchmark']['paced_rates_hz'] == [60.0]
    assert 'p50@60Hz' in text.splitlines()[0]


def test_paced_models_are_loaded_again_in_interleaved_rounds_their_frames_pooled(tiny):
    catalog, loads = Catalog.load(str(tiny / 'catalog.yaml'), str(tiny)), []

    def loader(name):
        def load():
            loads.append(name)
            return Classifier(name, backend='onnxruntime', catalog=catalog, threads=1)
        return load
    names = ['tiny16', 'tiny32', 'tiny16_again']
    messages = pacing.camera_messages([np.full((24, 30, 3), 200, np.uint8)])
    paced = pacing.measure_paced({n: loader(n) for n in names}, messages, [100.0, 200.0], 9)
    assert pacing.PACED_ROUNDS == 5  # 9 frames: 2 a round, 10 in all, less any dropped
    rotated = [names[(r + i) % 3] for r in range(5) for i in range(3)]
    assert loads == [name for name in rotated for _ in (100.0, 200.0)]
    for name in names:
        assert [e['rate_hz'] for e in paced[name]] == [100.0, 200.0]
        assert all(5 <= e['frames'] <= 10 and e['latency_ms']['p50'] > 0 for e in paced[name])


def test_rate_0_times_back_to_back_only(tiny, tmp_path):
    profile, text = run_tool(tiny, tmp_path, '--models', 'tiny16', '--limit', '0', '--rate', '0')
    assert profile['models'][0]['paced'] == [] and 'Hz' not in text.splitlines()[0]


def test_runner_writes_a_schema_valid_profile_csv_and_both_charts(full_run, tiny):
    profile, _, output = full_run
    assert [m['name'] for m in profile['models']] == ['tiny16', 'tiny32']
    assert profile['dataset'] == {'path': str(tiny / 'images'), 'images': 6}
    assert sorted(p.name for p in output.iterdir()) == [
        'chart.png', 'chart.svg', 'profile.csv', 'profile.json']
    assert (output / 'chart.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    rows = (output / 'profile.csv').read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith('tiny16,onnxruntime,fp32,')


def test_profile_entries_hold_hand_counted_operations_and_the_file_size(full_run, tiny):
    profile, _, _ = full_run
    for m, size in zip(profile['models'], (16, 32)):
        assert (m['input_size'], m['batch'], m['precision']) == (size, 1, 'fp32')
        assert m['macs'] == macs_of(size)  # counted from the graph: no MACs in the metadata
        assert m['params'] == 9 + 21 + 7
        assert m['file_bytes'] == (tiny / f'tiny{size}.onnx').stat().st_size
        # Two rounds of ceil(8 / 2) calls at batch 1 and of ceil(8 / 16) calls at batch 8.
        assert m['latency_samples'] == {'1': 8, '8': 2}
        assert set(m['throughput_fps']) == {'1', '8'}
        assert m['fps'] == pytest.approx(1000 / m['latency_ms']['p50'])
        assert m['peak_rss_mb'] is not None and m['peak_rss_mb'] >= 0


def test_accuracy_counts_match_the_hand_counted_ranks(full_run):
    profile, _, _ = full_run
    for m in profile['models']:
        assert (m['top1'], m['top5']) == (pytest.approx(TOP1), pytest.approx(TOP5))


def test_grouped_accuracy_leaves_out_images_of_dropped_classes(full_run):
    profile, _, _ = full_run
    assert [m['grouped_top1'] for m in profile['models']] == [pytest.approx(GROUPED_TOP1)] * 2


def test_constraints_print_the_switching_policy_choice_on_the_written_profile(full_run):
    profile, text, _ = full_run
    rungs, _ = rungs_from_profile(profile)
    for constraint in ('min_fps=1', 'min_accuracy=0.9'):
        choice = plan_rung(rungs, parse_constraint(constraint))
        assert f'{constraint}: choose {choice.rung.name}' in text
        assert choice.reason in text
    assert 'no rung reaches min_accuracy 0.9; the most accurate has top-1 0.500' in text
    assert 'min_fps=1: choose' in text and '(meets it)' in text


def test_claims_with_two_models_are_reported_as_not_testable(full_run):
    _, text, _ = full_run
    assert 'operation count predicts latency (linear) [onnxruntime CPUExecutionProvider fp32, ' \
           '2 models]: not testable with two models' in text


def test_timing_leaves_this_process_free_to_make_sessions_with_pools_of_their_own(full_run, tiny):
    # The timing process shares one ONNX Runtime pool, which would refuse this session here.
    import onnxruntime
    session = onnxruntime.InferenceSession(str(tiny / 'tiny16.onnx'),
                                           providers=['CPUExecutionProvider'])
    scores = session.run(None, {'input': np.zeros((1, 3, 16, 16), np.float32)})[0]
    assert scores.shape == (1, len(LABELS))


# Runs the back-to-back probe on tiny16 with the spin_wait of argv[2]; prints the pool it set.
LATENCY_POOL_SCRIPT = """
import json, sys
from jetson_classifier.benchmark import probing
from jetson_classifier.inference.backends import onnxruntime_backend
probing.probe_latency(json.dumps({
    'catalog': sys.argv[1] + '/catalog.yaml', 'model_dir': sys.argv[1], 'models': ['tiny16'],
    'backends': ['onnxruntime'], 'precisions': [], 'batches': [1], 'threads': 2,
    'cache_dir': None, 'rounds': 1, 'runs': 2, 'warmup': 0, 'spin_wait': sys.argv[2] == 'on'}))
print(json.dumps(onnxruntime_backend._shared_pool))
"""


@pytest.mark.parametrize('spin_wait', [True, False], ids=['spinning', 'sleeping'])
def test_back_to_back_sessions_share_one_spinning_pool_only_where_the_node_spins(tiny, spin_wait):
    # ONNX Runtime's shared pool always spins: a node whose workers sleep is timed with a
    # sleeping pool per session.
    done = subprocess.run([sys.executable, '-c', LATENCY_POOL_SCRIPT, str(tiny),
                           'on' if spin_wait else 'off'], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    threads, shared = json.loads(done.stdout.strip().splitlines()[-1])
    assert (threads, shared) == (2, spin_wait and GLOBAL_POOL)
    assert ('share one pool' in probing.latency_method(spin_wait)) == (spin_wait and GLOBAL_POOL)


@pytest.mark.parametrize('spin_wait', [True, False], ids=['spinning', 'sleeping'])
def test_paced_models_are_loaded_with_the_spin_wait_asked_for(tiny, monkeypatch, spin_wait):
    loaders = {}
    monkeypatch.setattr(probing, 'measure_paced', lambda found, *_: loaders.update(found) or {})
    probing.probe_paced(json.dumps({
        'catalog': str(tiny / 'catalog.yaml'), 'model_dir': str(tiny), 'threads': 2,
        'spin_wait': spin_wait, 'cache_dir': None, 'rates': [30.0], 'frames': 1,
        'variants': [('tiny16', 'tiny16', 'onnxruntime', None)]}))
    options = loaders['tiny16']().backend._session.get_session_options()
    assert options.intra_op_num_threads == 2
    if spin_wait:
        with pytest.raises(RuntimeError, match='does not have configuration'):
            options.get_session_config_entry(IDLE_WORKERS_SLEEP[0])
    else:
        assert options.get_session_config_entry(IDLE_WORKERS_SLEEP[0]) == '0'


def test_the_profile_records_the_spin_wait_its_models_were_timed_with(full_run, tiny, tmp_path):
    assert full_run[0]['benchmark']['spin_wait'] is False  # the node's default
    assert full_run[0]['benchmark']['latency'].endswith(
        'have a pool of --threads threads each whose idle workers sleep (spin_wait false)')
    profile, _ = run_tool(tiny, tmp_path, '--models', 'tiny16', '--limit', '0', '--rate', '0',
                          '--spin-wait')
    assert profile['benchmark']['spin_wait'] is True
    assert profile['benchmark']['latency'].endswith(
        'share one pool of --threads threads' if GLOBAL_POOL else 'has no shared pool)')


def test_a_failed_timing_process_is_reported_with_its_exit_code(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(probing, '_PROBE', 'import sys; sys.exit(3)')
    args = benchmark.build_parser().parse_args(
        ['--catalog', str(tiny / 'catalog.yaml'), '--model-dir', str(tiny), '--models', 'tiny16',
         '--limit', '0', '--output', str(tmp_path)])
    with pytest.raises(ClassifierError, match=r'the latency probe failed \(exit code 3\)'):
        benchmark.run(args, io.StringIO())


def test_models_subset_measures_only_the_named_model(tiny, tmp_path):
    profile, text = run_tool(tiny, tmp_path, '--models', 'tiny32', '--batches', '1',
                             '--limit', '3')
    assert [m['name'] for m in profile['models']] == ['tiny32']
    assert profile['models'][0]['throughput_fps'].keys() == {'1'}
    assert profile['dataset']['images'] == 3
    assert profile['fits'] == {'latency_vs_gmacs': [], 'accuracy_vs_latency': []}
    assert text.splitlines()[1].startswith('tiny32')


def test_unknown_model_is_refused_by_name(tiny, tmp_path, capsys):
    code = benchmark.main(['--catalog', str(tiny / 'catalog.yaml'), '--model-dir', str(tiny),
                           '--models', 'tiny16,nope', '--output', str(tmp_path)])
    assert code == 1
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_missing_dataset_folder_is_named(tiny, tmp_path, capsys):
    code = benchmark.main(['--catalog', str(tiny / 'catalog.yaml'), '--model-dir', str(tiny),
                           '--models', 'tiny16', '--dataset', str(tmp_path / 'absent'),
                           '--runs', '1', '--rounds', '1', '--output', str(tmp_path / 'o')])
    assert code == 1
    assert f'dataset folder {tmp_path / "absent"} does not exist' in capsys.readouterr().err


def test_bad_constraint_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        benchmark.build_parser().parse_args(['--constraint', 'max_fps=3'])
    assert "constraint 'max_fps=3' is neither" in capsys.readouterr().err


def test_default_models_are_the_catalog_models_whose_files_exist(tiny):
    notes = []
    catalog = Catalog.load(tiny / 'catalog.yaml', tiny)
    assert measuring.select_models(catalog, [], notes.append) == [
        'tiny16', 'tiny32', 'tiny16_again']
    assert len(notes) == 1 and notes[0].startswith('skipping missing:')


def test_images_are_decoded_once_and_preprocessed_once_per_input_size(tiny, monkeypatch):
    catalog = Catalog.load(tiny / 'catalog.yaml', tiny)
    variants = measuring.load_variants(catalog, ['tiny16', 'tiny32', 'tiny16_again'],
                                       ['onnxruntime'], [], [1], 1, None, print)
    paths, truths = measuring.labelled_dataset(tiny / 'images', variants, None, print)
    calls = {'read': 0, 'preprocess': []}

    def read(path):
        calls['read'] += 1
        return real_read(path)

    def preprocess(images, info, dtype):
        calls['preprocess'].append((len(images), info.input_size))
        return real_preprocess(images, info, dtype)

    real_read, real_preprocess = measuring.read_rgb, measuring.preprocess_batch
    monkeypatch.setattr(measuring, 'read_rgb', read)
    monkeypatch.setattr(measuring, 'preprocess_batch', preprocess)
    accuracy = measuring.measure_accuracy(variants, paths, truths, None, 4,
                                          reporting.Progress('t', 6, io.StringIO()))
    assert calls == {'read': 6, 'preprocess': [(4, 16), (4, 32), (2, 16), (2, 32)]}
    assert accuracy['tiny16_again'] == {'top1': pytest.approx(TOP1), 'top5': pytest.approx(TOP5),
                                        'grouped_top1': None}


class RecordingBackend:
    """Stands in for a backend: records which model ran at which batch size."""

    name, device, precision, max_batch = 'fake', 'cpu', 'fp32', None
    input_dtype = np.dtype(np.float32)

    def __init__(self, name, log):
        self.model, self.log = name, log

    def infer(self, batch):
        self.log.append((self.model, len(batch)))
        return np.zeros((len(batch), 2), np.float32)


def fake_variant(name, log):
    return measuring.Variant(name, name, Path(name), types.SimpleNamespace(input_size=2),
                             RecordingBackend(name, log), 'fake', None, [1, 4])


def test_latency_rounds_interleave_models_and_rotate_their_order():
    log = []
    variants = [fake_variant(n, log) for n in 'abc']
    samples = measuring.measure_latency(variants, rounds=3, runs=6, warmup=5,
                                        progress=reporting.Progress('t', 9, io.StringIO()))
    # Per round and model: 5 untimed + 2 timed calls at batch 1, 2 untimed + 1 timed at 4.
    block = {n: [(n, 1)] * 7 + [(n, 4)] * 3 for n in 'abc'}
    rounds = [block[n] for order in ('abc', 'bca', 'cab') for n in order]
    assert log == [call for b in rounds for call in b]
    assert {n: {b: len(s) for b, s in per.items()} for n, per in samples.items()} == {
        n: {1: 6, 4: 3} for n in 'abc'}


def profile_row(name, p50, top1):
    return {'name': name, 'latency_ms': {'p50': p50}, 'top1': top1}


def test_twin_comparison_reports_speedup_and_points_lost_against_the_goal():
    profile = {'models': [profile_row('a', 10.0, 0.80), profile_row('a_int8', 4.0, 0.79),
                          profile_row('b', 10.0, 0.80), profile_row('b_int8', 6.0, 0.80),
                          profile_row('c', 9.0, 0.80), profile_row('c_int8', 3.0, 0.78),
                          profile_row('d', 8.0, None), profile_row('d_int8', 2.0, 0.70)]}
    rows = reporting.compare_twins(profile, [('a', 'a_int8'), ('b', 'b_int8'),
                                             ('c', 'c_int8'), ('d', 'd_int8')])
    assert [(r['speedup'], r['meets_goal']) for r in rows] == [
        (2.5, True), (pytest.approx(10 / 6), False), (3.0, False), (4.0, None)]
    assert [r['top1_loss_points'] for r in rows] == [
        pytest.approx(1.0), 0.0, pytest.approx(2.0), None]
    lines = reporting.twin_lines(rows)
    assert lines[1] == '  a_int8           vs a             2.50x faster, top-1 80.0 -> 79.0 % ' \
                       '(-1.0 points): meets goal'
    assert lines[2].endswith('top-1 80.0 -> 80.0 % (+0.0 points): misses goal')
    assert lines[4].endswith('4.00x faster, top-1 not measured: accuracy not measured')


def test_a_twin_faster_back_to_back_but_not_paced_misses_the_goal_and_says_so():
    fp32, int8 = profile_row('a', 10.0, 0.80), profile_row('a_int8', 4.0, 0.80)
    fp32['paced'] = [{'rate_hz': 30.0, 'latency_ms': {'p50': 12.0}}]
    int8['paced'] = [{'rate_hz': 30.0, 'latency_ms': {'p50': 8.0}}]
    (row,) = reporting.compare_twins({'models': [fp32, int8]}, [('a', 'a_int8')])
    assert (row['speedup'], row['paced_speedup'], row['meets_goal']) == (2.5, {30.0: 1.5}, False)
    assert reporting.twin_lines([row])[1].startswith(
        '  a_int8           vs a             2.50x faster, 1.50x at 30 Hz, top-1')


def test_long_model_names_widen_their_columns_instead_of_running_into_the_next():
    profile = {'models': [profile_row('lite0_160', 10.0, 0.80),
                          profile_row('lite0_160_four_channel_stem', 5.0, 0.79)]}
    rows = reporting.compare_twins(profile, [('lite0_160', 'lite0_160_four_channel_stem')])
    assert reporting.twin_lines(rows)[1].startswith(
        '  lite0_160_four_channel_stem vs lite0_160     2.00x faster')
    for row, precision in zip(profile['models'], ('fp32', 'int8')):
        row.update(precision=precision, macs=None, params=None, file_bytes=None, fps=1.0,
                   latency_ms={'p50': 1.0, 'p90': 1.0, 'p99': 1.0}, throughput_fps={},
                   top5=None, grouped_top1=None, peak_rss_mb=None)
    head, *lines = reporting.table_lines(dict(profile, pareto=[]))
    assert [line.index(precision) for line, precision in zip(lines, ('fp32', 'int8'))] == [
        head.index('prec')] * 2 == [28] * 2


def test_int8_pairs_join_twins_on_the_same_backend_only():
    def variant(name, int8_of=None, backend='fake'):
        v = fake_variant(name, [])
        v.backend.name, v.int8_of = backend, int8_of
        return v
    variants = [variant('a'), variant('a_int8', 'a'), variant('b_int8', 'b'),
                variant('c', backend='other'), variant('c_int8', 'c')]
    assert reporting.int8_pairs(variants) == [('a', 'a_int8')]


def fit(r2, models):
    return {'backend': 'ort', 'device': 'CPU', 'precision': 'fp32', 'r2': r2, 'models': models}


def test_claims_hold_at_the_r2_threshold_and_not_below():
    profile = {'fits': {'latency_vs_gmacs': [fit(0.9, ['a', 'b', 'c'])],
                        'accuracy_vs_latency': [fit(0.899, ['a', 'b', 'c']),
                                                fit(None, ['a', 'b', 'c'])]}}
    assert reporting.claim_lines(profile) == [
        'operation count predicts latency (linear) [ort CPU fp32, 3 models]: holds '
        '(R² = 0.900, threshold 0.9)',
        'accuracy vs latency is hyperbolic [ort CPU fp32, 3 models]: does not hold '
        '(R² = 0.899, threshold 0.9)',
        'accuracy vs latency is hyperbolic [ort CPU fp32, 3 models]: R² undefined: the fitted '
        'values do not vary']


def test_progress_prints_the_first_step_then_a_line_per_tenth_when_not_a_terminal():
    stream = io.StringIO()
    progress = reporting.Progress('work', 20, stream)
    for _ in range(20):
        progress.advance()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[0].startswith('work [#' + ' ' * 29 + '] 1/20 ')
    assert lines[-1].startswith('work [' + '#' * 30 + '] 20/20 ')


def test_memory_probe_reports_growth_of_a_fresh_process(tiny):
    request = {'kind': 'onnxruntime', 'path': str(tiny / 'tiny32.onnx'), 'threads': 1,
               'precision': None, 'cache_dir': None, 'input_size': 32, 'batches': [1, 8]}
    answer = json.loads(probing.probe_peak_memory(json.dumps(request)))
    assert 0 <= answer['peak_rss_mb'] < 200


@pytest.mark.slow
def test_real_int8_twin_on_five_sample_photos(catalog, sample_images, tmp_path):
    args = benchmark.build_parser().parse_args(
        ['--models', 'lite0_160,lite0_160_int8', '--dataset', str(sample_images[0].parent),
         '--limit', '5', '--rounds', '2', '--runs', '10', '--batches', '1',
         '--paced-frames', '10', '--output', str(tmp_path)])
    out = io.StringIO()
    assert benchmark.run(args, out) == 0
    profile = load_profile(tmp_path / 'profile.json')
    assert [(m['name'], m['precision']) for m in profile['models']] == [
        ('lite0_160', 'fp32'), ('lite0_160_int8', 'int8')]
    assert profile['dataset']['images'] == 5
    assert all(m['top1'] in (0, 0.2, 0.4, 0.6, 0.8, 1.0) for m in profile['models'])
    assert '  lite0_160_int8   vs lite0_160 ' in out.getvalue()
    assert (tmp_path / 'chart.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_cli_benchmark_subcommand_runs_the_same_tool(tiny, tmp_path, capsys):
    from jetson_classifier.commands import cli
    code = cli.main(['benchmark', '--catalog', str(tiny / 'catalog.yaml'), '--model-dir',
                     str(tiny), '--models', 'nope', '--output', str(tmp_path)])
    assert code == 1
    assert "jetson-classifier: unknown model 'nope'" in capsys.readouterr().err
