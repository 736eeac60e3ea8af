"""
Measure every candidate model on this machine and write the profile the switcher plans from.

Latency is the backend call alone (network time: no decoding or preprocessing), timed in
interleaved rounds, each model in turn with the order rotated every round, so that a load
spike on a shared machine hits every model alike. Accuracy decodes each image once and
preprocesses it once per distinct preprocessing, shared by all models that use it.
"""

import argparse
import collections
import dataclasses
import json
import math
import os
from pathlib import Path
import resource
import subprocess
import sys
import time

import numpy as np

from jetson_classifier import benchmark_stats, postprocessing
from jetson_classifier.backends import BACKEND_NAMES, create_backend
from jetson_classifier.benchmark_chart import draw_chart
from jetson_classifier.benchmark_profile import build_profile, write_profile
from jetson_classifier.catalog import Catalog
from jetson_classifier.class_groups import load_class_groups
from jetson_classifier.classifier import load_model
from jetson_classifier.errors import BackendUnavailableError, ClassifierError, ImageError
from jetson_classifier.image_files import read_rgb
from jetson_classifier.labelled_images import find_labelled_images
from jetson_classifier.model_info import load_onnx
from jetson_classifier.operation_count import count_macs, count_parameters
from jetson_classifier.preprocessing import preprocess_batch
from jetson_classifier.switching_policy import choose_rung, parse_constraint, rungs_from_profile

SAMPLE_DIR_ENV = 'JETSON_CLASSIFIER_SAMPLE_DIR'
MEASURED_BACKENDS = tuple(b for b in BACKEND_NAMES if b != 'auto')
# A claim "holds" when its fit explains at least this share of the variance.
CLAIM_R2 = 0.9
INT8_MIN_SPEEDUP = 2.0
INT8_MAX_TOP1_LOSS_POINTS = 1.5
PEAK_MEMORY_METHOD = (
    'peak RSS of a fresh Python process while loading the model and running one call per '
    'batch size, minus its RSS after importing the inference libraries (Linux: VmHWM reset '
    'through /proc/self/clear_refs; elsewhere the growth of ru_maxrss)')
LATENCY_METHOD = (
    'backend call only (no decode/preprocess), random input; interleaved rounds with the model '
    'order rotated each round; untimed calls worth --warmup images before each block of timed '
    'calls; in a fresh process whose ONNX Runtime sessions share one pool of --threads threads')
_PROBE = ('import sys; from jetson_classifier.benchmark import {probe}; '
          'print({probe}(sys.argv[1]))')


@dataclasses.dataclass
class Variant:
    """One model loaded on one backend at one precision: one row of the profile."""

    name: str
    model: str
    path: Path
    info: object
    backend: object
    kind: str
    precision_request: str
    batches: list
    int8_of: str = None


