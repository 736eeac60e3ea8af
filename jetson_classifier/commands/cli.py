"""The `jetson-classifier` command: classify image files and folders from a shell."""

import argparse
import sys

from jetson_classifier.benchmark import command as benchmark
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import BACKEND_NAMES
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.inference.image_files import find_images


def classify(args):
    """Print the top-k labels with scores and the inference time for each image."""
    classifier = Classifier(args.model, backend=args.backend, catalog=args.catalog,
                            model_dir=args.model_dir, threads=args.threads)
    backend = classifier.backend
    print(f'{classifier.name}: {backend.name} on {backend.device}, {backend.precision}, '
          f'input {classifier.info.input_size}px')
    failures = 0
    for path in find_images(args.paths):
        try:
            predictions = classifier.classify(path, top_k=args.top_k)
        except ClassifierError as error:
            print(f'{path}: {error}', file=sys.stderr)
            failures += 1
            continue
        print(f'{path}  ({classifier.last_inference_ms:.1f} ms)')
        for prediction in predictions:
            print(f'  {prediction.score:6.1%}  {prediction.label}')
    return 1 if failures else 0


def build_parser():
    """Return the argument parser with one subcommand per job."""
    parser = argparse.ArgumentParser(prog='jetson-classifier')
    commands = parser.add_subparsers(dest='command', required=True)
    run = commands.add_parser('classify', help='classify image files and folders')
    run.add_argument('paths', nargs='+', help='image files or folders')
    run.add_argument('--model', default='lite0_int8', help='catalog name or ONNX path')
    run.add_argument('--backend', default='auto', choices=BACKEND_NAMES)
    run.add_argument('--top-k', type=int, default=5)
    run.add_argument('--threads', type=int, default=None, help='CPU threads (default: all)')
    run.add_argument('--catalog', help='model catalog YAML (default: the shipped one)')
    run.add_argument('--model-dir', help='model directory (default: the user cache)')
    run.set_defaults(handler=classify)
    bench = commands.add_parser('benchmark', help='measure the models, write profile and chart')
    benchmark.add_arguments(bench).set_defaults(handler=benchmark.run)
    return parser


def main(argv=None):
    """Run one subcommand; errors are printed, not raised."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ClassifierError as error:
        print(f'jetson-classifier: {error}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
