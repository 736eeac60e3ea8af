"""
Which model a classifier should run to hold an fps or accuracy target: pure logic, no ROS.

Time is passed in (seconds on any monotonic clock), so every decision can be replayed in tests.
"""

import dataclasses
import math
from typing import NamedTuple

from jetson_classifier.switching.ladder import (check_limit, Constraint, expected_fps,
                                                plan_rung)

POLICIES = ('min_fps', 'min_accuracy', 'manual')
# How a departure's fps was had: measured on the rung as it was left, or predicted for a rung
# a step down passed over.
_MEASURED, _PASSED_OVER = 'measured when left', 'predicted when passed over'


class Decision(NamedTuple):
    """Ask the classifier to run `target`; `reason` is the line an operator reads on ~/decision."""

    target: str
    reason: str


def _since(since, holds, now):
    """When a condition began holding without a break: kept, started now, or None."""
    if not holds:
        return None
    return now if since is None else since


@dataclasses.dataclass
class _Departure:
    """A rung left (or passed over) for being too slow: its fps then, the rung gone to, when."""

    fps: float
    below: int
    at: float
    retries: int = 0  # retries since that came back slow
    below_fps: float = None  # the rung below's settled fps, once it has one
    how: str = _MEASURED  # or _PASSED_OVER
    calm: float = None  # measured / expected fps on the rung's last sample at min_fps or over


