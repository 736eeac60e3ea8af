#!/usr/bin/env python3
"""
Check the TensorRT backend on this GPU against ONNX Runtime (CPU) in a few minutes.

Builds (or reuses) the engine of --model (default lite0 at FP16; lite0_int8 builds INT8
from its symmetric TensorRT twin), runs it and ONNX Runtime on the same ONNX file on 100
labelled sample photos one at a time, and prints build time, latency, top-1 accuracy and
agreement. INT8 from an FP32 model (TensorRT 10 only) calibrates on --calibration-dir,
by default the photos themselves. Exit status 0 when TensorRT agrees with ONNX Runtime on
at least --min-agreement of the photos. Needs prepared models, tensorrt and pycuda:

    python3 tools/gpu_check.py --images ~/imagenet-1k-sample
    python3 tools/gpu_check.py --model lite0_int8

--cuda-only checks the CUDA layer alone on any NVIDIA GPU with pycuda, no TensorRT: 20
times (a model switch each) it allocates pinned host and device buffers and a stream per
thread, copies patterns to the GPU and back from two threads at once, compares and frees
them; then it releases the GPU's context. It prints one JSON line; exit status 0 when every
copy came back intact and no context was left behind.
"""

import argparse
import ctypes
import json
import os
from pathlib import Path
import sys
import threading
import time

import numpy as np

# The package of the checkout this tool is in, before any installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jetson_classifier.errors import ClassifierError  # noqa: E402
from jetson_classifier.inference.backends.cuda_memory import (open_device,  # noqa: E402
                                                              release_devices)

SAMPLE_DIR = Path(os.environ.get(
    'JETSON_CLASSIFIER_SAMPLE_DIR',
    Path(__file__).resolve().parents[2] / 'shared' / 'datasets' / 'imagenet-1k-sample'))
WARMUP = 5
PRECISIONS = ('fp32', 'fp16', 'int8')


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--model', default='lite0', help='catalog name or ONNX path')
    parser.add_argument('--precision', choices=PRECISIONS, default=None,
                        help='engine precision (default: fp16; QDQ models always int8)')
    parser.add_argument('--images', type=Path, default=SAMPLE_DIR,
                        help='labelled photos: <synset>_<name>.JPEG files or class folders')
    parser.add_argument('--count', type=int, default=100, help='photos to run')
    parser.add_argument('--calibration-dir', type=Path, default=None,
                        help='photos for INT8 from an FP32 model (default: --images)')
    parser.add_argument('--cache-dir', default=None, help='TensorRT engine cache directory')
    parser.add_argument('--min-agreement', type=float, default=0.95,
                        help='fraction of photos whose top-1 must match ONNX Runtime')
    parser.add_argument('--cuda-only', action='store_true',
                        help='check pycuda buffers, streams and copies alone (no TensorRT)')
    parser.add_argument('--cycles', type=int, default=20, help='--cuda-only: open/close cycles')
    parser.add_argument('--megabytes', type=int, default=4, help='--cuda-only: bytes per copy')
    parser.add_argument('--rounds', type=int, default=25,
                        help='--cuda-only: round trips per thread and cycle')
    return parser.parse_args(argv)


class _Driver:
    """The CUDA driver's own view (libcuda via ctypes), to see what pycuda does not show."""

    def __init__(self):
        try:
            self._lib = ctypes.CDLL('libcuda.so.1')
        except OSError:
            self._lib = None

    def current_context(self):
        """Return the calling thread's current context handle (0: none), None without libcuda."""
        if self._lib is None:
            return None
        context = ctypes.c_void_p()
        self._lib.cuCtxGetCurrent(ctypes.byref(context))
        return context.value or 0

    def primary_context_active(self, index=0):
        """Tell whether GPU `index`'s primary context is retained; None without libcuda."""
        if self._lib is None:
            return None
        device, flags, active = ctypes.c_int(), ctypes.c_uint(), ctypes.c_int()
        self._lib.cuDeviceGet(ctypes.byref(device), index)
        self._lib.cuDevicePrimaryCtxGetState(device, ctypes.byref(flags), ctypes.byref(active))
        return bool(active.value)


def _round_trips(device, nbytes, rounds, seed):
    """Copy two alternating patterns to the GPU and back `rounds` times; return mismatches."""
    patterns = np.random.default_rng(seed).integers(0, 256, (2, nbytes), dtype=np.uint8)
    with device.activate():
        sent = device.pinned_array((nbytes,), np.uint8)
        received = device.pinned_array((nbytes,), np.uint8)
        buffer, stream = device.device_buffer(nbytes), device.stream()
        mismatches = 0
        for round_index in range(rounds):
            sent[:] = patterns[round_index % 2]
            device.copy_to_device_async(buffer, sent, stream)
            device.copy_to_host_async(received, buffer, stream)
            stream.synchronize()
            mismatches += int(np.count_nonzero(received != patterns[round_index % 2]))
        buffer.free()
        del sent, received, stream  # freed while the context is current
    return mismatches


