"""
Custom classes: a new classification head on a frozen EfficientNet-Lite backbone.

`finetune --data FOLDER --base lite0 --name my_parts` reads an ImageFolder (one subfolder
per class), sets a stratified held-out split aside, computes the base's pooled features
once per image and its mirror image, fits a softmax-regression head with an L2 penalty,
reports held-out accuracy, and saves backbone + head as one ONNX model in the user's catalog.
"""

import argparse
import dataclasses
from pathlib import Path
import re
import sys
import time

import numpy as np
import onnx

from jetson_classifier.commands.prepare_models import (export_network, lite_model_info,
                                                       lite_network, prepare)
from jetson_classifier.errors import CatalogError, ClassifierError, ImageError, ModelLoadError
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.image_files import find_images, read_rgb
from jetson_classifier.inference.model_info import load_onnx
from jetson_classifier.inference.preprocessing import preprocess_batch

BATCH_SIZE = 16
_MODEL_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """The model finetune made and its answers on the images it did not train on."""

    name: str
    path: Path
    classes: tuple
    held_out: tuple  # (image path, class index) pairs kept out of training
    predicted: tuple  # the new head's class index for each held-out image

    @property
    def accuracy(self):
        """Return held-out top-1 accuracy, or None without a held-out split."""
        if not self.held_out:
            return None
        return float(np.mean([c == p for (_, c), p in zip(self.held_out, self.predicted)]))

    def per_class(self):
        """Return {class name: (held-out images right, held-out images)}."""
        counts = {name: [0, 0] for name in self.classes}
        for (_, truth), guess in zip(self.held_out, self.predicted):
            counts[self.classes[truth]][0] += int(truth == guess)
            counts[self.classes[truth]][1] += 1
        return {name: tuple(count) for name, count in counts.items()}


def read_image_folder(folder):
    """Return (class names, image paths, class indices) of a folder of class subfolders."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f'image folder {folder} does not exist or is not a folder')
    classes = sorted(p.name for p in folder.iterdir()
                     if p.is_dir() and not p.name.startswith('.'))
    if len(classes) < 2:
        raise ImageError(f'image folder {folder} needs one subfolder per class and at least '
                         f'two classes; found {classes}')
    paths, targets = [], []
    for index, name in enumerate(classes):
        images = find_images([folder / name])
        if not images:
            raise ImageError(f'class folder {folder / name} holds no images')
        paths += images
        targets += [index] * len(images)
    return tuple(classes), paths, np.array(targets)


def split_holdout(targets, classes, holdout):
    """
    Split image indices into (train, held out) the same way on every run.

    Each class sets round(n * holdout) of its images aside (at least one when holdout > 0),
    picked by a shuffle seeded with the class index, and keeps at least one for training.
    """
    if not 0 <= holdout < 1:
        raise ClassifierError(f'holdout must be at least 0 and below 1, got {holdout}')
    train, held_out = [], []
    for index, name in enumerate(classes):
        members = np.random.default_rng(index).permutation(np.flatnonzero(targets == index))
        count = max(1, round(len(members) * holdout)) if holdout > 0 else 0
        if count >= len(members):
            raise ImageError(f'class {name!r} has {len(members)} image(s): too few to hold '
                             f'{holdout:.0%} out and still train on one')
        held_out += members[:count].tolist()
        train += members[count:].tolist()
    return np.sort(train), np.sort(held_out)


def feature_session(path):
    """
    Open an ONNX classifier in ONNX Runtime so that it also answers its pooled features.

    The features are the input of the Gemm that makes the logits. Return (session, name of
    the features output). ONNX Runtime runs the backbone ~10x faster than torch eager here.
    """
    import onnxruntime as ort

    from jetson_classifier.inference.backends.onnxruntime_backend import session_options
    model = load_onnx(path)
    logits = model.graph.output[0].name
    head = next((node for node in model.graph.node if logits in node.output), None)
    if head is None or head.op_type != 'Gemm':
        raise ModelLoadError(f'{path}: output {logits!r} is not made by a Gemm (fully '
                             'connected) node, so there are no pooled features to take')
    features = head.input[0]
    model.graph.output.append(onnx.ValueInfoProto(name=features))
    session = ort.InferenceSession(model.SerializeToString(), session_options(),
                                   providers=['CPUExecutionProvider'])
    return session, features


def backbone_features(session, output, paths, info):
    """Return (N, D) pooled features of the images and (N, D) of their mirror images."""
    plain, mirrored = [], []
    for start in range(0, len(paths), BATCH_SIZE):
        images = [read_rgb(path) for path in paths[start:start + BATCH_SIZE]]
        batch = preprocess_batch(images, info)
        both = session.run([output], {'input': np.concatenate([batch, batch[..., ::-1]])})[0]
        plain.append(both[:len(images)])
        mirrored.append(both[len(images):])
    return np.concatenate(plain), np.concatenate(mirrored)


def train_head(features, targets, num_classes, epochs, weight_decay):
    """
    Fit softmax regression with an L2 penalty by full-batch L-BFGS; return (weight, bias).

    The fit runs on standardised features; the scaling is folded back into the returned
    weights, so the head takes raw backbone features.
    """
    import torch
    x = torch.from_numpy(np.asarray(features, np.float32))
    y = torch.from_numpy(np.asarray(targets, np.int64))
    mean, scale = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / scale
    weight = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=epochs, history_size=20,
                                  line_search_fn='strong_wolfe')

    def loss():
        optimizer.zero_grad()
        value = (torch.nn.functional.cross_entropy(x @ weight.T + bias, y)
                 + 0.5 * weight_decay * weight.square().sum())
        value.backward()
        return value

    optimizer.step(loss)
    with torch.no_grad():
        raw_weight = weight / scale
        return raw_weight.numpy(), (bias - raw_weight @ mean).numpy()


def _network_with_head(base_entry, weight, bias):
    """Return the base's torch backbone ending in the new head: the model to export."""
    import torch
    backbone = lite_network(base_entry.export['arch'], base_entry.export['input_size'])
    backbone._fc = torch.nn.Identity()  # forward() then ends at the pooled features
    head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weight))
        head.bias.copy_(torch.from_numpy(bias))
    return torch.nn.Sequential(backbone, head).eval()