class Progress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, each 10% otherwise."""

    def __init__(self, what, total, stream=None):
        self.what, self.total, self.done = what, max(int(total), 1), 0
        self.stream = sys.stderr if stream is None else stream
        self._tty = self.stream.isatty()
        self._start = time.perf_counter()
        self._shown = -1

    def advance(self, steps=1):
        """Count `steps` more units of work and redraw when it shows a change."""
        self.done = min(self.done + steps, self.total)
        tenth = 10 * self.done // self.total
        if self._tty or tenth > self._shown:
            self._shown = tenth
            self._draw('\r' if self._tty else '', '' if self._tty else '\n')

    def close(self):
        """End the bar's line on a terminal."""
        if self._tty:
            self._draw('\r', '\n')

    def _draw(self, head, tail):
        elapsed = time.perf_counter() - self._start
        left = elapsed * (self.total - self.done) / self.done if self.done else math.nan
        bar = '#' * (30 * self.done // self.total)
        self.stream.write(f'{head}{self.what} [{bar:<30}] {self.done}/{self.total} '
                          f'{elapsed:.0f} s, ~{left:.0f} s left{tail}')
        self.stream.flush()


def default_dataset():
    """Return $JETSON_CLASSIFIER_SAMPLE_DIR, else the sample set beside a source tree, or None."""
    if os.environ.get(SAMPLE_DIR_ENV):
        return Path(os.environ[SAMPLE_DIR_ENV])
    source_tree = Path(__file__).resolve().parent.parent
    sample = source_tree.parent / 'shared' / 'datasets' / 'imagenet-1k-sample'
    return sample if (source_tree / 'package.xml').is_file() and sample.is_dir() else None


def select_models(catalog, names, log):
    """Return the names to measure: `names` as given, or every catalog model whose file exists."""
    if names:
        for name in names:
            catalog.entry(name)
        return list(names)
    present = [n for n in catalog.names if catalog.path_of(catalog.entry(n)).is_file()]
    for name in sorted(set(catalog.names) - set(present)):
        log(f'skipping {name}: {catalog.path_of(catalog.entry(name))} does not exist '
            '(run prepare_models)')
    if not present:
        raise ClassifierError(f'no model file of catalog {catalog.source} exists in '
                              f'{catalog.model_dir}: run prepare_models first')
    return present


def load_variants(catalog, models, backends, precisions, batches, threads, cache_dir, log):
    """Load each model on each available backend at each precision it really runs, once each."""
    loaded, seen, unavailable = [], set(), set()
    for model in models:
        path, info = load_model(model, catalog)
        entry = catalog.entries.get(model)
        for kind in backends:
            for request in precisions or [None]:
                if kind in unavailable:
                    continue
                try:
                    backend = create_backend(kind, path, threads=threads, precision=request,
                                             cache_dir=cache_dir)
                except BackendUnavailableError as error:
                    log(f'backend {kind} skipped: {error}')
                    unavailable.add(kind)
                    continue
                key = (model, backend.name, backend.device, backend.precision)
                if key in seen:
                    backend.close()
                    continue
                seen.add(key)
                allowed = [b for b in batches if backend.max_batch is None
                           or b <= backend.max_batch]
                loaded.append(Variant(model, model, path, info, backend, kind, request, allowed,
                                      entry.int8_of if entry else None))
    if not loaded:
        raise ClassifierError(f'no backend of {", ".join(backends)} could run any model')
    counts = collections.Counter(v.model for v in loaded)
    for v in loaded:
        if counts[v.model] > 1:
            v.name = f'{v.model}:{v.backend.name}:{v.backend.precision}'
    return loaded


def _input(variant, batch):
    size = variant.info.input_size
    rng = np.random.default_rng(size * 1000 + batch)
    return rng.uniform(-1.0, 1.0, (batch, 3, size, size)).astype(np.float32)


def timed_calls(runs, rounds, batch):
    """Return timed calls per round at `batch`: `runs` in all at batch 1, runs / batch else."""
    return max(1, math.ceil(runs / (rounds * batch)))


def measure_latency(variants, rounds, runs, warmup, progress):
    """
    Time backend calls in interleaved rounds; return {name: {batch: [seconds, ...]}}.

    Each block of timed calls follows untimed calls worth `warmup` images (at batch b,
    warmup / b calls, rounded up): after another model ran, a model's first calls are
    slower (lite0_160_int8 at 2 threads: 1.75x for the first, 1.15x for the third, 1.08x
    for the fifth; flat after ten), a cost a robot running one model does not pay.
    """
    inputs = {(v.name, b): _input(v, b) for v in variants for b in v.batches}
    samples = {v.name: {b: [] for b in v.batches} for v in variants}
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for v in variants[shift:] + variants[:shift]:
            for b in v.batches:
                batch = inputs[v.name, b]
                for _ in range(math.ceil(warmup / b)):
                    v.backend.infer(batch)
                for _ in range(timed_calls(runs, rounds, b)):
                    start = time.perf_counter()
                    v.backend.infer(batch)
                    samples[v.name][b].append(time.perf_counter() - start)
            progress.advance()
    return samples


def probe_latency(request):
    """
    In a fresh process: load the variants as the benchmark did and time them; JSON samples.

    Its ONNX Runtime sessions share one thread pool: with a pool each, the idle pools'
    spinning workers slow the one that runs (benchmarks/thread_pools.py). ONNX Runtime
    makes that pool process-wide and then refuses sessions with pools of their own, hence
    a process of its own.
    """
    request = json.loads(request)
    if 'onnxruntime' in request['backends']:  # imported here: a TensorRT-only machine may lack it
        from jetson_classifier.backends.onnxruntime_backend import share_one_thread_pool
        share_one_thread_pool(request['threads'])
    catalog = Catalog.load(request['catalog'], request['model_dir'])
    variants = load_variants(catalog, request['models'], request['backends'],
                             request['precisions'], request['batches'], request['threads'],
                             request['cache_dir'], log=lambda line: None)
    progress = Progress('latency ', request['rounds'] * len(variants))
    samples = measure_latency(variants, request['rounds'], request['runs'], request['warmup'],
                              progress)
    progress.close()
    for v in variants:
        v.backend.close()
    return json.dumps(samples)


def measure_latency_in_fresh_process(args, models, backends, precisions):
    """Run probe_latency over the benchmark's own choices; {name: {batch: [seconds, ...]}}."""
    request = {'catalog': args.catalog, 'model_dir': args.model_dir, 'models': models,
               'backends': backends, 'precisions': precisions, 'batches': args.batches,
               'threads': args.threads, 'cache_dir': args.cache_dir, 'rounds': args.rounds,
               'runs': args.runs, 'warmup': args.warmup}
    done = _run_probe('probe_latency', request, stderr=None)
    if done.returncode != 0:
        raise ClassifierError(f'the latency probe failed (exit code {done.returncode}); '
                              'its error is printed above')
    samples = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: {int(b): s for b, s in per.items()} for name, per in samples.items()}


