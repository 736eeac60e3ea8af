"""
Benchmark maths: latency summaries, the speed/accuracy Pareto front, fits, accuracy counts.

Percentiles use numpy's default, linear interpolation between closest ranks (type 7 of
Hyndman and Fan; numpy < 1.22, JetPack 6's, names it with `interpolation=`, later ones with
`method=`, so neither is passed); the standard deviation is the population one (ddof=0).
"""

from typing import NamedTuple, Optional

import numpy as np

from jetson_classifier.errors import ClassifierError


def latency_summary(seconds):
    """Summarise per-frame latencies given in seconds as p50/p90/p99/mean/std in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64).ravel() * 1000.0
    if ms.size == 0:
        raise ClassifierError('latency_summary: no latency samples')
    if not np.all(np.isfinite(ms)) or np.any(ms < 0):
        raise ClassifierError(
            f'latency_summary: latencies must be finite and >= 0, got min {ms.min()!r}')
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {'p50': float(p50), 'p90': float(p90), 'p99': float(p99),
            'mean': float(ms.mean()), 'std': float(ms.std())}


def fps_from_latency(latency_ms):
    """Frames per second of a network that takes latency_ms per frame."""
    if not latency_ms > 0:
        raise ClassifierError(f'fps_from_latency: latency_ms must be > 0, got {latency_ms!r}')
    return 1000.0 / latency_ms


def pareto_front(points):
    """
    Return the indices, in input order, of the (fps, accuracy) points none dominates.

    A point is dominated when another is at least as good in both and better in one, so
    identical points are all kept.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    front = []
    for i, p in enumerate(pts):
        dominated = np.any(np.all(pts >= p, axis=1) & np.any(pts > p, axis=1))
        if not dominated:
            front.append(i)
    return front


class LinearFit(NamedTuple):
    """y = slope * x + intercept; r2 is None where y does not vary (R² undefined)."""

    slope: float
    intercept: float
    r2: Optional[float]

    def predict(self, x):
        """Fitted y at x."""
        return self.slope * np.asarray(x, dtype=np.float64) + self.intercept


class HyperbolicFit(NamedTuple):
    """accuracy = a - b / latency_ms: accuracy nears a as time grows; r2 as in LinearFit."""

    a: float
    b: float
    r2: Optional[float]

    def predict(self, latency_ms):
        """Fitted accuracy at latency_ms."""
        return self.a - self.b / np.asarray(latency_ms, dtype=np.float64)


