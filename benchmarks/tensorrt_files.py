"""
Top-1 of the files TensorRT builds from, run by ONNX Runtime on the CPU, beside the rungs.

For each rung: the FP32 file, the CPU INT8 twin (asymmetric uint8), the symmetric INT8
twin TensorRT builds `_int8` rungs from, and the FP16 copy TensorRT 11 builds FP16 from.
No GPU is needed; TensorRT's own kernels round differently, so this bounds what the file
itself costs, not what TensorRT will measure. Prints a markdown table.

    python -m benchmarks.tensorrt_files FOLDER [--rungs NAME ...]
"""

import argparse
from pathlib import Path
import sys
import tempfile

import numpy as np

from jetson_classifier.benchmark.labelled_images import find_labelled_images
from jetson_classifier.inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_classifier.inference.backends.tensorrt_models import (tensorrt_twin_path,
                                                                  write_fp16_twin)
from jetson_classifier.inference.classifier import load_model
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.preprocessing import INPUT_TYPES, preprocess_batch

LADDER = ('lite0_160', 'lite0_192', 'lite0', 'lite1', 'lite2')
BATCH_SIZE = 50


def top1(path, batches, truth, threads):
    """Return the top-1 accuracy of the ONNX file at `path` on `batches` {input dtype: list}."""
    backend = OnnxRuntimeBackend(path, threads=threads)
    answers = np.concatenate([backend.infer(batch).argmax(axis=1)
                              for batch in batches[backend.input_dtype]])
    backend.close()
    return float(np.mean(answers == truth))


def measure(rung, folder, threads, scratch):
    """Return {file kind: top-1} for one rung."""
    fp32_path, info = load_model(rung)
    int8_path, _ = load_model(f'{rung}_int8')
    photos = find_labelled_images(folder, synsets=info.synsets)
    truth = np.array([index for _, index in photos])
    chunks = ([read_rgb(path) for path, _ in photos[i:i + BATCH_SIZE]]
              for i in range(0, len(photos), BATCH_SIZE))
    batches = {dtype: [] for dtype in INPUT_TYPES}
    for images in chunks:
        for dtype, preprocessed in batches.items():
            preprocessed.append(preprocess_batch(images, info, dtype))
    fp16_path = Path(scratch) / f'{rung}-fp16.onnx'
    write_fp16_twin(fp32_path, fp16_path)
    files = {'fp32': fp32_path, 'cpu int8 (uint8, asymmetric)': int8_path,
             'tensorrt int8 (symmetric twin)': tensorrt_twin_path(int8_path),
             'fp16 copy (TensorRT 11)': fp16_path}
    return {kind: top1(path, batches, truth, threads) for kind, path in files.items()}, len(truth)


def main(argv=None):
    """Measure every rung and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('folder', help='photos named <synset>_<name>.JPEG, or an ImageFolder')
    parser.add_argument('--rungs', nargs='+', default=LADDER, help='FP32 catalog names')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for rung in args.rungs:
            accuracies, photos = measure(rung, args.folder, args.threads, scratch)
            rows.append((rung, accuracies))
            print(f'{rung}: {accuracies} on {photos} photos', file=sys.stderr)
    kinds = list(rows[0][1])
    print('| rung | ' + ' | '.join(kinds) + ' |')
    print('|---|' + '---|' * len(kinds))
    for rung, accuracies in rows:
        print(f'| {rung} | ' + ' | '.join(f'{accuracies[k]:.1%}' for k in kinds) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
