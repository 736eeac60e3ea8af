"""
The `benchmark` command: measure every candidate model here, write the profile and chart.

It loads the models (measuring), times them in a fresh process on one shared thread pool and
measures their peak memory (probing), scores them on a labelled photo set, then writes
profile.json/.csv and the chart and prints the table, the claims and the INT8 comparison
(reporting).
"""

import argparse
import os
from pathlib import Path
import sys
import time

from jetson_classifier import PACKAGE_PARENT
from jetson_classifier.benchmark.chart import draw_chart
from jetson_classifier.benchmark.measuring import (labelled_dataset, load_variants,
                                                   measure_accuracy, model_entry,
                                                   select_models)
from jetson_classifier.benchmark.pacing import CAMERA_SIZE, DEFAULT_RATE_HZ, PACED_METHOD
from jetson_classifier.benchmark.probing import (latency_method, measure_latency_in_fresh_process,
                                                 measure_paced_in_fresh_process,
                                                 measure_peak_memory, PEAK_MEMORY_METHOD)
from jetson_classifier.benchmark.profile_builder import build_profile, write_profile
from jetson_classifier.benchmark.reporting import (claim_lines, compare_twins, constraint_lines,
                                                   int8_pairs, Progress, table_lines, twin_lines)
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import BACKEND_NAMES, SPIN_WAIT
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.switching.ladder import parse_constraint

SAMPLE_DIR_ENV = 'JETSON_CLASSIFIER_SAMPLE_DIR'
MEASURED_BACKENDS = tuple(b for b in BACKEND_NAMES if b != 'auto')


def default_dataset():
    """Return $JETSON_CLASSIFIER_SAMPLE_DIR, else the sample set beside a source tree, or None."""
    if os.environ.get(SAMPLE_DIR_ENV):
        return Path(os.environ[SAMPLE_DIR_ENV])
    sample = PACKAGE_PARENT.parent / 'shared' / 'datasets' / 'imagenet-1k-sample'
    return sample if (PACKAGE_PARENT / 'package.xml').is_file() and sample.is_dir() else None


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
    parser.add_argument('--spin-wait', action=argparse.BooleanOptionalAction, default=SPIN_WAIT,
                        help="ONNX Runtime's idle CPU threads spin (--spin-wait) or sleep, as "
                             "the classifier node's spin_wait parameter says: time the models "
                             "with the setting the node runs (default: the node's, "
                             f'{"spin" if SPIN_WAIT else "sleep"})')
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
    parser.add_argument('--rate', type=float, action='append', metavar='HZ',
                        help='also time each model as the classifier node runs it, one '
                             f'{CAMERA_SIZE[0]}x{CAMERA_SIZE[1]} camera frame per 1/HZ s '
                             f'(repeatable; default: {DEFAULT_RATE_HZ:g}; 0: not paced at all)')
    parser.add_argument('--paced-frames', type=int, default=150,
                        help='timed frames per model and rate, over the interleaved rounds '
                             '(default: %(default)s)')
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
    if any(rate < 0 for rate in args.rate or ()) or args.paced_frames < 1:
        raise ClassifierError(f'--rate must be >= 0 and --paced-frames >= 1, got {args.rate}, '
                              f'{args.paced_frames}')


def paced_rates(args):
    """Return the camera rates to time at: --rate's, or the default; none if one is 0."""
    rates = [DEFAULT_RATE_HZ] if args.rate is None else args.rate
    return [] if 0 in rates else sorted(set(rates))


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
    paced, rates = {}, paced_rates(args)
    if rates:
        _log(f'paced latency: {len(variants)} models at {", ".join(f"{r:g}" for r in rates)} '
             'Hz, as the node runs them')
        paced = measure_paced_in_fresh_process(args, variants, rates)
    seconds['paced'] = time.perf_counter() - phase

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

    entries = [model_entry(v, latency[v.name], accuracy.get(v.name), peaks[v.name],
                           paced.get(v.name, []), _log) for v in variants]
    pairs = int8_pairs(variants)
    for v in variants:
        v.backend.close()
    profile = build_profile(entries, args.dataset if paths else '(none)', len(paths))
    seconds['total'] = time.perf_counter() - started
    profile['benchmark'] = {
        'threads': args.threads, 'spin_wait': args.spin_wait, 'batches': args.batches,
        'rounds': args.rounds, 'runs_at_batch_1': args.runs, 'warmup': args.warmup,
        'latency': latency_method(args.spin_wait),
        'paced_rates_hz': rates, 'paced_frames': args.paced_frames, 'paced': PACED_METHOD,
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
