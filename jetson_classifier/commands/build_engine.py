"""
`build_engine`: build (or confirm) the cached TensorRT engine for a model ahead of time.

Building takes minutes on a Jetson; running this once after installing a model means
the classifier node starts in seconds. Prints the engine file and whether it was reused.
"""

import argparse
import sys

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends.engine_cache import CACHE_DIR_ENV
from jetson_classifier.inference.backends.tensorrt_backend import PRECISIONS, TensorRTBackend
from jetson_classifier.inference.catalog import Catalog


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog='build_engine', description=__doc__.strip())
    parser.add_argument('--model', required=True,
                        help='catalog name (e.g. lite0, lite0_int8) or path to an ONNX file')
    parser.add_argument('--precision', choices=PRECISIONS, default=None,
                        help='engine precision (default: fp16); QDQ-quantized models such as '
                             'lite0_int8 always build as int8')
    parser.add_argument('--cache-dir', default=None,
                        help=f'engine cache directory (default: ${CACHE_DIR_ENV} or '
                             '~/.cache/jetson_classifier/engines)')
    parser.add_argument('--calibration-dir', default=None,
                        help='folder of sample images for int8 from an FP32 model '
                             '(TensorRT 10 only)')
    parser.add_argument('--max-batch', type=int, default=1,
                        help='largest batch the engine accepts (needs a dynamic batch axis)')
    parser.add_argument('--workspace-mb', type=int, default=1024,
                        help='TensorRT builder workspace limit in MiB')
    parser.add_argument('--model-dir', default=None,
                        help='where catalog models live (default: the catalog default)')
    return parser.parse_args(argv)


def main(argv=None):
    """Build or reuse the engine; exit status 1 with the reason on failure."""
    args = parse_args(argv)
    try:
        model_path, _ = Catalog.load(model_dir=args.model_dir).resolve(args.model)
        backend = TensorRTBackend(
            model_path, precision=args.precision, cache_dir=args.cache_dir,
            max_batch=args.max_batch, workspace_mb=args.workspace_mb,
            calibration_images=args.calibration_dir, progress=print)
    except ClassifierError as error:
        print(f'build_engine: {error}', file=sys.stderr)
        return 1
    state = 'built' if backend.built else 'reused'
    source = '' if backend.source_path == model_path else f' (from {backend.source_path.name})'
    print(f'{state} {backend.precision} engine for {model_path}{source} on {backend.device}: '
          f'{backend.engine_path}')
    backend.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