class SwitchingPolicy:
    """
    Keeps a classifier on the most accurate rung that holds its constraint, without flapping.

    `rungs` run fastest -> most accurate (as rungs_from_profile returns them). Feed observe()
    the classifier's network fps (inference rate; the end-to-end rate is capped by the camera
    and would hide spare capacity). Rungs the classifier refuses stay banned for the session.
    `speed_factor` is the last measured / expected fps of the active rung. A rung left for
    being too slow is predicted from what it measured, scaled by how the rung below it has
    sped up since, not from the profile: profiles of another load or machine mis-rank rungs
    (an INT8 rung's speed-up does not carry over to an FP32 one) and would make it flap. So
    is a rung a step down passes over, from the speed predicted for it then: a load slows a
    small rung less than a larger one, so the small rung's speed under it overrates the
    larger ones (a CPU hog took lite0_192_int8 to 0.63 of its profile fps, lite1_int8 to
    0.37, and a step up between them under the hog was a switch each way), or at the landing
    rung's speed factor once it settles, if that is lower: loads do not always spare the
    smaller rungs (on a 2-core AVX2 VM a hog took lite1 to 0.34-0.36 of its profile and
    lite0_192, passed over, to 0.25-0.31).
    Load need not slow every rung alike (a small model can finish inside its scheduler
    slice where a larger one is preempted), so such a rung is also tried again after
    retry_s, and after twice as long each time it is still too slow (0: never). For the
    same reason, once the active rung runs (1 + hysteresis) x what it settled at under the
    load that made a rung too slow, and within the hysteresis of its speed without the load
    (its expected fps x the speed factor the first rung left had before the load), for
    window_s, the load has lifted: it goes straight back to the rung those steps down began
    from, a try that backs off like the others. A rise alone is not enough: under two busy
    processes on two cores a small rung's speed wandered 1.3-1.5x, and went back too soon.
    """

    def __init__(self, rungs, policy='min_fps', min_fps=None, min_accuracy=None,
                 hysteresis=0.15, window_s=3.0, cooldown_s=6.0, retry_s=60.0,
                 speed_factor=None):
        """
        Follow `policy` along `rungs`; `speed_factor` is a measured / expected fps to plan with.

        A policy made for a new target while the classifier runs passes the old policy's
        speed_factor, so the plan uses the speed measured here, not the profile's alone.
        """
        if not rungs:
            raise ValueError('rungs: the model ladder is empty')
        if policy not in POLICIES:
            raise ValueError(f'policy must be one of {POLICIES}, got {policy!r}')
        for param, value in (('hysteresis', hysteresis), ('window_s', window_s),
                             ('cooldown_s', cooldown_s), ('retry_s', retry_s)):
            if not 0 <= value < math.inf:
                raise ValueError(f'{param} must be a finite number >= 0, got {value!r}')
        self.constraint = None
        if policy != 'manual':
            limit = min_fps if policy == 'min_fps' else min_accuracy
            self.constraint = Constraint(policy, check_limit(policy, limit))
        self.rungs, self.policy, self.hysteresis = list(rungs), policy, hysteresis
        self.window_s, self.cooldown_s, self.retry_s = window_s, cooldown_s, retry_s
        self.speed_factor = speed_factor
        self.camera_hz = None  # the camera rate the classifier sees, once measured
        self._index = {r.name: i for i, r in enumerate(self.rungs)}
        self._banned = set()
        self._expected = self._origin = self._last_switch = self._mismatch_since = None
        self._slow_since = self._fast_since = self._lifted_since = None
        self._last_now = -math.inf
        self._fps = self._retried = self._calm = None
        self._left_slow = {}  # rung -> _Departure

    def initial(self):
        """Return the planned Decision to start on (None for manual or when every rung failed)."""
        return None if self.constraint is None else self._plan(None, '')

    def observe(self, now, measured_fps, active_model):
        """
        Take one sample from the classifier; return a Decision when the model should change.

        Samples may come at any rate: a condition acts once it has held on every sample for
        window_s. A missing fps (None, NaN, <= 0) restarts the window; samples older than the
        last one are ignored. Samples from a model other than the expected one never count (a
        switch in flight); if that lasts cooldown_s (a restart, a lost request) the expected
        model is asked for again. The first model, like each one switched to, is not left
        before cooldown_s from its first sample: a model runs slow while it warms up. Only
        min_fps moves on fps; manual never switches.
        """
        if self.policy == 'manual' or now < self._last_now:
            return None
        self._last_now = now
        if self._expected is None:
            return self.initial()
        expected = self.rungs[self._expected].name
        if active_model != expected:
            self._slow_since = self._fast_since = None
            if self._mismatch_since is None:
                self._mismatch_since = now
            held = now - self._mismatch_since
            if held < self.cooldown_s:
                return None
            return self._switch(self._expected, now, self._index.get(active_model),
                                f'classifier runs {active_model}, expected {expected} for '
                                f'{held:.1f} s: ask for {expected} again')
        self._mismatch_since = None
        if measured_fps is None or not 0 < measured_fps < math.inf:
            self._slow_since = self._fast_since = None
            return None
        if self.policy == 'min_accuracy':
            return None
        return self._follow_fps(now, measured_fps)

    def refused(self, now, model, reason):
        """
        Ban `model`, which the classifier would not load, and try the next rung that way.

        The classifier keeps its old model, so a refused step down tries the next faster rung,
        a refused step up the next better one if its predicted fps still clears the hysteresis
        margin (else it stays), and a refused plan is planned again without the rung. No
        cooldown applies: the refused switch never happened.
        """
        if self.policy == 'manual' or model not in self._index:
            return None
        self._banned.add(model)
        if self._index[model] != self._expected:
            return None
        origin, why = self._origin, f'{model} refused ({reason})'
        if origin is None or self.policy == 'min_accuracy':
            return self._plan(now, f'; {why}')
        step = 1 if self._index[model] > origin else -1
        target = self._neighbour(origin, step)
        if target is None or step > 0 and not self._clears_margin(target):
            return self._switch(origin, now, origin, f'stay on {self.rungs[origin].name}: {why}, '
                                                     'no other rung that way holds min_fps')
        return self._step(origin, target, now, why)

    def _follow_fps(self, now, fps):
        """min_fps: step down after window_s below it, up when the better rung would hold it."""
        limit = self.constraint.value
        if self._last_switch is None:
            self._last_switch = now  # the first model is landing too: warming up
        self._fps = fps
        self.speed_factor = fps / self._expected_fps(self._expected)[0]
        settled = now - self._last_switch >= self.window_s
        for i, departure in self._left_slow.items():
            if departure.below == self._expected and departure.below_fps is None and settled:
                departure.below_fps = fps  # a full window after landing: the first frames
                # (slow, or averaged with the old model's) would skew the reference
                if departure.how == _PASSED_OVER:
                    departure.fps = min(departure.fps,
                                        self.speed_factor * self._expected_fps(i)[0])
        better = self._neighbour(self._expected, 1)
        slow = fps < limit
        if settled and not slow:
            self._calm = self.speed_factor
        fast = better is not None and self._clears_margin(better)
        loaded_fps, unloaded_fps, origin = self._load_lifted_from()
        self._slow_since = _since(self._slow_since, slow, now)
        self._fast_since = _since(self._fast_since, fast, now)
        self._lifted_since = _since(
            self._lifted_since, fps >= max(loaded_fps * (1 + self.hysteresis),
                                           unloaded_fps / (1 + self.hysteresis)), now)
        if now - self._last_switch < self.cooldown_s:
            return None
        faster = self._neighbour(self._expected, -1)
        if slow and faster is not None and now - self._slow_since >= self.window_s:
            target = self._step_down_target(faster)
            predicted, basis = self._prediction(target)
            self._pass_over(now, target)
            self._leave_slow(now, fps, target)
            return self._step(self._expected, target, now,
                              f'{fps:.1f} fps < min_fps {limit:g} for '
                              f'{now - self._slow_since:.1f} s; {self.rungs[target].name} '
                              f'predicted {predicted:.1f} fps ({basis})')
        lifted = self._lifted_since is not None and now - self._lifted_since >= self.window_s
        if fast and now - self._fast_since >= self.window_s:
            better = self._step_up_target(better)
            if not lifted or better >= origin:
                predicted, basis = self._prediction(better)
                return self._step(self._expected, better, now,
                                  f'{self.rungs[better].name} predicted {predicted:.1f} fps '
                                  f'({basis}) >= {limit * (1 + self.hysteresis):.1f} (min_fps '
                                  f'{limit:g} + {self.hysteresis:.0%}) for '
                                  f'{now - self._fast_since:.1f} s')
        if lifted:
            expected, basis = self._expected_fps(self._expected)
            decision = self._step(
                self._expected, origin, now,
                f'{fps:.1f} fps for {now - self._lifted_since:.1f} s, {fps / loaded_fps:.2f} x '
                f'the {loaded_fps:.1f} it ran under the load that made '
                f'{self.rungs[origin].name} too slow and {fps / unloaded_fps:.2f} x the '
                f'{unloaded_fps:.1f} expected without it ({unloaded_fps / expected:.2f} x '
                f'{expected:.1f} {basis}): the load has lifted')
            self._retried = origin
            return decision
        departure = self._left_slow.get(better)
        if not slow and self._retry_due(departure, now):
            predicted, basis = self._prediction(better)
            then = (f'it ran {departure.fps:.1f} fps < min_fps {limit:g}'
                    if departure.how == _MEASURED else 'it was passed over')
            decision = self._step(
                self._expected, better, now,
                f'try {self.rungs[better].name} again, {now - departure.at:.0f} s after {then} '
                f'(predicted {predicted:.1f} fps: {basis})')
            self._retried = better
            return decision
        return None

    def _step_down_target(self, faster):
        """
        Return the best rung from `faster` down predicted to hold min_fps, else the fastest.

        Predicted at the speed the active rung measures now: a step for each rung that a heavy
        load makes too slow would be a switch and a cooldown each (a CPU hog that cut
        lite2_int8 from 171 to 49 fps took three steps down where one would do).
        """
        target = faster
        while self._prediction(target)[0] < self.constraint.value:
            below = self._neighbour(target, -1)
            if below is None:
                break
            target = below
        return target

    def _step_up_target(self, better):
        """
        Return the best rung from `better` up, each on the way predicted to clear the margin.

        Past `better` only rungs judged from here count: never left for being slow, or left
        for the active rung, so their measured fps then scales by its speed-up since. A rung
        left for another rung is predicted from the profile alone, and is met one step at a
        time.
        """
        while (above := self._neighbour(better, 1)) is not None and self._clears_margin(above):
            departure = self._left_slow.get(above)
            if departure is not None and departure.below != self._expected:
                break
            better = above
        return better

    def _leave_slow(self, now, fps, faster):
        """Record that the active rung is left for `faster`; a retry that failed backs off."""
        # Slow soon after a retry brought it back: that retry failed (and had a departure).
        failed_retry = self._retried == self._expected and now - self._last_switch < self.retry_s
        retries = self._left_slow[self._expected].retries + 1 if failed_retry else 0
        self._left_slow[self._expected] = _Departure(fps, faster, now, retries, calm=self._calm)

    def _pass_over(self, now, target):
        """Record the rungs a step down to `target` skips, at the fps predicted for them now."""
        for i in range(target + 1, self._expected):
            earlier = self._left_slow.get(i)
            self._left_slow[i] = _Departure(self._prediction(i)[0], target, now,
                                            earlier.retries if earlier else 0,
                                            how=_PASSED_OVER)

    def _load_lifted_from(self):
        """
        Return (active rung's fps settled under the load, its fps without it, rung to go to).

        The rung to go back to is the first of the steps down, each left measured too slow,
        that ended on the active rung; (inf, inf, None) if there is none, it has been tried
        again since, its speed before the load is unknown, or tries are off.
        """
        nowhere = math.inf, math.inf, None
        left = self._left_for(self._expected)
        if left is None or self.retry_s == 0 or self._left_slow[left].below_fps is None:
            return nowhere
        origin = left
        while (above := self._left_for(origin)) is not None:
            origin = above
        departure = self._left_slow[origin]
        if departure.retries or departure.calm is None or self.rungs[origin].name in self._banned:
            return nowhere
        unloaded_fps = departure.calm * self._expected_fps(self._expected)[0]
        return self._left_slow[left].below_fps, unloaded_fps, origin

    def _left_for(self, i):
        """Return the best rung left for rung i when measured too slow, or None."""
        return max((r for r, d in self._left_slow.items() if d.below == i and d.how == _MEASURED),
                   default=None)

    def _retry_due(self, departure, now):
        """Whether a rung left for being slow from the active one is due another try."""
        return (departure is not None and departure.below == self._expected and self.retry_s > 0
                and now - departure.at >= self.retry_s * 2 ** departure.retries)

    def _prediction(self, i):
        """Return rung i's predicted fps now and how it was reached, in words."""
        departure = self._left_slow.get(i)
        if departure is not None and departure.below == self._expected:
            if departure.below_fps is None:
                return 0.0, 'no settled reference yet'
            scale = self._fps / departure.below_fps
            return departure.fps * scale, f'{scale:.2f} x {departure.fps:.1f} {departure.how}'
        factor = self.speed_factor or 0.0
        expected, basis = self._expected_fps(i)
        return expected * factor, f'{factor:.2f} x {expected:.1f} expected {basis}'

    def _clears_margin(self, i):
        """Whether rung i, at the platform's current speed, would beat the margin."""
        return self._prediction(i)[0] >= self.constraint.value * (1 + self.hysteresis)

    def _neighbour(self, i, step):
        """Return the nearest unbanned rung past i in direction step (+1: more accurate)."""
        i += step
        while 0 <= i < len(self.rungs) and self.rungs[i].name in self._banned:
            i += step
        return i if 0 <= i < len(self.rungs) else None

    def _plan(self, now, note):
        usable = [r for r in self.rungs if r.name not in self._banned]
        if not usable:
            self._expected = None
            return None
        choice = plan_rung(usable, self.constraint, self.camera_hz, self.speed_factor)
        target = self._index[choice.rung.name]
        return self._switch(target, now, None, f'plan {choice.reason}{note}')

    def _expected_fps(self, i):
        """Return rung i's expected fps at the camera rate, and which figure it is."""
        return expected_fps(self.rungs[i], self.camera_hz)

    def _step(self, origin, target, now, why):
        way = 'up' if target > origin else 'down'
        return self._switch(target, now, origin, f'step {way} {self.rungs[origin].name} -> '
                                                 f'{self.rungs[target].name}: {why}')

    def _switch(self, target, now, origin, reason):
        """Expect `target` from now on (the classifier runs `origin` until it lands)."""
        self._expected, self._origin, self._last_switch = target, origin, now
        self._slow_since = self._fast_since = self._lifted_since = None
        self._mismatch_since = self._retried = None
        return Decision(self.rungs[target].name, reason)
