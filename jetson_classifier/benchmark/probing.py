"""
Measurements that need a fresh Python process of their own.

Latency back-to-back on one shared thread pool, latency paced by a camera as the node meets
it, peak memory.

Each probe is a function that takes and returns JSON text, run with `python -c` in a new
process that imports this very package.
"""

import functools
import json
import os
import resource
import subprocess
import sys

import numpy as np

from jetson_classifier import PACKAGE_PARENT
from jetson_classifier.benchmark.measuring import load_variants, measure_latency
from jetson_classifier.benchmark.pacing import camera_messages, measure_paced
from jetson_classifier.benchmark.reporting import Progress
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import create_backend
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.pipeline.frame_sources import builtin_photos

PEAK_MEMORY_METHOD = (
    'peak RSS of a fresh Python process while loading the model and running one call per '
    'batch size, minus its RSS after importing the inference libraries (Linux: VmHWM reset '
    'through /proc/self/clear_refs; elsewhere the growth of ru_maxrss)')
LATENCY_METHOD = (
    'backend call only (no decode/preprocess), random input; interleaved rounds with the model '
    'order rotated each round; untimed calls worth --warmup images before each block of timed '
    'calls; in a fresh process whose ONNX Runtime sessions {pools}')
_PROBE = ('import sys; from jetson_classifier.benchmark.probing import {probe}; '
          'print({probe}(sys.argv[1]))')


def latency_method(spin_wait):
    """Return LATENCY_METHOD for this machine's ONNX Runtime and the node's `spin_wait`."""
    if shares_one_pool(spin_wait):
        return LATENCY_METHOD.format(pools='share one pool of --threads threads')
    why = 'this ONNX Runtime has no shared pool' if spin_wait else 'spin_wait false'
    return LATENCY_METHOD.format(
        pools=f'have a pool of --threads threads each whose idle workers sleep ({why})')


def shares_one_pool(spin_wait):
    """
    Say whether the back-to-back probe's sessions share one pool, or have one each.

    A shared pool spins, and ONNX Runtime's Python cannot make it sleep; without one (before
    1.23) or without spinning, each session gets its own pool whose idle workers sleep.
    """
    try:
        from jetson_classifier.inference.backends.onnxruntime_backend import GLOBAL_POOL
    except ImportError:  # a TensorRT-only machine: no ONNX Runtime session to share a pool
        GLOBAL_POOL = True
    return spin_wait and GLOBAL_POOL


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
        from jetson_classifier.inference.backends.onnxruntime_backend import share_one_thread_pool
        share_one_thread_pool(request['threads'], shared=shares_one_pool(request['spin_wait']))
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
               'runs': args.runs, 'warmup': args.warmup, 'spin_wait': args.spin_wait}
    done = _run_probe('probe_latency', request, stderr=None)
    if done.returncode != 0:
        raise ClassifierError(f'the latency probe failed (exit code {done.returncode}); '
                              'its error is printed above')
    samples = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: {int(b): s for b, s in per.items()} for name, per in samples.items()}


def _run_probe(probe, request, stderr=subprocess.PIPE):
    """Call `probe`(JSON of `request`) in a fresh Python that imports this very package."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(PACKAGE_PARENT), os.environ.get('PYTHONPATH')])))
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
        backend.infer(np.zeros((batch, 3, size, size), backend.input_dtype))
    return json.dumps({'peak_rss_mb': (peak() - before) / 2**20})


def probe_paced(request):
    """In a fresh process: time each variant as the node runs it, at each rate; JSON."""
    request = json.loads(request)
    catalog = Catalog.load(request['catalog'], request['model_dir'])
    loaders = {name: functools.partial(
        Classifier, model, backend=kind, catalog=catalog, threads=request['threads'],
        precision=precision, cache_dir=request['cache_dir'], spin_wait=request['spin_wait'])
        for name, model, kind, precision in request['variants']}
    return json.dumps(measure_paced(loaders, camera_messages(builtin_photos()),
                                    request['rates'], request['frames']))


def measure_paced_in_fresh_process(args, variants, rates):
    """Run probe_paced for every variant at every rate; {name: [paced entry, ...]}."""
    done = _run_probe('probe_paced', {
        'catalog': args.catalog, 'model_dir': args.model_dir, 'threads': args.threads,
        'spin_wait': args.spin_wait, 'cache_dir': args.cache_dir, 'rates': rates,
        'frames': args.paced_frames,
        'variants': [(v.name, v.model, v.kind, v.precision_request) for v in variants]},
        stderr=None)
    if done.returncode != 0:
        raise ClassifierError(f'the paced latency probe failed (exit code {done.returncode}); '
                              'its error is printed above')
    return json.loads(done.stdout.strip().splitlines()[-1])


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
