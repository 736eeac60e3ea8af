"""
What the benchmark measures in this process: the models loaded, their latency and accuracy.

Latency is the backend call alone (network time: no decoding or preprocessing), timed in
interleaved rounds, each model in turn with the order rotated every round, so that a load
spike on a shared machine hits every model alike. Accuracy decodes each image once and
preprocesses it once per distinct preprocessing, shared by all models that use it.
"""

import collections
import dataclasses
import math
from pathlib import Path
import time

import numpy as np

from jetson_classifier.benchmark import stats
from jetson_classifier.benchmark.labelled_images import find_labelled_images
from jetson_classifier.benchmark.operation_count import count_macs, count_parameters
from jetson_classifier.errors import BackendUnavailableError, ClassifierError, ImageError
from jetson_classifier.inference import postprocessing
from jetson_classifier.inference.backends import create_backend
from jetson_classifier.inference.classifier import load_model
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.model_info import load_onnx
from jetson_classifier.inference.preprocessing import preprocess_batch


@dataclasses.dataclass
class Variant:
    """One model loaded on one backend at one precision: one row of the profile."""

    name: str
    model: str
    path: Path
    info: object
    backend: object
    kind: str
    precision_request: str
    batches: list
    int8_of: str = None


def select_models(catalog, names, log):
    """Return the names to measure: `names` as given, or every catalog model whose file exists."""
    if names:
        for name in names:
            catalog.entry(name)
        return list(names)
    present = [n for n in catalog.names if catalog.path_of(catalog.entry(n)).is_file()]
    for name in sorted(set(catalog.names) - set(present)):
        log(f'skipping {name}: {catalog.path_of(catalog.entry(name))} does not exist '
            '(run prepare_models)')
    if not present:
        raise ClassifierError(f'no model file of catalog {catalog.source} exists in '
                              f'{catalog.model_dir}: run prepare_models first')
    return present


def load_variants(catalog, models, backends, precisions, batches, threads, cache_dir, log):
    """Load each model on each available backend at each precision it really runs, once each."""
    loaded, seen, unavailable = [], set(), set()
    for model in models:
        path, info = load_model(model, catalog)
        entry = catalog.entries.get(model)
        for kind in backends:
            for request in precisions or [None]:
                if kind in unavailable:
                    continue
                try:
                    backend = create_backend(kind, path, threads=threads, precision=request,
                                             cache_dir=cache_dir)
                except BackendUnavailableError as error:
                    log(f'backend {kind} skipped: {error}')
                    unavailable.add(kind)
                    continue
                key = (model, backend.name, backend.device, backend.precision)
                if key in seen:
                    backend.close()
                    continue
                seen.add(key)
                allowed = [b for b in batches if backend.max_batch is None
                           or b <= backend.max_batch]
                loaded.append(Variant(model, model, path, info, backend, kind, request, allowed,
                                      entry.int8_of if entry else None))
    if not loaded:
        raise ClassifierError(f'no backend of {", ".join(backends)} could run any model')
    counts = collections.Counter(v.model for v in loaded)
    for v in loaded:
        if counts[v.model] > 1:
            v.name = f'{v.model}:{v.backend.name}:{v.backend.precision}'
    return loaded


def random_batch(size, batch, dtype):
    """Return a reproducible random NCHW batch of `dtype`: pixels for uint8, else normalised."""
    rng = np.random.default_rng(size * 1000 + batch)
    shape = (batch, 3, size, size)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape, np.uint8)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def _input(variant, batch):
    return random_batch(variant.info.input_size, batch, variant.backend.input_dtype)


def timed_calls(runs, rounds, batch):
    """Return timed calls per round at `batch`: `runs` in all at batch 1, runs / batch else."""
    return max(1, math.ceil(runs / (rounds * batch)))


def measure_latency(variants, rounds, runs, warmup, progress):
    """
    Time backend calls in interleaved rounds; return {name: {batch: [seconds, ...]}}.

    Each block of timed calls follows untimed calls worth `warmup` images (at batch b,
    warmup / b calls, rounded up): after another model ran, a model's first calls are
    slower (lite0_160_int8 at 2 threads: 1.75x for the first, 1.15x for the third, 1.08x
    for the fifth; flat after ten), a cost a robot running one model does not pay.
    """
    inputs = {(v.name, b): _input(v, b) for v in variants for b in v.batches}
    samples = {v.name: {b: [] for b in v.batches} for v in variants}
    for round_index in range(rounds):
        shift = round_index % len(variants)
        for v in variants[shift:] + variants[:shift]:
            for b in v.batches:
                batch = inputs[v.name, b]
                for _ in range(math.ceil(warmup / b)):
                    v.backend.infer(batch)
                for _ in range(timed_calls(runs, rounds, b)):
                    start = time.perf_counter()
                    v.backend.infer(batch)
                    samples[v.name][b].append(time.perf_counter() - start)
            progress.advance()
    return samples


