"""
The ladder the switcher climbs: rungs from a benchmark profile, the constraint, the plan.

Pure logic, no ROS. A rung's expected speed is the profile's paced figure for the camera rate
where it has one (a camera-paced node is slower than back-to-back timing says).
"""

import math
from typing import NamedTuple, Optional, Tuple

from jetson_classifier.errors import CatalogError

# Rungs of the default ladder lie at least this fraction apart in expected fps: a measurement
# on a loaded robot cannot tell closer ones apart, and stepping between them only flaps.
MIN_STEP = 0.15
# And each is at least this much more accurate (top-1) than the faster one below it: on 1000
# photos INT8 and FP32 twins answer differently on about 15, so a smaller gain is chance (an
# INT8 twin 0.2 points ahead and 1.2x slower than its FP32 one bought nothing on an AVX2 CPU).
MIN_GAIN = 0.005
# The camera rate planned for until one is measured.
DEFAULT_CAMERA_HZ = 30.0


class Rung(NamedTuple):
    """
    One model on the ladder: expected fps and top-1 (a fraction, or None) from the profile.

    `fps` is back-to-back; `paced` holds (camera Hz, fps) as the node ran it at that rate.
    """

    name: str
    fps: float
    accuracy: Optional[float]
    paced: Tuple[Tuple[float, float], ...] = ()


def expected_fps(rung, camera_hz=None):
    """
    Return the fps to expect of `rung` with a camera at `camera_hz`, and which figure it is.

    The paced figure of the rate nearest `camera_hz` (DEFAULT_CAMERA_HZ while unknown) when
    the profile has one: a camera-paced node is slower than back-to-back timing says.
    """
    if not rung.paced:
        return rung.fps, 'back-to-back'
    rate, fps = min(rung.paced, key=lambda p: abs(p[0] - (camera_hz or DEFAULT_CAMERA_HZ)))
    return fps, f'paced at {rate:g} Hz'


class Constraint(NamedTuple):
    """What the robot needs: kind is 'min_fps' or 'min_accuracy' (top-1 as a fraction)."""

    kind: str
    value: float

    def __str__(self):
        return f'{self.kind}={self.value:g}'


class Choice(NamedTuple):
    """A planned rung, whether the profile says it meets the constraint, and why (one line)."""

    rung: Rung
    met: bool
    reason: str