def _run_probe(probe, request, stderr=subprocess.PIPE):
    """Call `probe`(JSON of `request`) in a fresh Python that imports this very package."""
    package_parent = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [package_parent, os.environ.get('PYTHONPATH')])))
    return subprocess.run([sys.executable, '-c', _PROBE.format(probe=probe),
                           json.dumps(request)], stdout=subprocess.PIPE, stderr=stderr,
                          text=True, env=env, check=False)


def _peak_rss_reset():
    """
    Return (read the peak RSS in bytes, whether the peak starts from the current RSS now).

    Linux resets its high-water mark VmHWM through /proc/self/clear_refs, so imports that
    briefly used more memory do not hide the model's; elsewhere the peak is ru_maxrss.
    """
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        unit = 1 if sys.platform == 'darwin' else 1024  # ru_maxrss: bytes on macOS, else KiB
        return lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit, False
    return lambda: _proc_status_kib('VmHWM') * 1024, True


def _proc_status_kib(field):
    with open('/proc/self/status', encoding='ascii') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def probe_peak_memory(request):
    """In a fresh process: load one model, run it once per batch size; return the RSS growth."""
    request = json.loads(request)
    for library in ('onnxruntime', 'tensorrt'):
        try:
            __import__(library)
        except ImportError:
            pass
    peak, reset = _peak_rss_reset()
    before = _proc_status_kib('VmRSS') * 1024 if reset else peak()
    backend = create_backend(request['kind'], request['path'], threads=request['threads'],
                             precision=request['precision'], cache_dir=request['cache_dir'])
    size = request['input_size']
    for batch in request['batches']:
        backend.infer(np.zeros((batch, 3, size, size), np.float32))
    return json.dumps({'peak_rss_mb': (peak() - before) / 2**20})


def measure_peak_memory(variant, threads, cache_dir, log):
    """Run probe_peak_memory for `variant` in a fresh Python; None (with a note) if it fails."""
    done = _run_probe('probe_peak_memory', {
        'kind': variant.kind, 'path': str(variant.path), 'threads': threads,
        'precision': variant.precision_request, 'cache_dir': cache_dir,
        'input_size': variant.info.input_size, 'batches': variant.batches})
    if done.returncode != 0:
        log(f'{variant.name}: peak memory not measured, the probe failed: '
            f'{done.stderr.strip().splitlines()[-1:]}')
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])['peak_rss_mb']


