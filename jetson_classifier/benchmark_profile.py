"""
The measured profile the switcher plans from: schema, building, validation and file I/O.

Accuracies (top1, top5, grouped_top1) are fractions in 0..1; `fps` is network fps,
1000 / latency_ms.p50. The Pareto front is over (fps, top1) of all models. The fits,
latency_ms.p50 = slope * GMACs + intercept and top1 = a - b / latency_ms.p50, are made per
(backend, device, precision) group, since INT8 and FP32 runs of one network follow
different laws; each fit lists the models it used.
"""

import csv
import datetime
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile

from jetson_classifier import benchmark_stats
from jetson_classifier.errors import ClassifierError

SCHEMA = 'jetson_classifier.profile/1'
PRECISIONS = ('fp32', 'fp16', 'int8')
LATENCY_KEYS = ('p50', 'p90', 'p99', 'mean')


def machine_info():
    """Describe this machine: CPU, GPU, board, OS and the versions of the inference libraries."""
    return {
        'cpu': _cpu_model(),
        'cpu_count': os.cpu_count(),
        'gpu': _gpu_name(),
        'board': _device_tree_model(),
        'os': f'{platform.system()} {platform.release()} {platform.machine()}',
        'python': platform.python_version(),
        'numpy': _library_version('numpy', 'numpy'),
        'onnxruntime': _library_version('onnxruntime', 'onnxruntime', 'onnxruntime-gpu'),
        'tensorrt': _library_version('tensorrt', 'tensorrt', 'tensorrt-cu12', 'tensorrt-cu11'),
    }


def _cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in ('model name', 'Model', 'Hardware') and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
    front = benchmark_stats.pareto_front([(m['fps'], m['top1']) for m in measured])
    profile['pareto'] = [measured[i]['name'] for i in front]
    profile['fits'] = {
        'latency_vs_gmacs': _fits_per_group(
            benchmark_stats.fit_latency_vs_gmacs, [m for m in models if m['macs'] is not None],
            lambda m: m['macs'] / 1e9, lambda m: m['latency_ms']['p50']),
        'accuracy_vs_latency': _fits_per_group(
            benchmark_stats.fit_accuracy_vs_latency, measured,
            lambda m: m['latency_ms']['p50'], lambda m: m['top1']),
    }
    return profile


def group_of_model(model):
    """Return the (backend, device, precision) a model ran with: fits never mix these."""
    return model['backend'], model['device'], model['precision']


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
    """Write via a temporary file in the same folder and rename, so readers never see half."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile('w', encoding='utf-8', dir=folder, delete=False,
                                         prefix='.' + os.path.basename(path) + '.') as f:
            tmp = f.name
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise ClassifierError(f'cannot write profile file {path}: {e.strerror or e}') from e


def load_profile(path):
    """Read and validate a profile JSON file; errors name the file and the field at fault."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except OSError as e:
        raise ClassifierError(f'cannot read profile {path}: {e.strerror or e}') from e
    try:
        profile = json.loads(text)
    except json.JSONDecodeError as e:
        raise ClassifierError(
            f'profile {path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}'
        ) from e
    validate_profile(profile, str(path))
    return profile


def validate_profile(profile, source):
    """Raise ClassifierError naming `source` and the field when the profile breaks the schema."""
    def fail(field, problem):
        raise ClassifierError(f'profile {source}: {field} {problem}')

    if not isinstance(profile, dict):
        fail('top level', f'must be an object, got {type(profile).__name__}')
    if profile.get('schema') != SCHEMA:
        fail('schema', f'must be {SCHEMA!r}, got {profile.get("schema")!r}')
    for key, problem in _check_fields(profile, _TOP_FIELDS):
        fail(key, problem)
    for key, problem in _check_fields(profile['dataset'], _DATASET_FIELDS):
        fail(f'dataset.{key}', problem)
    if not profile['models']:
        fail('models', 'is empty: a profile needs at least one model')
    names = set()
    for i, model in enumerate(profile['models']):
        where = f'models[{i}]'
        if not isinstance(model, dict):
            fail(where, f'must be an object, got {type(model).__name__}')
        for key, problem in _check_fields(model, _MODEL_FIELDS):
            fail(f'{where}.{key}', problem)
        if model['name'] in names:
            fail(f'{where}.name', f'{model["name"]!r} appears twice; names must be unique')
        names.add(model['name'])
    for i, name in enumerate(profile['pareto']):
        if name not in names:
            fail(f'pareto[{i}]', f'{name!r} is not the name of a model in the profile')
    for key, fields in _FIT_FIELDS.items():
        fits = profile['fits'].get(key)
        if not isinstance(fits, list):
            fail(f'fits.{key}', f'must be a list of fits, got {fits!r}')
        for i, fit in enumerate(fits):
            where = f'fits.{key}[{i}]'
            if not isinstance(fit, dict):
                fail(where, f'must be an object, got {fit!r}')
            for field, problem in _check_fields(fit, fields):
                fail(f'{where}.{field}', problem)
            unknown = [name for name in fit['models'] if name not in names]
            if len(fit['models']) < 2 or unknown:
                fail(f'{where}.models', f'must name two or more models of the profile, '
                     f'got {fit["models"]!r}')


