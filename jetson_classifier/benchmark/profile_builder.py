"""A profile from per-model measurements: machine, Pareto front, fits; written atomically."""

import csv
import datetime
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import shutil
import subprocess

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.benchmark import stats
from jetson_classifier.benchmark.profile_schema import (group_of_model, LATENCY_KEYS, SCHEMA,
                                                        validate_profile)
from jetson_classifier.cpu_features import cpuinfo, int8_instructions
from jetson_classifier.errors import ClassifierError


def machine_info():
    """Describe this machine: CPU, GPU, board, OS and the versions of the inference libraries."""
    return {
        'cpu': _cpu_model(),
        'cpu_count': os.cpu_count(),
        'cpu_int8_instructions': int8_instructions(),
        'gpu': _gpu_name(),
        'board': _device_tree_model(),
        'os': f'{platform.system()} {platform.release()} {platform.machine()}',
        'python': platform.python_version(),
        'numpy': _library_version('numpy', 'numpy'),
        'onnxruntime': _library_version('onnxruntime', 'onnxruntime', 'onnxruntime-gpu'),
        'tensorrt': _library_version('tensorrt', 'tensorrt', 'tensorrt-cu12', 'tensorrt-cu11'),
    }


# What of a machine sets a model's speed: a profile made where any of these differs (INT8
# kernels without VNNI, another core count, library) mis-predicts this one's speeds.
SPEED_SETTING = ('cpu', 'cpu_count', 'cpu_int8_instructions', 'gpu', 'board', 'onnxruntime',
                 'tensorrt')


def machine_differences(profiled, here=None):
    """
    Return 'what: the profile's vs here' for each SPEED_SETTING property that differs.

    `profiled` is a profile's 'machine'; properties it does not name are not compared.
    `here` defaults to machine_info().
    """
    if not profiled:
        return []  # nothing to compare: spare machine_info()'s nvidia-smi at a node's start
    here = machine_info() if here is None else here
    return [f'{key} {_shown(profiled[key])} vs {_shown(here.get(key))}' for key in SPEED_SETTING
            if key in profiled and _shown(profiled[key]) != _shown(here.get(key))]


# The classifier's parameters, beside the machine, that set a CPU model's speed: the benchmark
# records the values it timed with under these names in the profile's 'benchmark' block.
THREAD_SETTINGS = ('threads', 'spin_wait')


def thread_differences(benchmarked, threads, spin_wait):
    """
    Return 'what: the profile's vs the classifier's' for each CPU thread setting that differs.

    `benchmarked` is a profile's 'benchmark' block; settings it does not record (older
    profiles: spin_wait) are not compared. `threads` and `spin_wait` are the classifier's
    parameters; threads 0 is one per core, as the benchmark's default --threads counts them.
    """
    running = {'threads': threads or os.cpu_count(), 'spin_wait': spin_wait}
    return [f'{key} {_shown(benchmarked[key])} vs {_shown(value)}'
            for key, value in running.items()
            if key in benchmarked and benchmarked[key] != value]


def _shown(value):
    if isinstance(value, (list, tuple)):  # JSON gives lists
        return ', '.join(map(str, value)) or 'none'
    if isinstance(value, bool):  # as ROS parameters write it
        return str(value).lower()
    return value


def _cpu_model():
    return cpuinfo('model name', 'Model', 'Hardware') or platform.processor() or \
        platform.machine()


def _gpu_name():
    """Ask nvidia-smi for the first GPU's name; None where there is none."""
    smi = shutil.which('nvidia-smi')
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, '--query-gpu=name', '--format=csv,noheader'],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return names[0] if names else None


def _device_tree_model():
    """Read the board name on ARM boards such as Jetson ('NVIDIA Jetson Orin Nano ...')."""
    try:
        with open('/proc/device-tree/model', 'rb') as f:
            return f.read().rstrip(b'\x00\n').decode('utf-8', 'replace') or None
    except OSError:
        return None


def _library_version(module, *distributions):
    """Find a library's version from its wheel metadata or, failing that, the module."""
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return str(importlib.import_module(module).__version__)
    except (ImportError, AttributeError):
        return None


def build_profile(models, dataset_path, dataset_images, machine=None, created=None):
    """Assemble and validate a profile from per-model entries, adding the Pareto front and fits."""
    profile = {
        'schema': SCHEMA,
        'created': created or datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        'machine': machine_info() if machine is None else machine,
        'dataset': {'path': str(dataset_path), 'images': dataset_images},
        'models': list(models),
        'pareto': [],
        'fits': {'latency_vs_gmacs': [], 'accuracy_vs_latency': []},
    }
    validate_profile(profile, 'being built')
    measured = [m for m in models if m['top1'] is not None]
    front = stats.pareto_front([(m['fps'], m['top1']) for m in measured])
    profile['pareto'] = [measured[i]['name'] for i in front]
    profile['fits'] = {
        'latency_vs_gmacs': _fits_per_group(
            stats.fit_latency_vs_gmacs, [m for m in models if m['macs'] is not None],
            lambda m: m['macs'] / 1e9, lambda m: m['latency_ms']['p50']),
        'accuracy_vs_latency': _fits_per_group(
            stats.fit_accuracy_vs_latency, measured,
            lambda m: m['latency_ms']['p50'], lambda m: m['top1']),
    }
    return profile


def _fits_per_group(fit, models, x_of, y_of):
    """Fit each (backend, device, precision) group that has two or more distinct x values."""
    groups = {}
    for m in models:
        groups.setdefault(group_of_model(m), []).append(m)
    fits = []
    for (backend, device, precision), members in groups.items():
        x = [x_of(m) for m in members]
        if len(set(x)) >= 2:
            fits.append({'backend': backend, 'device': device, 'precision': precision,
                         'models': [m['name'] for m in members],
                         **fit(x, [y_of(m) for m in members])._asdict()})
    return fits


def write_profile(profile, json_path, csv_path=None):
    """Validate, then atomically write the profile as JSON and optionally one CSV row per model."""
    validate_profile(profile, str(json_path))
    _write_atomically(json_path, json.dumps(profile, indent=2, allow_nan=False) + '\n')
    if csv_path is not None:
        _write_atomically(csv_path, profile_csv(profile))


def profile_csv(profile):
    """Render the profile's models as CSV text: one row per model, empty cells for nulls."""
    batches = sorted({int(b) for m in profile['models'] for b in m['throughput_fps']})
    header = (['name', 'backend', 'precision', 'device', 'input_size', 'macs', 'params',
               'file_bytes', 'batch']
              + [f'latency_{k}_ms' for k in LATENCY_KEYS] + ['fps']
              + [f'throughput_fps_batch{b}' for b in batches]
              + ['top1', 'top5', 'grouped_top1', 'peak_rss_mb', 'pareto'])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(header)
    for m in profile['models']:
        size = m['input_size']
        writer.writerow(
            [m['name'], m['backend'], m['precision'], m['device'],
             size if isinstance(size, int) else f'{size[0]}x{size[1]}',
             m['macs'], m['params'], m['file_bytes'], m['batch']]
            + [m['latency_ms'][k] for k in LATENCY_KEYS] + [m['fps']]
            + [m['throughput_fps'].get(str(b)) for b in batches]
            + [m['top1'], m['top5'], m['grouped_top1'], m['peak_rss_mb'],
               m['name'] in profile['pareto']])
    return out.getvalue()


def _write_atomically(path, text):
    """Write a profile file atomically; ClassifierError names it when that fails."""
    try:
        write_atomically(path, text)
    except OSError as e:
        raise ClassifierError(f'cannot write profile file {path}: {e.strerror or e}') from e
