"""What the benchmark prints: progress, the table, the claims, INT8 twins and planned choices."""

import math
import sys
import time

from jetson_classifier.benchmark.profile_schema import paced_entries
from jetson_classifier.switching.ladder import plan_rung, rungs_from_profile

# A claim "holds" when its fit explains at least this share of the variance.
CLAIM_R2 = 0.9
# The goal an INT8 twin meets against its FP32 model.
INT8_MIN_SPEEDUP = 2.0
INT8_MAX_TOP1_LOSS_POINTS = 1.5


class Progress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, each 10% otherwise."""

    def __init__(self, what, total, stream=None):
        self.what, self.total, self.done = what, max(int(total), 1), 0
        self.stream = sys.stderr if stream is None else stream
        self._tty = self.stream.isatty()
        self._start = time.perf_counter()
        self._shown = -1

    def advance(self, steps=1):
        """Count `steps` more units of work and redraw when it shows a change."""
        self.done = min(self.done + steps, self.total)
        tenth = 10 * self.done // self.total
        if self._tty or tenth > self._shown:
            self._shown = tenth
            self._draw('\r' if self._tty else '', '' if self._tty else '\n')

    def close(self):
        """End the bar's line on a terminal."""
        if self._tty:
            self._draw('\r', '\n')

    def _draw(self, head, tail):
        elapsed = time.perf_counter() - self._start
        left = elapsed * (self.total - self.done) / self.done if self.done else math.nan
        bar = '#' * (30 * self.done // self.total)
        self.stream.write(f'{head}{self.what} [{bar:<30}] {self.done}/{self.total} '
                          f'{elapsed:.0f} s, ~{left:.0f} s left{tail}')
        self.stream.flush()


def int8_pairs(variants):
    """Return (fp32 name, int8 name) for each INT8 catalog twin measured beside its FP32 model."""
    by_run = {(v.model, v.backend.name, v.backend.device): v for v in variants}
    return [(by_run[v.int8_of, v.backend.name, v.backend.device].name, v.name)
            for v in variants
            if v.int8_of and (v.int8_of, v.backend.name, v.backend.device) in by_run]


def paced_p50(model):
    """Return {rate Hz: p50 ms} of a profile model's paced measurements."""
    return {entry['rate_hz']: entry['latency_ms']['p50'] for entry in paced_entries(model)}


def compare_twins(profile, pairs):
    """
    Return speed-up (FP32 p50 / INT8 p50), top-1 points lost and goal met, per INT8 twin.

    The speed-up is back-to-back; `paced_speedup` maps each rate both were paced at to its
    own. The goal is met only where every speed-up meets it.
    """
    by_name = {m['name']: m for m in profile['models']}
    rows = []
    for fp32_name, int8_name in pairs:
        fp32, int8 = by_name[fp32_name], by_name[int8_name]
        speedup = fp32['latency_ms']['p50'] / int8['latency_ms']['p50']
        fp32_paced, int8_paced = paced_p50(fp32), paced_p50(int8)
        paced = {rate: fp32_paced[rate] / int8_paced[rate]
                 for rate in sorted(fp32_paced.keys() & int8_paced.keys())}
        loss = (None if None in (fp32['top1'], int8['top1'])
                else 100.0 * (fp32['top1'] - int8['top1']))
        meets = (None if loss is None
                 else min([speedup, *paced.values()]) >= INT8_MIN_SPEEDUP
                 and loss <= INT8_MAX_TOP1_LOSS_POINTS)
        rows.append({'fp32': fp32_name, 'int8': int8_name, 'speedup': speedup,
                     'paced_speedup': paced,
                     'fp32_top1': fp32['top1'], 'int8_top1': int8['top1'],
                     'top1_loss_points': loss, 'meets_goal': meets})
    return rows


def claim_lines(profile):
    """Say, per backend/device/precision group, whether each fit's R² supports its claim."""
    claims = (('latency_vs_gmacs', 'operation count predicts latency (linear)'),
              ('accuracy_vs_latency', 'accuracy vs latency is hyperbolic'))
    lines = []
    for key, claim in claims:
        fits = profile['fits'][key]
        if not fits:
            lines.append(f'{claim}: not testable, no backend/precision group has two models '
                         'with distinct values')
        for fit in fits:
            r2 = fit['r2']
            if r2 is None:
                verdict = 'R² undefined: the fitted values do not vary'
            elif len(fit['models']) < 3:
                verdict = f'not testable with two models (any two points fit: R² = {r2:.3f})'
            else:
                verdict = (f'{"holds" if r2 >= CLAIM_R2 else "does not hold"} '
                           f'(R² = {r2:.3f}, threshold {CLAIM_R2})')
            lines.append(f'{claim} [{fit["backend"]} {fit["device"]} {fit["precision"]}, '
                         f'{len(fit["models"])} models]: {verdict}')
    return lines


def constraint_lines(profile, constraints):
    """Plan each constraint on the profile's Pareto ladder with the switcher's own policy."""
    if not constraints:
        return []
    rungs, warnings = rungs_from_profile(profile)
    lines = [f'ladder (Pareto front, fastest first): {", ".join(r.name for r in rungs)}']
    lines += [f'  note: {w}' for w in warnings]
    for constraint in constraints:
        choice = plan_rung(rungs, constraint)
        lines.append(f'{constraint}: choose {choice.rung.name} '
                     f'({"meets it" if choice.met else "does NOT meet it"}) - {choice.reason}')
    return lines


def _cell(value, spec, scale=1.0):
    return '-' if value is None else format(value * scale, spec)


def _name_width(names, least):
    """Return a column width that fits every name: `least`, or the longest name."""
    return max(least, *(len(name) for name in names))


def table_lines(profile):
    """Render the models as a fixed-width table, fastest first; accuracies in %, pub: published."""
    batches = sorted({int(b) for m in profile['models'] for b in m['throughput_fps']} - {1})
    rates = sorted({rate for m in profile['models'] for rate in paced_p50(m)})
    width = _name_width((m['name'] for m in profile['models']), 16)
    head = (f'{"model":<{width}}{"prec":>5}{"GMACs":>7}{"Mpar":>6}{"MB":>6}{"p50":>8}{"p90":>8}'
            f'{"p99":>8}{"fps":>7}' + ''.join(f'{f"p50@{r:g}Hz":>11}' for r in rates)
            + ''.join(f'{f"img/s@{b}":>10}' for b in batches)
            + f'{"top1":>7}{"top5":>7}{"group":>7}{"pub":>6}{"RSS MB":>8}  pareto')
    lines, pareto = [head], set(profile['pareto'])
    for m in sorted(profile['models'], key=lambda m: -m['fps']):
        lat = m['latency_ms']
        lines.append(
            f'{m["name"]:<{width}}{m["precision"]:>5}'
            f'{_cell(m["macs"], ".3f", 1e-9):>7}{_cell(m["params"], ".2f", 1e-6):>6}'
            f'{_cell(m["file_bytes"], ".1f", 1e-6):>6}'
            f'{lat["p50"]:>8.2f}{lat["p90"]:>8.2f}{lat["p99"]:>8.2f}{m["fps"]:>7.1f}'
            + ''.join(f'{_cell(paced_p50(m).get(r), ".2f"):>11}' for r in rates)
            + ''.join(f'{_cell(m["throughput_fps"].get(str(b)), ".1f"):>10}' for b in batches)
            + ''.join(f'{_cell(m[k], ".1f", 100):>7}' for k in ('top1', 'top5', 'grouped_top1'))
            + f'{_cell(m.get("published_top1"), ".1f"):>6}'
            + f'{_cell(m["peak_rss_mb"], ".0f"):>8}  {"*" if m["name"] in pareto else ""}')
    return lines


def twin_lines(rows):
    """Render the INT8-vs-FP32 comparison against the goal (>= 2x faster, <= 1.5 points lost)."""
    if not rows:
        return []
    lines = [f'INT8 vs FP32 twins (goal: >= {INT8_MIN_SPEEDUP:g}x faster at p50, back-to-back '
             'and paced, '
             f'<= {INT8_MAX_TOP1_LOSS_POINTS:g} points top-1 lost):']
    verdict = {None: 'accuracy not measured', True: 'meets goal', False: 'misses goal'}
    int8_width = _name_width((r['int8'] for r in rows), 16)
    fp32_width = _name_width((r['fp32'] for r in rows), 12)
    for r in rows:
        top1 = ('top-1 not measured' if r['top1_loss_points'] is None else
                f'top-1 {100 * r["fp32_top1"]:.1f} -> {100 * r["int8_top1"]:.1f} % '
                f'({100 * (r["int8_top1"] - r["fp32_top1"]):+.1f} points)')
        paced = ''.join(f', {speedup:.2f}x at {rate:g} Hz'
                        for rate, speedup in r['paced_speedup'].items())
        lines.append(f'  {r["int8"]:<{int8_width}} vs {r["fp32"]:<{fp32_width}} '
                     f'{r["speedup"]:5.2f}x faster{paced}, '
                     f'{top1}: {verdict[r["meets_goal"]]}')
    return lines
