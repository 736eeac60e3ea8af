"""Benchmark maths against values worked out by hand."""

import math

import numpy as np
import pytest

from jetson_classifier.benchmark.stats import (
    fit_accuracy_vs_latency, fit_latency_vs_gmacs, fps_from_latency, GroupedCounter,
    latency_summary, linear_fit, pareto_front, TopKCounter)
from jetson_classifier.errors import ClassifierError


def test_latency_summary_interpolates_percentiles_linearly_in_ms():
    # ms [1, 2, 3, 4, 10]: p90 sits at rank 3.6 -> 4 + 0.6 * 6; p99 at rank 3.96.
    summary = latency_summary([0.003, 0.001, 0.010, 0.002, 0.004])
    assert summary['p50'] == pytest.approx(3.0)
    assert summary['p90'] == pytest.approx(7.6)
    assert summary['p99'] == pytest.approx(9.76)
    assert summary['mean'] == pytest.approx(4.0)
    assert summary['std'] == pytest.approx(math.sqrt(10.0))  # squares 9+4+1+0+36 over 5


def test_latency_summary_of_one_sample_is_that_sample():
    assert latency_summary([0.0125]) == pytest.approx(
        {'p50': 12.5, 'p90': 12.5, 'p99': 12.5, 'mean': 12.5, 'std': 0.0})


@pytest.mark.parametrize('samples', [[], [0.01, -0.001], [0.01, float('nan')]])
def test_latency_summary_rejects_empty_negative_or_nan(samples):
    with pytest.raises(ClassifierError, match='latency_summary'):
        latency_summary(samples)


def test_fps_from_latency_inverts_milliseconds():
    assert fps_from_latency(8.0) == pytest.approx(125.0)
    with pytest.raises(ClassifierError, match='latency_ms must be > 0, got 0'):
        fps_from_latency(0)


def test_pareto_front_keeps_undominated_points_and_ties():
    points = [(100, 0.70), (50, 0.80), (80, 0.75), (60, 0.75), (100, 0.70), (40, 0.80)]
    # (60, .75) loses to (80, .75); (40, .80) to (50, .80); the two (100, .70) tie.
    assert pareto_front(points) == [0, 1, 2, 4]


def test_pareto_front_of_nothing_is_empty():
    assert pareto_front([]) == []