def check_cuda(cycles, nbytes, rounds, threads=2):
    """Run the CUDA-only check; return its results as a dict."""
    driver = _Driver()
    results, stale = [], []
    start = time.perf_counter()
    for cycle in range(cycles):
        device = open_device(0)

        def work(seed, device=device):
            results.append(_round_trips(device, nbytes, rounds, seed))
            stale.append(driver.current_context())

        workers = [threading.Thread(target=work, args=(cycle * threads + i,))
                   for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        device.close()
    seconds = time.perf_counter() - start
    name = str(device)
    release_devices()
    copied = 2 * nbytes * rounds * threads * cycles
    left = None if None in stale else sum(1 for handle in stale if handle)
    retained = driver.primary_context_active()
    return {'check': 'cuda', 'device': name, 'cycles': cycles, 'threads': threads,
            'round_trips': rounds * threads * cycles, 'bytes_per_copy': nbytes,
            'mismatches': sum(results), 'seconds': round(seconds, 3),
            'gb_per_s': round(copied / seconds / 1e9, 2),
            'threads_left_with_a_context': left, 'context_retained_after_release': retained,
            'ok': len(results) == threads * cycles and sum(results) == 0 and not left
            and not retained}


def run(backend, batches):
    """Return the top-1 class and the latency (s) of each batch, after a short warm-up."""
    for batch in batches[:WARMUP]:
        backend.infer(batch)
    top1, seconds = [], []
    for batch in batches:
        start = time.perf_counter()
        scores = backend.infer(batch)
        seconds.append(time.perf_counter() - start)
        top1.append(int(np.argmax(scores[0])))
    return np.array(top1), seconds


def check_tensorrt(args):
    """Run the TensorRT check and print the table; returns the exit status."""
    from jetson_classifier.benchmark.labelled_images import find_labelled_images
    from jetson_classifier.benchmark.stats import latency_summary
    from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
    from jetson_classifier.inference.backends.tensorrt_backend import TensorRTBackend
    from jetson_classifier.inference.classifier import load_model
    from jetson_classifier.inference.image_files import read_rgb
    from jetson_classifier.inference.model_info import is_explicitly_quantized
    from jetson_classifier.inference.preprocessing import preprocess

    model_path, info = load_model(args.model)
    labelled = find_labelled_images(args.images, synsets=info.synsets, limit=args.count)
    truth = np.array([index for _, index in labelled])
    batches = [preprocess(read_rgb(path), info) for path, _ in labelled]
    print(f'{info.name}: {model_path}, {len(batches)} photos from {args.images}')
    calibration = None
    if args.precision == 'int8' and not is_explicitly_quantized(model_path.read_bytes()):
        calibration = args.calibration_dir or args.images
        print(f'calibrating INT8 on the photos in {calibration}')

    start = time.perf_counter()
    tensorrt = TensorRTBackend(model_path, precision=args.precision, cache_dir=args.cache_dir,
                               calibration_images=calibration, progress=print)
    ready_s = time.perf_counter() - start
    cpu = OnnxRuntimeBackend(tensorrt.source_path, providers=['CPUExecutionProvider'])
    rows = []
    reference = None
    for backend in (cpu, tensorrt):
        top1, seconds = run(backend, batches)
        reference = top1 if reference is None else reference
        latency = latency_summary(seconds)
        rows.append((backend.name, backend.device, backend.precision, latency['p50'],
                     latency['p90'], np.mean(top1 == truth), np.mean(top1 == reference)))
        backend.close()

    engine = 'built' if tensorrt.built else 'reused'
    print(f'TensorRT engine {engine} in {ready_s:.1f} s from {tensorrt.source_path.name}: '
          f'{tensorrt.engine_path}')
    print(f'{"backend":<12} {"device":<28} {"prec":<5} {"p50 ms":>8} {"p90 ms":>8} '
          f'{"top-1":>6} {"agree":>6}')
    for name, device, precision, p50, p90, accuracy, agreement in rows:
        print(f'{name:<12} {device:<28} {precision:<5} {p50:8.2f} {p90:8.2f} '
              f'{accuracy:6.1%} {agreement:6.1%}')
    agreement = rows[-1][-1]
    if agreement < args.min_agreement:
        print(f'FAIL: TensorRT agrees with ONNX Runtime on {agreement:.1%} of photos, '
              f'below {args.min_agreement:.0%}')
        return 1
    print('OK')
    return 0


def main(argv=None):
    """Run the check asked for; one line on stderr and status 1 where it cannot run."""
    args = parse_args(argv)
    try:
        if not args.cuda_only:
            return check_tensorrt(args)
        results = check_cuda(args.cycles, args.megabytes << 20, args.rounds)
    except ClassifierError as error:
        print(f'gpu_check: {error}', file=sys.stderr)
        return 1
    print(json.dumps(results))
    return 0 if results['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