def _check_fields(obj, checks):
    """Yield (field, problem) for each missing or malformed field of the dict obj."""
    for key, check in checks.items():
        if key not in obj:
            yield key, 'is missing'
            continue
        problem = check(obj[key])
        if problem:
            yield key, problem


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _number(low=None, above=None, high=None, integer=False, null=False):
    """Make a check for a finite number (or int) within bounds; null allows None."""
    kind = 'an integer' if integer else 'a finite number'
    kind += ' or null' if null else ''

    def check(v):
        if v is None and null:
            return None
        if not _is_number(v) or (integer and not isinstance(v, int)):
            return f'must be {kind}, got {v!r}'
        if low is not None and v < low:
            return f'must be >= {low}, got {v!r}'
        if above is not None and v <= above:
            return f'must be > {above}, got {v!r}'
        if high is not None and v > high:
            return f'must be <= {high}, got {v!r}'
        return None
    return check


def _text(v):
    return None if isinstance(v, str) and v else f'must be a non-empty string, got {v!r}'


def _iso_time(v):
    try:
        datetime.datetime.fromisoformat(v)
    except (TypeError, ValueError):
        return f'must be an ISO 8601 time, got {v!r}'
    return None


def _object(v):
    return None if isinstance(v, dict) else f'must be an object, got {type(v).__name__}'


def _list_of_text(v):
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        return f'must be a list of names, got {v!r}'
    return None


def _models(v):
    return None if isinstance(v, list) else f'must be a list, got {type(v).__name__}'


def _precision(v):
    return None if v in PRECISIONS else f'must be one of {PRECISIONS}, got {v!r}'


def _input_size(v):
    positive = _number(above=0, integer=True)
    if isinstance(v, list) and len(v) == 2 and not any(positive(s) for s in v):
        return None
    if positive(v) is None:
        return None
    return f'must be a positive integer or [height, width], got {v!r}'


def _latency(v):
    if not isinstance(v, dict):
        return f'must be an object with {LATENCY_KEYS}, got {v!r}'
    positive = _number(above=0)
    for key in LATENCY_KEYS:
        problem = 'is missing' if key not in v else positive(v[key])
        if problem:
            return f'{key} {problem}'
    return None


def _throughput(v):
    if not isinstance(v, dict):
        return f'must be an object of batch size -> fps, got {v!r}'
    positive = _number(above=0)
    for batch, fps in v.items():
        if not (isinstance(batch, str) and batch.isdigit() and int(batch) >= 1):
            return f'key {batch!r} must be a batch size >= 1 written as a string'
        problem = positive(fps)
        if problem:
            return f'{batch} {problem}'
    return None


_FRACTION = _number(low=0, high=1, null=True)
_TOP_FIELDS = {'created': _iso_time, 'machine': _object, 'dataset': _object,
               'models': _models, 'pareto': _list_of_text, 'fits': _object}
_DATASET_FIELDS = {'path': _text, 'images': _number(low=0, integer=True)}
_MODEL_FIELDS = {
    'name': _text, 'backend': _text, 'precision': _precision, 'device': _text,
    'input_size': _input_size, 'macs': _number(low=0, null=True),
    'params': _number(low=0, null=True), 'file_bytes': _number(low=0, integer=True, null=True),
    'batch': _number(low=1, integer=True), 'latency_ms': _latency, 'fps': _number(above=0),
    'throughput_fps': _throughput, 'top1': _FRACTION, 'top5': _FRACTION,
    'grouped_top1': _FRACTION, 'peak_rss_mb': _number(low=0, null=True),
}
_GROUP_FIELDS = {'backend': _text, 'device': _text, 'precision': _precision,
                 'models': _list_of_text, 'r2': _number(high=1, null=True)}
_FIT_FIELDS = {
    'latency_vs_gmacs': {**_GROUP_FIELDS, 'slope': _number(), 'intercept': _number()},
    'accuracy_vs_latency': {**_GROUP_FIELDS, 'a': _number(), 'b': _number()},
}