def check_limit(kind, value):
    """Return value as a float if it is a valid limit for kind; ValueError naming it otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{kind} must be a number, got {value!r}') from None
    if kind == 'min_fps' and not 0 < number < math.inf:
        raise ValueError(f'min_fps must be a positive finite number, got {value!r}')
    if kind == 'min_accuracy' and not 0 < number <= 1:
        raise ValueError(f'min_accuracy must be a top-1 fraction in (0, 1], got {value!r}')
    return number


def parse_constraint(text):
    """Parse 'min_fps=30' or 'min_accuracy=0.75' into a Constraint; ValueError otherwise."""
    kind, sep, value = str(text).partition('=')
    kind = kind.strip()
    if not sep or kind not in ('min_fps', 'min_accuracy'):
        raise ValueError(
            f"constraint {text!r} is neither 'min_fps=<fps>' nor 'min_accuracy=<top-1 fraction>'")
    return Constraint(kind, check_limit(kind, value.strip()))


def _rung(model):
    """Turn one profile entry into a Rung; CatalogError naming the model and bad value."""
    name, fps, top1 = model.get('name'), model.get('fps'), model.get('top1')
    if not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise CatalogError(f'profile model {name!r}: fps must be a positive number, got {fps!r}')
    if top1 is not None and not (isinstance(top1, (int, float)) and 0 <= top1 <= 1):
        raise CatalogError(
            f'profile model {name!r}: top1 must be a fraction in [0, 1] or null, got {top1!r}')
    paced = tuple(sorted((float(entry['rate_hz']), 1000.0 / entry['latency_ms']['p50'])
                         for entry in model.get('paced', [])))
    return Rung(name, float(fps), None if top1 is None else float(top1), paced)


def rungs_from_profile(profile, ladder=None):
    """
    Build the ladder, fastest -> most accurate, from a benchmark profile dict.

    `ladder` (model names) defaults to the profile's 'pareto' list, spaced MIN_STEP apart in
    fps and MIN_GAIN in top-1 (spaced()). Returns (rungs, warnings): names the profile lacks
    and duplicates are skipped with a warning. Raises CatalogError for a malformed profile or
    when no rung is left.
    """
    models = profile.get('models') if isinstance(profile, dict) else None
    if not isinstance(models, list):
        raise CatalogError(f"benchmark profile has no 'models' list: {type(models).__name__}")
    by_name = {m.get('name'): m for m in models if isinstance(m, dict)}
    names = profile.get('pareto', []) if ladder is None else ladder
    rungs, warnings = [], []
    for name in names:
        if name not in by_name:
            warnings.append(f'ladder rung {name!r} is not in the profile: skipped')
        elif any(r.name == name for r in rungs):
            warnings.append(f'ladder rung {name!r} is listed twice: kept once')
        else:
            rungs.append(_rung(by_name[name]))
            if rungs[-1].accuracy is None:
                warnings.append(f'{name}: no top-1 in the profile; min_accuracy never selects it')
    if not rungs:
        raise CatalogError(f'no usable rung: ladder {list(names)} vs profile models '
                           f'{sorted(map(str, by_name))}')
    rungs.sort(key=lambda r: -expected_fps(r)[0])
    if ladder is None:
        rungs = spaced(rungs)
    for faster, slower in zip(rungs, rungs[1:]):
        if None not in (faster.accuracy, slower.accuracy) and slower.accuracy <= faster.accuracy:
            warnings.append(f'{slower.name} is slower than {faster.name} but not more accurate: '
                            'stepping up to it gains nothing')
    return rungs, warnings


def spaced(rungs, min_step=MIN_STEP, min_gain=MIN_GAIN):
    """
    Thin `rungs` (fastest first) to rungs `min_step` apart in expected fps, `min_gain` in top-1.

    From the slowest up, a rung expected within min_step of the last one kept takes its place
    if it is more accurate, and is left out otherwise. Then, from the fastest up, a rung less
    than min_gain more accurate than the last one kept is left out (one without a top-1 stays).
    """
    kept = []
    for rung in reversed(rungs):
        if kept and expected_fps(rung)[0] < (1 + min_step) * expected_fps(kept[-1])[0]:
            if (rung.accuracy or 0.0) > (kept[-1].accuracy or 0.0):
                kept[-1] = rung
            continue
        kept.append(rung)
    gaining = []
    for rung in reversed(kept):
        below = next((r.accuracy for r in reversed(gaining) if r.accuracy is not None), None)
        if None in (below, rung.accuracy) or rung.accuracy >= below + min_gain:
            gaining.append(rung)
    return gaining


def _top1(rung):
    return 'n/a' if rung.accuracy is None else f'{rung.accuracy:.3f}'


def choose_rung(rungs, constraint):
    """
    Plan from the profile: the best rung expected to meet the constraint, else the closest.

    min_fps: the most accurate rung whose expected fps >= min_fps, else the fastest.
    min_accuracy: the fastest rung whose top-1 >= min_accuracy, else the most accurate.
    """
    limit = constraint.value
    if constraint.kind == 'min_fps':
        meeting = [r for r in rungs if r.fps >= limit]
        if meeting:
            r = meeting[-1]
            return Choice(r, True, f'{r.name}: most accurate rung expected to meet min_fps '
                                   f'{limit:g} ({r.fps:.1f} fps, top-1 {_top1(r)})')
        r = rungs[0]
        return Choice(r, False, f'{r.name}: no rung meets min_fps {limit:g}; '
                                f'the fastest expects {r.fps:.1f} fps')
    meeting = [r for r in rungs if r.accuracy is not None and r.accuracy >= limit]
    if meeting:
        r = meeting[0]
        return Choice(r, True, f'{r.name}: fastest rung with top-1 {_top1(r)} >= min_accuracy '
                               f'{limit:g} ({r.fps:.1f} fps)')
    r = rungs[-1]
    return Choice(r, False, f'{r.name}: no rung reaches min_accuracy {limit:g}; '
                            f'the most accurate has top-1 {_top1(r)}')


def plan_rung(rungs, constraint, camera_hz=None, speed_factor=None):
    """
    choose_rung on the fps to expect here: paced figures at the camera rate, times speed_factor.

    The reason ends with the figures it planned from in brackets.
    """
    if constraint.kind != 'min_fps':
        return choose_rung(rungs, constraint)
    basis = expected_fps(rungs[0], camera_hz)[1]
    rungs = [r._replace(fps=expected_fps(r, camera_hz)[0] * (speed_factor or 1.0))
             for r in rungs]
    if speed_factor is not None:
        basis += f' x {speed_factor:.2f}, the speed measured here'
    choice = choose_rung(rungs, constraint)
    return choice._replace(reason=f'{choice.reason} [{basis}]')
