"""
What exact int8 costs: each INT8 rung with and without `session.x64quantprecision`, in one run.

Without VNNI, x86 int8 kernels saturate and the backend asks ONNX Runtime for exact int8
(its uint8 x uint8 kernels); with VNNI it does not, as the products are exact already. This
times each INT8 rung both ways next to its FP32 twin, in interleaved rounds (batch 1), and
counts on the sample photos how often the two ways and FP32 give different top-1 answers.

    python -m benchmarks.exact_int8 [--models lite0_160 lite0 lite2] [--threads 2]
                                    [--dataset ../shared/datasets/imagenet-1k-sample]
"""

import argparse
import json
from pathlib import Path
import time

from benchmarks.ros_graph import REPO_ROOT
import numpy as np
import onnxruntime as ort

from jetson_classifier.cpu_features import has_vnni, int8_instructions
from jetson_classifier.inference.backends.onnxruntime_backend import (session_input_dtype,
                                                                      session_options)
from jetson_classifier.inference.classifier import load_model
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.preprocessing import preprocess_batch

WAYS = ('int8 exact', 'int8 as the CPU has it', 'fp32')
ROUNDS, WARMUP, CALLS = 5, 10, 40


def session(path, threads, exact):
    """Return a CPU session on `path`, setting the exact-int8 key where `exact`."""
    options = session_options(exact_int8_key=exact)
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def compare(model, photos, threads):
    """Return p50 ms and top-1 answers of `model`'s INT8 twin both ways and of `model`."""
    int8_path, info = load_model(f'{model}_int8')
    fp32_path, _ = load_model(model)
    sessions = dict(zip(WAYS, (session(int8_path, threads, True),
                               session(int8_path, threads, False),
                               session(fp32_path, threads, False))))
    chunks = [[read_rgb(p) for p in photos[i:i + 50]] for i in range(0, len(photos), 50)]
    dtypes = {way: session_input_dtype(s) for way, s in sessions.items()}
    batches = {dtype: [preprocess_batch(images, info, dtype) for images in chunks]
               for dtype in set(dtypes.values())}
    answers = {way: np.concatenate([s.run(None, {'input': b})[0].argmax(1)
                                    for b in batches[dtypes[way]]])
               for way, s in sessions.items()}
    times = {way: [] for way in WAYS}
    for _ in range(ROUNDS):
        for way, s in sessions.items():
            one = batches[dtypes[way]][0][:1]
            for _ in range(WARMUP):
                s.run(None, {'input': one})
            for _ in range(CALLS):
                start = time.perf_counter()
                s.run(None, {'input': one})
                times[way].append((time.perf_counter() - start) * 1000.0)
    p50 = {way: float(np.median(samples)) for way, samples in times.items()}
    return {'p50_ms': p50,
            'speed_up_exact': p50['fp32'] / p50['int8 exact'],
            'speed_up_as_the_cpu_has_it': p50['fp32'] / p50['int8 as the CPU has it'],
            'int8_ways_disagree': int((answers['int8 exact'] !=
                                       answers['int8 as the CPU has it']).sum()),
            'differ_from_fp32': int((answers['int8 exact'] != answers['fp32']).sum()),
            'photos': len(photos)}


def main(argv=None):
    """Compare the rungs, print a line each and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--models', nargs='+', default=['lite0_160', 'lite0', 'lite2'],
                        help='FP32 rungs; each is compared with its _int8 twin')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--dataset', type=Path,
                        default=REPO_ROOT.parent / 'shared' / 'datasets' / 'imagenet-1k-sample')
    parser.add_argument('--json', type=Path, default=Path('exact_int8.json'))
    args = parser.parse_args(argv)
    photos = sorted(p for p in args.dataset.iterdir() if p.suffix.lower() in ('.jpeg', '.jpg'))
    print(f'CPU int8 instructions: {", ".join(int8_instructions()) or "none"}; VNNI: '
          f'{has_vnni()}; ONNX Runtime {ort.__version__}, {args.threads} threads')
    results = {}
    for model in args.models:
        r = results[model] = compare(model, photos, args.threads)
        print(f"{model}: INT8 {r['speed_up_exact']:.2f}x FP32's speed with exact int8, "
              f"{r['speed_up_as_the_cpu_has_it']:.2f}x without; the two INT8 ways disagree on "
              f"{r['int8_ways_disagree']} of {r['photos']} photos, INT8 and FP32 on "
              f"{r['differ_from_fp32']}")
    args.json.write_text(json.dumps({'cpu_int8_instructions': int8_instructions(),
                                     'threads': args.threads, 'results': results},
                                    indent=2) + '\n')
    print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
