#!/usr/bin/env python3
"""
Check the TensorRT backend on this GPU against ONNX Runtime (CPU) in a few minutes.

Builds (or reuses) the lite0 FP16 engine, runs both backends on 100 labelled sample
photos one at a time, and prints build time, latency, top-1 accuracy and agreement.
Exit status 0 when TensorRT agrees with ONNX Runtime on at least --min-agreement of
the photos. Needs the package, prepared models (`prepare_models`), tensorrt and pycuda:

    python3 tools/gpu_check.py --images ~/imagenet-1k-sample
"""

import argparse
import os
from pathlib import Path
import sys
import time

import numpy as np

from jetson_classifier.benchmark.labelled_images import find_labelled_images
from jetson_classifier.benchmark.stats import latency_summary
from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_classifier.inference.backends.tensorrt_backend import PRECISIONS, TensorRTBackend
from jetson_classifier.inference.classifier import load_model
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.preprocessing import preprocess

SAMPLE_DIR = Path(os.environ.get(
    'JETSON_CLASSIFIER_SAMPLE_DIR',
    Path(__file__).resolve().parents[2] / 'shared' / 'datasets' / 'imagenet-1k-sample'))
WARMUP = 5


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--model', default='lite0', help='catalog name or ONNX path')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp16')
    parser.add_argument('--images', type=Path, default=SAMPLE_DIR,
                        help='labelled photos: <synset>_<name>.JPEG files or class folders')
    parser.add_argument('--count', type=int, default=100, help='photos to run')
    parser.add_argument('--cache-dir', default=None, help='TensorRT engine cache directory')
    parser.add_argument('--min-agreement', type=float, default=0.95,
                        help='fraction of photos whose top-1 must match ONNX Runtime')
    return parser.parse_args(argv)


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


def main(argv=None):
    """Run the check and print the table; returns the exit status."""
    args = parse_args(argv)
    model_path, info = load_model(args.model)
    labelled = find_labelled_images(args.images, synsets=info.synsets, limit=args.count)
    truth = np.array([index for _, index in labelled])
    batches = [preprocess(read_rgb(path), info) for path, _ in labelled]
    print(f'{info.name}: {model_path}, {len(batches)} photos from {args.images}')

    start = time.perf_counter()
    tensorrt = TensorRTBackend(model_path, precision=args.precision, cache_dir=args.cache_dir,
                               progress=print)
    ready_s = time.perf_counter() - start
    cpu = OnnxRuntimeBackend(model_path, providers=['CPUExecutionProvider'])
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
    print(f'TensorRT engine {engine} in {ready_s:.1f} s: {tensorrt.engine_path}')
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


if __name__ == '__main__':
    sys.exit(main())