def labelled_dataset(dataset, variants, limit, log):
    """
    Find the labelled images and each variant's true class per image.

    Returns (paths, {name: class index array}); a model whose classes do not match the
    dataset's folders or file names is left out with a note. `limit` images are spread
    evenly over the sorted list.
    """
    if not Path(dataset).is_dir():
        raise ImageError(f'dataset folder {dataset} does not exist or is not a folder')
    found, paths, truths = {}, None, {}
    for v in variants:
        key = (v.info.synsets, v.info.labels)
        if key not in found:
            try:
                found[key] = find_labelled_images(dataset, synsets=v.info.synsets or None,
                                                  labels=v.info.labels)
            except ImageError as error:
                found[key] = error
        if isinstance(found[key], ImageError):
            log(f'{v.name}: accuracy not measured: {found[key]}')
            continue
        pairs = found[key]
        if limit is not None:
            pairs = pairs[::max(1, len(pairs) // max(limit, 1))][:limit]
        if paths is None:
            paths = [p for p, _ in pairs]
        truths[v.name] = np.array([c for _, c in pairs], dtype=np.int64)
    return paths or [], truths


def _infer(backend, batch):
    """Run a batch, split where the backend takes fewer images per call."""
    step = backend.max_batch or len(batch)
    return np.concatenate([backend.infer(batch[i:i + step]) for i in range(0, len(batch), step)])


def _preprocessing_key(info):
    return (info.input_size, info.crop_fraction, tuple(info.mean), tuple(info.std),
            info.color_order)


def measure_accuracy(variants, paths, truths, group_spec, chunk, progress):
    """
    Count top-1/top-5 (and grouped top-1) over the images, `chunk` images per batch.

    Each image is decoded once and preprocessed once per distinct preprocessing.
    Returns {name: {'top1', 'top5', 'grouped_top1'}} for the variants that have truths.
    """
    scored = [v for v in variants if v.name in truths]
    by_preprocessing = {}
    for v in scored:
        by_preprocessing.setdefault(_preprocessing_key(v.info), []).append(v)
    counters = {v.name: benchmark_stats.TopKCounter((1, 5)) for v in scored}
    groupings = {v.name: group_spec.bind(v.info.labels, v.info.synsets or None)
                 for v in scored} if group_spec else {}
    grouped = {name: benchmark_stats.GroupedCounter(g.group_of) for name, g in groupings.items()}
    for start in range(0, len(paths), chunk):
        images = [read_rgb(p) for p in paths[start:start + chunk]]
        for members in by_preprocessing.values():
            batch = preprocess_batch(images, members[0].info)
            for v in members:
                probs = postprocessing.softmax(_infer(v.backend, batch))
                truth = truths[v.name][start:start + len(images)]
                counters[v.name].update(probs, truth)
                if v.name in grouped:
                    grouped[v.name].update(groupings[v.name].apply(probs), truth)
        progress.advance(len(images))
    return {name: {'top1': c.accuracy(1), 'top5': c.accuracy(5),
                   'grouped_top1': grouped[name].accuracy if name in grouped else None}
            for name, c in counters.items()}


def _operation_counts(variant, log):
    """Return MACs and parameters from the model's metadata, else counted from its ONNX graph."""
    macs, params = variant.info.macs, variant.info.params
    if macs is None or params is None:
        graph = load_onnx(variant.path)
        try:
            macs = count_macs(graph) if macs is None else macs
        except (KeyError, IndexError) as error:
            log(f'{variant.name}: cannot count MACs in {variant.path}: no shape for {error}')
        params = count_parameters(graph) if params is None else params
    return macs, params


def model_entry(variant, latency, accuracy, peak_rss_mb, log):
    """Assemble one profile row from the measurements of `variant`."""
    summary = benchmark_stats.latency_summary(latency[1])
    throughput = {str(b): b * len(s) / sum(s) for b, s in latency.items()}
    macs, params = _operation_counts(variant, log)
    accuracy = accuracy or {'top1': None, 'top5': None, 'grouped_top1': None}
    return {'name': variant.name, 'backend': variant.backend.name,
            'precision': variant.backend.precision, 'device': variant.backend.device,
            'input_size': variant.info.input_size, 'macs': macs, 'params': params,
            'file_bytes': variant.path.stat().st_size, 'batch': 1, 'latency_ms': summary,
            'fps': benchmark_stats.fps_from_latency(summary['p50']),
            'throughput_fps': throughput, **accuracy, 'peak_rss_mb': peak_rss_mb,
            'published_top1': variant.info.published_top1,
            'latency_samples': {str(b): len(s) for b, s in latency.items()}}


def int8_pairs(variants):
    """Return (fp32 name, int8 name) for each INT8 catalog twin measured beside its FP32 model."""
    by_run = {(v.model, v.backend.name, v.backend.device): v for v in variants}
    return [(by_run[v.int8_of, v.backend.name, v.backend.device].name, v.name)
            for v in variants
            if v.int8_of and (v.int8_of, v.backend.name, v.backend.device) in by_run]


def compare_twins(profile, pairs):
    """Return speed-up (FP32 p50 / INT8 p50), top-1 points lost and goal met, per INT8 twin."""
    by_name = {m['name']: m for m in profile['models']}
    rows = []
    for fp32_name, int8_name in pairs:
        fp32, int8 = by_name[fp32_name], by_name[int8_name]
        speedup = fp32['latency_ms']['p50'] / int8['latency_ms']['p50']
        loss = (None if None in (fp32['top1'], int8['top1'])
                else 100.0 * (fp32['top1'] - int8['top1']))
        meets = (None if loss is None
                 else speedup >= INT8_MIN_SPEEDUP and loss <= INT8_MAX_TOP1_LOSS_POINTS)
        rows.append({'fp32': fp32_name, 'int8': int8_name, 'speedup': speedup,
                     'fp32_top1': fp32['top1'], 'int8_top1': int8['top1'],
                     'top1_loss_points': loss, 'meets_goal': meets})
    return rows


def claim_lines(profile):
    """Say, per backend/device/precision group, whether each fit's R² supports its claim."""
    claims = (('latency_vs_gmacs', 'operation count predicts latency (linear)'),
              ('accuracy_vs_latency', 'accuracy vs latency is hyperbolic'))
    lines = []
    for key, claim in claims:
        fits = profile['fits'][key]
        if not fits:
            lines.append(f'{claim}: not testable, no backend/precision group has two models '
                         'with distinct values')
        for fit in fits:
            r2 = fit['r2']
            if r2 is None:
                verdict = 'R² undefined: the fitted values do not vary'
            elif len(fit['models']) < 3:
                verdict = f'not testable with two models (any two points fit: R² = {r2:.3f})'
            else:
                verdict = (f'{"holds" if r2 >= CLAIM_R2 else "does not hold"} '
                           f'(R² = {r2:.3f}, threshold {CLAIM_R2})')
            lines.append(f'{claim} [{fit["backend"]} {fit["device"]} {fit["precision"]}, '
                         f'{len(fit["models"])} models]: {verdict}')
    return lines


def constraint_lines(profile, constraints):
    """Plan each constraint on the profile's Pareto ladder with the switcher's own policy."""
    if not constraints:
        return []
    rungs, warnings = rungs_from_profile(profile)
    lines = [f'ladder (Pareto front, fastest first): {", ".join(r.name for r in rungs)}']
    lines += [f'  note: {w}' for w in warnings]
    for constraint in constraints:
        choice = choose_rung(rungs, constraint)
        lines.append(f'{constraint}: choose {choice.rung.name} '
                     f'({"meets it" if choice.met else "does NOT meet it"}) - {choice.reason}')
    return lines


def _cell(value, spec, scale=1.0):
    return '-' if value is None else format(value * scale, spec)


def _name_width(names, least):
    """Return a column width that fits every name: `least`, or the longest name."""
    return max(least, *(len(name) for name in names))


def table_lines(profile):
    """Render the models as a fixed-width table, fastest first; accuracies in %, pub: published."""
    batches = sorted({int(b) for m in profile['models'] for b in m['throughput_fps']} - {1})
    width = _name_width((m['name'] for m in profile['models']), 16)
    head = (f'{"model":<{width}}{"prec":>5}{"GMACs":>7}{"Mpar":>6}{"MB":>6}{"p50":>8}{"p90":>8}'
            f'{"p99":>8}{"fps":>7}' + ''.join(f'{f"img/s@{b}":>10}' for b in batches)
            + f'{"top1":>7}{"top5":>7}{"group":>7}{"pub":>6}{"RSS MB":>8}  pareto')
    lines, pareto = [head], set(profile['pareto'])
    for m in sorted(profile['models'], key=lambda m: -m['fps']):
        lat = m['latency_ms']
        lines.append(
            f'{m["name"]:<{width}}{m["precision"]:>5}'
            f'{_cell(m["macs"], ".3f", 1e-9):>7}{_cell(m["params"], ".2f", 1e-6):>6}'
            f'{_cell(m["file_bytes"], ".1f", 1e-6):>6}'
            f'{lat["p50"]:>8.2f}{lat["p90"]:>8.2f}{lat["p99"]:>8.2f}{m["fps"]:>7.1f}'
            + ''.join(f'{_cell(m["throughput_fps"].get(str(b)), ".1f"):>10}' for b in batches)
            + ''.join(f'{_cell(m[k], ".1f", 100):>7}' for k in ('top1', 'top5', 'grouped_top1'))
            + f'{_cell(m.get("published_top1"), ".1f"):>6}'
            + f'{_cell(m["peak_rss_mb"], ".0f"):>8}  {"*" if m["name"] in pareto else ""}')
    return lines


def twin_lines(rows):
    """Render the INT8-vs-FP32 comparison against the goal (>= 2x faster, <= 1.5 points lost)."""
    if not rows:
        return []
    lines = [f'INT8 vs FP32 twins (goal: >= {INT8_MIN_SPEEDUP:g}x faster at p50, '
             f'<= {INT8_MAX_TOP1_LOSS_POINTS:g} points top-1 lost):']
    verdict = {None: 'accuracy not measured', True: 'meets goal', False: 'misses goal'}
    int8_width = _name_width((r['int8'] for r in rows), 16)
    fp32_width = _name_width((r['fp32'] for r in rows), 12)
    for r in rows:
        top1 = ('top-1 not measured' if r['top1_loss_points'] is None else
                f'top-1 {100 * r["fp32_top1"]:.1f} -> {100 * r["int8_top1"]:.1f} % '
                f'({100 * (r["int8_top1"] - r["fp32_top1"]):+.1f} points)')
        lines.append(f'  {r["int8"]:<{int8_width}} vs {r["fp32"]:<{fp32_width}} '
                     f'{r["speedup"]:5.2f}x faster, '
                     f'{top1}: {verdict[r["meets_goal"]]}')
    return lines


def _batches(text):
    try:
        batches = sorted({int(b) for b in text.split(',') if b.strip()} | {1})
    except ValueError:
        raise argparse.ArgumentTypeError(f'batch sizes must be integers like 1,8, got {text!r}')
    if batches[0] < 1:
        raise argparse.ArgumentTypeError(f'batch sizes must be >= 1, got {text!r}')
    return batches


def _constraint(text):
    try:
        return parse_constraint(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _names(values):
    return [n.strip() for value in values or [] for n in value.split(',') if n.strip()]


def add_arguments(parser):
    """Add the benchmark's options to `parser` (its own command or a cli.py subcommand)."""
    parser.add_argument('--models', nargs='+', metavar='NAME',
                        help='catalog names, space or comma separated (default: every model '
                             'whose file exists)')
    parser.add_argument('--catalog', help='model catalog YAML (default: the shipped one)')
    parser.add_argument('--model-dir', help='model directory (default: the user cache)')
    parser.add_argument('--backends', default=','.join(MEASURED_BACKENDS),
                        help='backends to measure, comma separated; unavailable ones are '
                             'skipped (default: %(default)s)')
    parser.add_argument('--precisions', help='precisions to request, e.g. fp16,int8 (default: '
                                             "each file's own; CPU runs only that)")
    parser.add_argument('--threads', type=int, default=os.cpu_count(),
                        help='CPU threads per model (default: all cores, %(default)s)')
    parser.add_argument('--batches', type=_batches, default=[1, 8],
                        help='batch sizes to time; 1 is always included (default: 1,8)')
    parser.add_argument('--rounds', type=int, default=20,
                        help='interleaved rounds (default: %(default)s)')
    parser.add_argument('--runs', type=int, default=200,
                        help='timed calls at batch 1 per model in all rounds; batch b gets '
                             'runs/b (default: %(default)s)')
    parser.add_argument('--warmup', type=int, default=10,
                        help='untimed images before each block of timed calls of a model, in '
                             'calls of its batch size (default: %(default)s)')
    parser.add_argument('--dataset', type=Path, default=default_dataset(),
                        help='labelled images: flat <synset>_<name> files or one folder per '
                             'class (default: %(default)s)')
    parser.add_argument('--limit', type=int, help='accuracy on at most this many images, '
                                                  'spread over the set (0: no accuracy)')
    parser.add_argument('--accuracy-batch', type=int, default=32,
                        help='images per accuracy batch (default: 32)')
    parser.add_argument('--class-groups', type=Path, help='group file: grouped top-1 too')
    parser.add_argument('--cache-dir', help='engine cache folder for TensorRT')
    parser.add_argument('--output', type=Path, default=Path('benchmark_output'),
                        help='folder for profile.json, profile.csv, chart.png, chart.svg '
                             '(default: %(default)s)')
    parser.add_argument('--constraint', type=_constraint, action='append', default=[],
                        metavar='min_fps=N|min_accuracy=F',
                        help='print the model the switching policy would choose (repeatable)')
    return parser


def _check_counts(args):
    for option in ('rounds', 'runs', 'accuracy_batch', 'threads'):
        value = getattr(args, option)
        if value is None or value < 1:
            raise ClassifierError(f'--{option.replace("_", "-")} must be >= 1, got {value!r}')
    if args.warmup < 0 or (args.limit is not None and args.limit < 0):
        raise ClassifierError(f'--warmup and --limit must be >= 0, got {args.warmup}, '
                              f'{args.limit}')


def _log(line):
    print(line, file=sys.stderr, flush=True)


def run(args, out=None):
    """Measure, write the profile and chart, print the table, claims, twins and choices."""
    out = sys.stdout if out is None else out
    _check_counts(args)
    started, seconds = time.perf_counter(), {}
    load_before = os.getloadavg()
    catalog = Catalog.load(args.catalog, args.model_dir)
    group_spec = load_class_groups(args.class_groups) if args.class_groups else None
    models = select_models(catalog, _names(args.models), _log)
    backends = _names([args.backends])
    unknown = [b for b in backends if b not in MEASURED_BACKENDS]
    if unknown or not backends:
        raise ClassifierError(f'--backends {args.backends!r}: expected some of '
                              f'{", ".join(MEASURED_BACKENDS)}')
    precisions = _names([args.precisions or ''])
    variants = load_variants(catalog, models, backends, precisions, args.batches, args.threads,
                             args.cache_dir, _log)
    seconds['load'] = time.perf_counter() - started

    phase = time.perf_counter()
    _log(f'peak memory: {len(variants)} fresh processes')
    peaks = {v.name: measure_peak_memory(v, args.threads, args.cache_dir, _log)
             for v in variants}
    seconds['peak_memory'] = time.perf_counter() - phase

    phase = time.perf_counter()
    latency = measure_latency_in_fresh_process(args, models, backends, precisions)
    seconds['latency'] = time.perf_counter() - phase

    phase = time.perf_counter()
    accuracy, paths = {}, []
    if args.limit == 0 or args.dataset is None:
        _log('accuracy not measured: ' + ('--limit 0' if args.limit == 0 else
                                          f'no dataset (--dataset or ${SAMPLE_DIR_ENV})'))
    else:
        paths, truths = labelled_dataset(args.dataset, variants, args.limit, _log)
        progress = Progress('accuracy', len(paths))
        accuracy = measure_accuracy(variants, paths, truths, group_spec, args.accuracy_batch,
                                    progress)
        progress.close()
    seconds['accuracy'] = time.perf_counter() - phase

    entries = [model_entry(v, latency[v.name], accuracy.get(v.name), peaks[v.name], _log)
               for v in variants]
    pairs = int8_pairs(variants)
    for v in variants:
        v.backend.close()
    profile = build_profile(entries, args.dataset if paths else '(none)', len(paths))
    seconds['total'] = time.perf_counter() - started
    profile['benchmark'] = {
        'threads': args.threads, 'batches': args.batches, 'rounds': args.rounds,
        'runs_at_batch_1': args.runs, 'warmup': args.warmup, 'latency': LATENCY_METHOD,
        'peak_memory': PEAK_MEMORY_METHOD, 'accuracy_batch': args.accuracy_batch,
        'class_groups': str(args.class_groups) if args.class_groups else None,
        'load_average_before': list(load_before), 'load_average_after': list(os.getloadavg()),
        'seconds': {k: round(v, 1) for k, v in seconds.items()}}
    write_profile(profile, args.output / 'profile.json', args.output / 'profile.csv')
    for ext in ('png', 'svg'):
        draw_chart(profile, args.output / f'chart.{ext}')

    report = [*table_lines(profile), '', *claim_lines(profile)]
    if pairs:
        report += ['', *twin_lines(compare_twins(profile, pairs))]
    if args.constraint:
        report += ['', *constraint_lines(profile, args.constraint)]
    timing = ', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())
    report += ['', f'{len(variants)} models, {len(paths)} images; {timing}; wrote '
                   f'profile.json, profile.csv, chart.png, chart.svg to {args.output}']
    print('\n'.join(report), file=out)
    return 0


def build_parser():
    """Return the `benchmark` command's argument parser."""
    return add_arguments(argparse.ArgumentParser(prog='benchmark', description=__doc__.split(
        '\n')[1]))


def main(argv=None):
    """Command line: benchmark [--models ...] [--dataset DIR] [--output DIR] [--constraint C]."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ClassifierError as error:
        print(f'benchmark: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
