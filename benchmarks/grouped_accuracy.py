"""
Fine top-1 vs grouped top-1 (config/groups/imagenet_coarse.yaml) for every rung, on real photos.

Also the dog group alone: the right breed among dog photos, versus 'dog' as the answer.
Prints a markdown table for the README.

    python -m benchmarks.grouped_accuracy FOLDER [--groups FILE] [--models NAME ...]
"""

import argparse
from pathlib import Path
import sys
import time

import numpy as np

from jetson_classifier.benchmark.labelled_images import find_labelled_images
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.classifier import Classifier

REPO_ROOT = Path(__file__).resolve().parents[1]
LADDER = ('lite0_160', 'lite0_192', 'lite0', 'lite1', 'lite2')
MODELS = tuple(name for rung in LADDER for name in (rung, f'{rung}_int8'))
BATCH_SIZE = 50


def measure(name, folder, spec, focus, threads):
    """Return fine and grouped top-1 over all photos and over photos of the `focus` group."""
    classifier = Classifier(name, backend='onnxruntime', threads=threads)
    grouping = spec.bind(classifier.info.labels, classifier.info.synsets)
    photos = find_labelled_images(folder, synsets=classifier.info.synsets)
    truth = np.array([index for _, index in photos])
    probs = np.concatenate([
        classifier.probabilities([path for path, _ in photos[start:start + BATCH_SIZE]])
        for start in range(0, len(photos), BATCH_SIZE)])
    classifier.close()
    true_group = np.array([grouping.group_of(index) for index in truth])
    fine = probs.argmax(axis=1) == truth
    grouped = grouping.apply(probs).argmax(axis=1) == true_group
    in_focus = true_group == grouping.labels.index(focus)
    return {'fine': fine.mean(), 'grouped': grouped.mean(), 'photos': len(photos),
            'focus_fine': fine[in_focus].mean(), 'focus_grouped': grouped[in_focus].mean(),
            'focus_photos': int(in_focus.sum()), 'groups': len(grouping.labels)}


def main(argv=None):
    """Measure every model and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('folder', help='photos named <synset>_<name>.JPEG, or an ImageFolder')
    parser.add_argument('--groups', default=REPO_ROOT / 'config' / 'groups' /
                        'imagenet_coarse.yaml', help='class group file (default: %(default)s)')
    parser.add_argument('--focus', default='dog', help='one group to report alone')
    parser.add_argument('--models', nargs='+', default=MODELS, help='catalog names')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    spec = load_class_groups(args.groups)
    rows = []
    for name in args.models:
        start = time.perf_counter()
        rows.append((name, measure(name, args.folder, spec, args.focus, args.threads)))
        print(f'{name}: {time.perf_counter() - start:.0f} s', file=sys.stderr)
    first = rows[0][1]
    print(f'{first["photos"]} photos, {first["groups"]} groups ({spec.name}, unlisted classes '
          f'in "other"); {first["focus_photos"]} {args.focus} photos\n')
    print(f'| model | fine top-1 | grouped top-1 | {args.focus} photos: fine top-1 '
          f'| {args.focus} photos: grouped top-1 |')
    print('|---|---|---|---|---|')
    for name, r in rows:
        print(f'| {name} | {r["fine"]:.1%} | {r["grouped"]:.1%} | {r["focus_fine"]:.1%} '
              f'| {r["focus_grouped"]:.1%} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
