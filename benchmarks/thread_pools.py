"""
Two ONNX Runtime sessions run in turn: a thread pool each, or one pool shared, in one run.

The benchmark tool keeps every model loaded and times them in turn. With a pool per session,
the idle pool's spinning workers take cores from the running one; sharing one pool
(share_one_thread_pool) leaves each model its own speed. ONNX Runtime without a shared pool
(1.16 to 1.22, JetPack 6's) gets a pool each whose idle workers sleep instead. Every way
is timed in alternating rounds, each in a fresh process (ONNX Runtime allows one shared
pool per process, sized once), next to each model loaded alone.

    python -m benchmarks.thread_pools [--models lite1 lite1_int8] [--threads 2]
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from jetson_classifier.benchmark.measuring import random_batch
from jetson_classifier.inference.backends.onnxruntime_backend import (
    GLOBAL_POOL, OnnxRuntimeBackend, share_one_thread_pool)
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.model_info import read_model_info

SETUPS = ('one model alone', 'a pool each', 'one pool shared', 'a pool each, idle ones asleep')


def load(names, threads):
    """Load catalog models on ONNX Runtime; return (name, backend, random input) triples."""
    catalog, loaded = Catalog.load(), []
    for name in names:
        path = catalog.path_of(catalog.entry(name))
        # Spinning, ONNX Runtime's default: the case a shared pool is for.
        backend = OnnxRuntimeBackend(path, threads=threads, spin_wait=True)
        batch = random_batch(read_model_info(path).input_size, 1, backend.input_dtype)
        loaded.append((name, backend, batch))
    return loaded


def time_in_turn(loaded, rounds, calls):
    """
    Time the loaded models in strictly alternating blocks; return {name: p50 ms}.

    Not benchmark.measure_latency: its rotation runs one of two models twice in a row every
    other round, where among the tool's ten models each block follows another model.
    """
    samples = {name: [] for name, _, _ in loaded}
    for _ in range(rounds):
        for name, backend, batch in loaded:
            backend.infer(batch)
            for _ in range(calls):
                start = time.perf_counter()
                backend.infer(batch)
                samples[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(t)) for name, t in samples.items()}


def time_setup(setup, models, threads, rounds, calls):
    """In this process: load `models` as `setup` says and time them; {name: p50 ms}."""
    if setup in SETUPS[2:]:
        share_one_thread_pool(threads, shared=setup == SETUPS[2])
    if setup != SETUPS[0]:
        return time_in_turn(load(models, threads), rounds, calls)
    p50 = {}
    for name in models:
        (loaded,) = load([name], threads)
        p50.update(time_in_turn([loaded], rounds, calls))
        loaded[1].close()
    return p50


def main(argv=None):
    """Time each setup in a fresh process, alternating setups over the repeats; print p50s."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--models', nargs=2, default=['lite1', 'lite1_int8'])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument('--calls', type=int, default=10, help='timed calls per model and round')
    parser.add_argument('--repeats', type=int, default=3, help='fresh processes per setup')
    parser.add_argument('--setup', choices=SETUPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.setup:
        print(json.dumps(time_setup(args.setup, args.models, args.threads, args.rounds,
                                    args.calls)))
        return 0
    setups = SETUPS if GLOBAL_POOL else [s for s in SETUPS if s != SETUPS[2]]
    results = {setup: [] for setup in setups}
    for _ in range(args.repeats):
        for setup in setups:
            command = [sys.executable, '-m', 'benchmarks.thread_pools', '--setup', setup,
                       '--models', *args.models, '--threads', str(args.threads),
                       '--rounds', str(args.rounds), '--calls', str(args.calls)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results[setup].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f'p50 ms at batch 1, {args.threads} threads, median of {args.repeats} processes '
          f'of {args.rounds} rounds x {args.calls} calls per model\n')
    print('| setup | ' + ' | '.join(f'{name} ms | vs alone' for name in args.models) + ' |')
    print('|---|' + '---|---|' * len(args.models))
    p50 = {setup: {name: np.median([run[name] for run in runs]) for name in args.models}
           for setup, runs in results.items()}
    for setup, row in p50.items():
        cells = [f'{row[name]:.2f} | {row[name] / p50[SETUPS[0]][name]:.2f}x'
                 for name in args.models]
        print(f'| {setup} | {" | ".join(cells)} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