def linear_fit(x, y):
    """Least-squares line through (x, y) with its coefficient of determination R²."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ClassifierError(f'linear_fit: {x.size} x values but {y.size} y values')
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ClassifierError('linear_fit: x and y must be finite')
    if np.unique(x).size < 2:
        raise ClassifierError(
            f'linear_fit: needs at least two distinct x values, got {x.tolist()}')
    dx = x - x.mean()
    slope = float(np.dot(dx, y - y.mean()) / np.dot(dx, dx))
    intercept = float(y.mean() - slope * x.mean())
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    r2 = None if ss_tot == 0.0 else 1.0 - ss_res / ss_tot
    return LinearFit(slope, intercept, r2)


def fit_latency_vs_gmacs(gmacs, latency_ms):
    """Fit latency_ms = slope * GMACs + intercept, to test whether operations predict time."""
    return linear_fit(gmacs, latency_ms)


def fit_accuracy_vs_latency(latency_ms, accuracy):
    """Fit accuracy = a - b / latency_ms by linear least squares in 1 / latency_ms."""
    latency_ms = np.asarray(latency_ms, dtype=np.float64).ravel()
    if not np.all(latency_ms > 0):
        raise ClassifierError(
            f'fit_accuracy_vs_latency: latencies must be > 0, got {latency_ms.tolist()}')
    line = linear_fit(1.0 / latency_ms, accuracy)
    return HyperbolicFit(a=line.intercept, b=-line.slope, r2=line.r2)


def _beaten_by(scores, true_columns):
    """
    Per row, how many other columns score at least as high as the true column.

    Ties count against the true column, so constant scores never look right; a non-finite
    true score gives infinity, a miss at every k.
    """
    rows = np.arange(scores.shape[0])
    true_scores = scores[rows, true_columns][:, None]
    beaten = np.sum(scores >= true_scores, axis=1) - 1
    return np.where(np.isfinite(true_scores[:, 0]), beaten, np.inf)


def _check_batch(who, scores, truth, truth_are_columns):
    """Validate (N, C) scores and N integer true indices (columns of scores, or just >= 0)."""
    scores = np.asarray(scores)
    truth = np.asarray(truth)
    if scores.ndim != 2:
        raise ClassifierError(f'{who}: scores must be (N, C), got shape {scores.shape}')
    if truth.shape != (scores.shape[0],):
        raise ClassifierError(
            f'{who}: expected {scores.shape[0]} true indices for scores of shape '
            f'{scores.shape}, got shape {truth.shape}')
    if not np.issubdtype(truth.dtype, np.integer) and truth.size:
        raise ClassifierError(f'{who}: true indices must be integers, got dtype {truth.dtype}')
    limit, allowed = ((scores.shape[1], f'0..{scores.shape[1] - 1}') if truth_are_columns
                      else (np.inf, '>= 0'))
    bad = (truth < 0) | (truth >= limit)
    if np.any(bad):
        raise ClassifierError(f'{who}: true index {int(truth[bad][0])} is not {allowed}')
    return scores, truth.astype(np.int64)


class TopKCounter:
    """
    Accumulates top-k hits over batches of (N, C) scores and true class indices.

    A hit at k means fewer than k other classes score at least as high as the true one.
    """

    def __init__(self, ks=(1, 5)):
        if not ks or any(int(k) < 1 for k in ks):
            raise ClassifierError(f'TopKCounter: every k must be >= 1, got {ks!r}')
        self.ks = tuple(int(k) for k in ks)
        self.images = 0
        self.hits = dict.fromkeys(self.ks, 0)

    def update(self, scores, true_classes):
        """Count one batch."""
        scores, truth = _check_batch('TopKCounter', scores, true_classes, True)
        beaten = _beaten_by(scores, truth)
        self.images += truth.size
        for k in self.ks:
            self.hits[k] += int(np.sum(beaten < k))

    def accuracy(self, k):
        """Fraction of images so far whose true class was in the top k; None before any."""
        if k not in self.hits:
            raise ClassifierError(f'TopKCounter: k={k!r} not counted; counted {self.ks}')
        return self.hits[k] / self.images if self.images else None


class GroupedCounter:
    """
    Accumulates grouped top-1 hits over batches of (N, G) group scores.

    group_of(class_index) gives the class's group column, or None where the grouping drops
    the class; those images are excluded from the accuracy and counted in `dropped`.
    """

    def __init__(self, group_of):
        self.group_of = group_of
        self.scored = 0
        self.correct = 0
        self.dropped = 0

    def update(self, group_scores, true_classes):
        """Count one batch; a hit when the true class's group strictly outscores every other."""
        scores, truth = _check_batch('GroupedCounter', group_scores, true_classes, False)
        groups = [self.group_of(int(c)) for c in truth]
        for c, g in zip(truth, groups):
            if g is not None and not (isinstance(g, (int, np.integer)) and not isinstance(g, bool)
                                      and 0 <= g < scores.shape[1]):
                raise ClassifierError(
                    f'GroupedCounter: group_of({int(c)}) gave {g!r}, not a column in '
                    f'0..{scores.shape[1] - 1} or None')
        kept = np.array([g is not None for g in groups], dtype=bool)
        true_groups = np.array([g for g in groups if g is not None], dtype=np.int64)
        self.dropped += int(np.sum(~kept))
        self.scored += true_groups.size
        if true_groups.size:
            self.correct += int(np.sum(_beaten_by(scores[kept], true_groups) == 0))

    @property
    def accuracy(self):
        """Fraction of kept images whose top group was right; None when none were kept."""
        return self.correct / self.scored if self.scored else None