def labelled_dataset(dataset, variants, limit, log):
    """
    Find the labelled images and each variant's true class per image.

    Returns (paths, {name: class index array}); a model whose classes do not match the
    dataset's folders or file names is left out with a note. `limit` images are spread
    evenly over the sorted list.
    """
    if not Path(dataset).is_dir():
        raise ImageError(f'dataset folder {dataset} does not exist or is not a folder')
    found, paths, truths = {}, None, {}
    for v in variants:
        key = (v.info.synsets, v.info.labels)
        if key not in found:
            try:
                found[key] = find_labelled_images(dataset, synsets=v.info.synsets or None,
                                                  labels=v.info.labels)
            except ImageError as error:
                found[key] = error
        if isinstance(found[key], ImageError):
            log(f'{v.name}: accuracy not measured: {found[key]}')
            continue
        pairs = found[key]
        if limit is not None:
            pairs = pairs[::max(1, len(pairs) // max(limit, 1))][:limit]
        if paths is None:
            paths = [p for p, _ in pairs]
        truths[v.name] = np.array([c for _, c in pairs], dtype=np.int64)
    return paths or [], truths


def _infer(backend, batch):
    """Run a batch, split where the backend takes fewer images per call."""
    step = backend.max_batch or len(batch)
    return np.concatenate([backend.infer(batch[i:i + step]) for i in range(0, len(batch), step)])


def _preprocessing_key(variant):
    info = variant.info
    return (info.input_size, info.crop_fraction, tuple(info.mean), tuple(info.std),
            info.color_order, variant.backend.input_dtype)


def measure_accuracy(variants, paths, truths, group_spec, chunk, progress):
    """
    Count top-1/top-5 (and grouped top-1) over the images, `chunk` images per batch.

    Each image is decoded once and preprocessed once per distinct preprocessing.
    Returns {name: {'top1', 'top5', 'grouped_top1'}} for the variants that have truths.
    """
    scored = [v for v in variants if v.name in truths]
    by_preprocessing = {}
    for v in scored:
        by_preprocessing.setdefault(_preprocessing_key(v), []).append(v)
    counters = {v.name: stats.TopKCounter((1, 5)) for v in scored}
    groupings = {v.name: group_spec.bind(v.info.labels, v.info.synsets or None)
                 for v in scored} if group_spec else {}
    grouped = {name: stats.GroupedCounter(g.group_of) for name, g in groupings.items()}
    for start in range(0, len(paths), chunk):
        images = [read_rgb(p) for p in paths[start:start + chunk]]
        for members in by_preprocessing.values():
            batch = preprocess_batch(images, members[0].info,
                                     members[0].backend.input_dtype)
            for v in members:
                probs = postprocessing.softmax(_infer(v.backend, batch))
                truth = truths[v.name][start:start + len(images)]
                counters[v.name].update(probs, truth)
                if v.name in grouped:
                    grouped[v.name].update(groupings[v.name].apply(probs), truth)
        progress.advance(len(images))
    return {name: {'top1': c.accuracy(1), 'top5': c.accuracy(5),
                   'grouped_top1': grouped[name].accuracy if name in grouped else None}
            for name, c in counters.items()}


def _operation_counts(variant, log):
    """Return MACs and parameters from the model's metadata, else counted from its ONNX graph."""
    macs, params = variant.info.macs, variant.info.params
    if macs is None or params is None:
        graph = load_onnx(variant.path)
        try:
            macs = count_macs(graph) if macs is None else macs
        except (KeyError, IndexError) as error:
            log(f'{variant.name}: cannot count MACs in {variant.path}: no shape for {error}')
        params = count_parameters(graph) if params is None else params
    return macs, params


def model_entry(variant, latency, accuracy, peak_rss_mb, paced, log):
    """Assemble one profile row from the measurements of `variant`; `paced` may be []."""
    summary = stats.latency_summary(latency[1])
    throughput = {str(b): b * len(s) / sum(s) for b, s in latency.items()}
    macs, params = _operation_counts(variant, log)
    accuracy = accuracy or {'top1': None, 'top5': None, 'grouped_top1': None}
    return {'name': variant.name, 'backend': variant.backend.name,
            'precision': variant.backend.precision, 'device': variant.backend.device,
            'input_size': variant.info.input_size, 'macs': macs, 'params': params,
            'file_bytes': variant.path.stat().st_size, 'batch': 1, 'latency_ms': summary,
            'fps': stats.fps_from_latency(summary['p50']),
            'throughput_fps': throughput, **accuracy, 'peak_rss_mb': peak_rss_mb,
            'paced': paced, 'published_top1': variant.info.published_top1,
            'latency_samples': {str(b): len(s) for b, s in latency.items()}}