def test_linear_fit_recovers_exact_line_with_r2_one():
    fit = linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit.slope == pytest.approx(2.0)
    assert fit.intercept == pytest.approx(1.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict([10]) == pytest.approx([21.0])


def test_linear_fit_of_noisy_points_matches_hand_sums():
    # Sxy = 5.5, Sxx = 5 -> slope 1.1, intercept 2.75 - 1.65; SSres 2.7, SStot 8.75.
    fit = linear_fit([0, 1, 2, 3], [1, 3, 2, 5])
    assert fit.slope == pytest.approx(1.1)
    assert fit.intercept == pytest.approx(1.1)
    assert fit.r2 == pytest.approx(1 - 2.7 / 8.75)


def test_linear_fit_r2_is_undefined_when_y_is_constant():
    fit = linear_fit([1, 2, 3], [4, 4, 4])
    assert (fit.slope, fit.intercept, fit.r2) == (0.0, 4.0, None)


@pytest.mark.parametrize('x, y, message', [
    ([1, 1, 1], [1, 2, 3], 'two distinct x'),
    ([1, 2], [1, 2, 3], '2 x values but 3 y values'),
    ([1, 2, float('inf')], [1, 2, 3], 'finite'),
])
def test_linear_fit_rejects_data_it_cannot_fit(x, y, message):
    with pytest.raises(ClassifierError, match=message):
        linear_fit(x, y)


def test_latency_vs_gmacs_fit_reads_ms_per_gmac():
    fit = fit_latency_vs_gmacs([0.21, 0.41, 0.90], [17.5 * g + 0.6 for g in (0.21, 0.41, 0.90)])
    assert fit.slope == pytest.approx(17.5)
    assert fit.intercept == pytest.approx(0.6)
    assert fit.r2 == pytest.approx(1.0)


def test_hyperbolic_fit_recovers_exact_curve():
    # accuracy = 0.8 - 0.4 / latency_ms at 2, 4 and 8 ms.
    fit = fit_accuracy_vs_latency([2, 4, 8], [0.6, 0.7, 0.75])
    assert fit.a == pytest.approx(0.8)
    assert fit.b == pytest.approx(0.4)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict(16) == pytest.approx(0.775)


def test_hyperbolic_fit_of_noisy_points_matches_hand_sums():
    # In u = 1/latency = .1 .2 .3 .4: Sxy -0.0115, Sxx 0.05 -> b 0.23, a 0.7675 + 0.23 * 0.25;
    # residuals -.002 .011 -.016 .007 -> SSres 4.3e-4; SStot 3.075e-3.
    fit = fit_accuracy_vs_latency([10, 5, 10 / 3, 2.5], [0.80, 0.79, 0.74, 0.74])
    assert fit.b == pytest.approx(0.23)
    assert fit.a == pytest.approx(0.825)
    assert fit.r2 == pytest.approx(1 - 4.3e-4 / 3.075e-3)


def test_hyperbolic_fit_rejects_non_positive_latency():
    with pytest.raises(ClassifierError, match='latencies must be > 0'):
        fit_accuracy_vs_latency([0, 4], [0.5, 0.7])


def test_top_k_counter_counts_ties_against_the_true_class():
    counter = TopKCounter()
    counter.update(np.array([
        [0.1, 0.5, 0.2, 0.0, 0.05, 0.15],   # true 1 is best: top-1 and top-5 hit
        [0.9, 0.01, 0.02, 0.03, 0.04, 0.0],  # true 5 is last of six: misses both
        [0.3, 0.3, 0.1, 0.1, 0.1, 0.1],     # true 0 ties class 1: top-5 hit only
    ], dtype=np.float32), [1, 5, 0])
    assert counter.hits == {1: 1, 5: 2}
    assert counter.accuracy(1) == pytest.approx(1 / 3)
    counter.update(np.full((1, 6), 0.2, dtype=np.float32), np.array([3]))  # constant scores
    assert counter.images == 4
    assert counter.accuracy(1) == pytest.approx(0.25)
    assert counter.accuracy(5) == pytest.approx(0.5)


def test_top_k_counter_counts_nan_true_score_as_miss_and_ignores_nan_rivals():
    counter = TopKCounter(ks=(1, 5))
    counter.update([[np.nan, 0.0, 0.0], [np.nan, 1.0, 0.0]], [0, 1])
    assert counter.hits == {1: 1, 5: 1}


def test_top_k_counter_accuracy_is_none_before_any_image():
    assert TopKCounter().accuracy(5) is None


@pytest.mark.parametrize('scores, truth, message', [
    (np.zeros((2, 4)), [0], r'expected 2 true indices .* got shape \(1,\)'),
    (np.zeros((2, 4)), [0, 4], 'true index 4 is not 0..3'),
    (np.zeros(4), [0], r'scores must be \(N, C\), got shape \(4,\)'),
    (np.zeros((1, 4)), [1.0], 'must be integers, got dtype float64'),
])
def test_top_k_counter_rejects_malformed_batches(scores, truth, message):
    with pytest.raises(ClassifierError, match=message):
        TopKCounter().update(scores, truth)


def test_top_k_counter_rejects_k_it_did_not_count():
    with pytest.raises(ClassifierError, match=r'k=3 not counted; counted \(1, 5\)'):
        TopKCounter().accuracy(3)


GROUP_OF = {0: 0, 1: 0, 2: 1, 3: None, 4: 2}.get


def test_grouped_counter_excludes_and_counts_dropped_classes():
    counter = GroupedCounter(GROUP_OF)
    counter.update(np.array([
        [0.7, 0.2, 0.1],  # class 0 -> group 0: hit
        [0.5, 0.4, 0.1],  # class 2 -> group 1: miss
        [0.9, 0.0, 0.1],  # class 3 dropped
        [0.1, 0.1, 0.8],  # class 4 -> group 2: hit
        [0.4, 0.4, 0.2],  # class 1 -> group 0, tied with group 1: miss
    ]), [0, 2, 3, 4, 1])
    assert (counter.scored, counter.correct, counter.dropped) == (4, 2, 1)
    assert counter.accuracy == pytest.approx(0.5)


def test_grouped_counter_with_only_dropped_images_has_no_accuracy():
    counter = GroupedCounter(GROUP_OF)
    counter.update(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), [3, 3])
    assert (counter.scored, counter.dropped, counter.accuracy) == (0, 2, None)


@pytest.mark.parametrize('group', [3, 'animals', True])
def test_grouped_counter_rejects_group_that_is_not_a_column(group):
    counter = GroupedCounter(lambda c: group)
    with pytest.raises(ClassifierError, match=r'group_of\(7\) gave .* not a column in 0..2'):
        counter.update(np.zeros((1, 3)), [7])
