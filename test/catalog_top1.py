"""
The top-1 label of every catalog model on the test photos, to compare two software stacks.

Each answer comes with the runner-up and the margin between their probabilities. Stacks may
differ in a pixel (OpenCV 4.5.4's resize and 5.0's round some pixels one level apart),
and where an INT8 model's quantized logits put the two best classes one step apart or level,
that is enough to swap them.

The JetPack 6 floor lane (make test-floor) writes them with the development stack and
test_floor_stack.py checks the floor stack against them, on the same model files:
    python test/catalog_top1.py --write FILE
The photos: scikit-image's six, and the first 100 of the ImageNet sample set where present.
"""

import argparse
import json
import os
from pathlib import Path
import sys

from jetson_classifier.commands.prepare_models import sample_photos
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.inference.image_files import read_rgb

SAMPLE_DIR = Path(os.environ.get(
    'JETSON_CLASSIFIER_SAMPLE_DIR',
    Path(__file__).resolve().parents[2] / 'shared' / 'datasets' / 'imagenet-1k-sample'))
SAMPLE_COUNT = 100


def comparison_photos():
    """Return {name: RGB image}: scikit-image's photos, then the first sample photos."""
    photos = dict(sample_photos())
    for path in sorted(SAMPLE_DIR.glob('*.JPEG'))[:SAMPLE_COUNT]:
        photos[path.name] = read_rgb(path)
    return photos


def catalog_top1(catalog=None, photos=None):
    """Return {model: {photo: [top-1 label, runner-up, margin]}} for every model with a file."""
    catalog = catalog or Catalog.load()
    photos = photos or comparison_photos()
    answers = {}
    for name, entry in catalog.entries.items():
        if not catalog.path_of(entry).is_file():
            continue
        classifier = Classifier(name, backend='onnxruntime', catalog=catalog, threads=2)
        try:
            best_two = classifier.classify_batch(list(photos.values()), top_k=2)
        finally:
            classifier.close()
        answers[name] = {photo: [first.label, second.label, first.score - second.score]
                         for photo, (first, second) in zip(photos, best_two)}
    return answers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--write', required=True, help='JSON file to write')
    args = parser.parse_args(argv)
    answers = catalog_top1()
    Path(args.write).write_text(json.dumps(answers, indent=1) + '\n')
    print(f'wrote {args.write}: {len(answers)} models x {len(next(iter(answers.values())))} '
          'photos')
    return 0


if __name__ == '__main__':
    sys.exit(main())
