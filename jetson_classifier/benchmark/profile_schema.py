"""
The measured profile the switcher plans from: its schema, validation and loading.

Accuracies (top1, top5, grouped_top1) are fractions in 0..1; `fps` is network fps,
1000 / latency_ms.p50. The Pareto front is over (fps, top1) of all models. The fits,
latency_ms.p50 = slope * GMACs + intercept and top1 = a - b / latency_ms.p50, are made per
(backend, device, precision) group, since INT8 and FP32 runs of one network follow
different laws; each fit lists the models it used. profile_builder makes and writes one.
"""

import datetime
import json
import math

from jetson_classifier.errors import ClassifierError

SCHEMA = 'jetson_classifier.profile/1'
PRECISIONS = ('fp32', 'fp16', 'int8')
LATENCY_KEYS = ('p50', 'p90', 'p99', 'mean')
# Fields a model of an older profile may lack.
OPTIONAL_MODEL_FIELDS = ('paced',)


def paced_entries(model):
    """Return a model's paced measurements: [] where its benchmark made none (older ones)."""
    return model.get('paced', [])


def group_of_model(model):
    """Return the (backend, device, precision) a model ran with: fits never mix these."""
    return model['backend'], model['device'], model['precision']


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
        for key, problem in _check_fields(model, _MODEL_FIELDS, optional=OPTIONAL_MODEL_FIELDS):
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


def _check_fields(obj, checks, optional=()):
    """Yield (field, problem) for each missing (unless `optional`) or malformed field of obj."""
    for key, check in checks.items():
        if key not in obj:
            if key not in optional:
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


def _paced(v):
    if not isinstance(v, list):
        return f'must be a list of paced measurements, got {v!r}'
    for i, entry in enumerate(v):
        if not isinstance(entry, dict):
            return f'[{i}] must be an object, got {entry!r}'
        for key, problem in _check_fields(entry, _PACED_FIELDS):
            return f'[{i}].{key} {problem}'
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
    'grouped_top1': _FRACTION, 'peak_rss_mb': _number(low=0, null=True), 'paced': _paced,
}
_PACED_FIELDS = {'rate_hz': _number(above=0), 'frames': _number(low=1, integer=True),
                 'latency_ms': _latency, 'end_to_end_ms': _latency}
_GROUP_FIELDS = {'backend': _text, 'device': _text, 'precision': _precision,
                 'models': _list_of_text, 'r2': _number(high=1, null=True)}
_FIT_FIELDS = {
    'latency_vs_gmacs': {**_GROUP_FIELDS, 'slope': _number(), 'intercept': _number()},
    'accuracy_vs_latency': {**_GROUP_FIELDS, 'a': _number(), 'b': _number()},
}