def _check_names(catalog, base, name):
    if not _MODEL_NAME.fullmatch(name):
        raise CatalogError(f'model name {name!r}: use letters, digits, "_", "-" and "."')
    if name in catalog.entries and catalog.entries[name].base is None:
        raise CatalogError(f'model name {name!r} is taken by a model finetune did not make '
                           f'(catalog {catalog.source}); choose another name')
    path = catalog.model_dir / f'{name}.onnx'
    owners = [n for n, e in catalog.entries.items() if n != name and catalog.path_of(e) == path]
    if owners:
        raise CatalogError(f'model name {name!r} would overwrite {path}, the file of '
                           f'{owners[0]!r}; choose another name')
    entry = catalog.entry(base)
    if not entry.export:
        rungs = [n for n, e in catalog.entries.items() if e.export]
        raise CatalogError(f'base model {base!r} has no torch weights to fine-tune; '
                           f'choose one of {", ".join(rungs)}')
    return entry, path


def finetune(data, base, name, catalog, epochs=100, holdout=0.2, weight_decay=1e-2,
             log=print):
    """Train a head for the classes in `data` on `base`'s backbone; save it in the catalog."""
    base_entry, path = _check_names(catalog, base, name)
    classes, paths, targets = read_image_folder(data)
    train, held_out = split_holdout(targets, classes, holdout)
    log(f'{len(classes)} classes ({", ".join(classes)}), {len(paths)} images: '
        f'{len(train)} to train on, {len(held_out)} held out')
    prepare(catalog, [base], log=log)
    info = lite_model_info(base_entry)
    session, output = feature_session(catalog.path_of(base_entry))
    start = time.perf_counter()
    plain, mirrored = backbone_features(session, output, paths, info)
    log(f'features: {len(paths)} images and their mirror images through {base} in '
        f'{time.perf_counter() - start:.1f} s')
    start = time.perf_counter()
    weight, bias = train_head(np.concatenate([plain[train], mirrored[train]]),
                              np.concatenate([targets[train], targets[train]]),
                              len(classes), epochs, weight_decay)
    train_accuracy = np.mean((plain[train] @ weight.T + bias).argmax(1) == targets[train])
    log(f'head: {weight.shape[1]} features -> {len(classes)} classes in '
        f'{time.perf_counter() - start:.1f} s; training top-1 {train_accuracy:.1%}')
    predicted = (plain[held_out] @ weight.T + bias).argmax(1)
    result = FinetuneResult(name, path, classes,
                            tuple((paths[i], int(targets[i])) for i in held_out),
                            tuple(predicted.tolist()))
    _log_accuracy(result, log)
    start = time.perf_counter()
    info = dataclasses.replace(info, labels=classes, synsets=(), name=name,
                               published_top1=None)
    export_network(_network_with_head(base_entry, weight, bias), info, path, log)
    log(f'export: {time.perf_counter() - start:.1f} s')
    catalog.save_user_entry(name, {'file': result.path.name, 'precision': 'fp32', 'base': base,
                                   'notes': _notes(result, data, base, len(train))})
    log(f'catalog: {name} added to {catalog.user_catalog_path}')
    return result


def _log_accuracy(result, log):
    if result.accuracy is None:
        log('held-out top-1: no held-out split (--holdout 0)')
        return
    right = sum(right for right, _ in result.per_class().values())
    log(f'held-out top-1: {result.accuracy:.1%} ({right}/{len(result.held_out)})')
    for label, (right, total) in result.per_class().items():
        log(f'  {label}: {right}/{total}')


def _notes(result, data, base, train_count):
    accuracy = ('no held-out split' if result.accuracy is None else
                f'held-out top-1 {result.accuracy:.1%} on {len(result.held_out)} images')
    return (f'Fine-tuned head on {base}: {len(result.classes)} classes from '
            f'{Path(data).resolve()}, {train_count} training images; {accuracy}.')


def main(argv=None):
    """Command line: finetune --data FOLDER --base lite0 --name NAME [options]."""
    parser = argparse.ArgumentParser(prog='finetune', description=__doc__.split('\n')[1])
    parser.add_argument('--data', required=True, help='folder with one subfolder per class')
    parser.add_argument('--base', default='lite0', help='catalog model whose backbone to use '
                        '(an FP32 rung: lite0_160, lite0_192, lite0, lite1, lite2)')
    parser.add_argument('--name', required=True, help='catalog name of the new model')
    parser.add_argument('--epochs', type=int, default=100,
                        help='L-BFGS iterations over all training features (default: 100)')
    parser.add_argument('--holdout', type=float, default=0.2,
                        help='share of each class held out to measure accuracy (default: 0.2)')
    parser.add_argument('--weight-decay', type=float, default=1e-2,
                        help='L2 penalty on the head (default: 0.01)')
    parser.add_argument('--model-dir', help='model directory (default: the user cache)')
    parser.add_argument('--catalog', help='catalog YAML (default: the shipped one)')
    args = parser.parse_args(argv)
    try:
        catalog = Catalog.load(args.catalog, args.model_dir)
        finetune(args.data, args.base, args.name, catalog, args.epochs, args.holdout,
                 args.weight_decay)
    except ClassifierError as error:
        print(f'finetune: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
