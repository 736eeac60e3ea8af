"""Frames lost before the node, read from header stamp gaps; input rate vs received rate."""

import pytest

from jetson_classifier.pipeline.input_monitor import InputMonitor

PERIOD = 1 / 30


def feed(monitor, frame_numbers, latency_s=0.005, start_s=1000.0):
    """Deliver the given frames of a 30 Hz camera (stamp = arrival - latency)."""
    for number in frame_numbers:
        stamp = start_s + number * PERIOD
        monitor.add(stamp, stamp + latency_s)
    return start_s + frame_numbers[-1] * PERIOD + latency_s


def test_complete_30_hz_stream_loses_nothing_and_reads_30_hz_both_ways():
    monitor = InputMonitor(window_s=2.0)
    now = feed(monitor, list(range(60)))
    assert (monitor.received, monitor.lost_upstream) == (60, 0)
    assert monitor.stamp_rate() == pytest.approx(30.0)
    assert monitor.received_rate(now) == pytest.approx(30.0)


def test_a_gap_of_three_periods_counts_two_frames_lost():
    monitor = InputMonitor(window_s=2.0)
    feed(monitor, [0, 1, 2, 3, 4, 5, 8, 9, 10])
    assert monitor.lost_upstream == 2
    assert monitor.received == 9


def test_one_frame_in_three_lost_reads_30_hz_stamps_and_20_hz_received():
    monitor = InputMonitor(window_s=3.0)
    now = feed(monitor, [n for n in range(90) if n % 3 != 2])
    assert monitor.stamp_rate() == pytest.approx(30.0)
    assert monitor.received_rate(now) == pytest.approx(20.0, rel=0.03)
    # 30 frames missing: the last one is never followed, the first comes before the
    # period is known (3 gaps).
    assert monitor.lost_upstream == 28


def test_gaps_before_the_period_is_known_are_not_judged():
    monitor = InputMonitor(window_s=2.0)
    feed(monitor, [0, 5, 6, 7, 8])
    assert monitor.lost_upstream == 0
    assert monitor.period_s == pytest.approx(PERIOD)


def test_stamp_jitter_of_a_fifth_of_a_period_loses_nothing():
    monitor = InputMonitor(window_s=2.0)
    for number in range(60):
        stamp = 50.0 + number * PERIOD + (0.2 * PERIOD if number % 2 else 0.0)
        monitor.add(stamp, stamp)
    assert monitor.lost_upstream == 0


def test_unset_stamps_are_counted_and_not_judged():
    monitor = InputMonitor(window_s=2.0)
    for arrival in range(10):
        monitor.add(0.0, arrival * PERIOD)
    assert (monitor.received, monitor.unstamped, monitor.lost_upstream) == (10, 10, 0)
    assert monitor.stamp_rate() == 0.0


def test_stamps_going_back_restart_the_period_estimate_without_counting_loss():
    monitor = InputMonitor(window_s=2.0)
    feed(monitor, list(range(10)))
    feed(monitor, [0, 1], start_s=10.0)
    assert monitor.period_s is None
    assert monitor.lost_upstream == 0
    feed(monitor, [2, 3, 4, 7, 8], start_s=10.0)
    assert monitor.lost_upstream == 2


def test_a_frame_sent_late_is_not_counted_as_a_frame_lost():
    # A driver stamping at sending time on a busy CPU: frame 6 went out 0.6 of a period late,
    # frame 7 on time.
    monitor = InputMonitor(window_s=2.0)
    for number in range(12):
        stamp = 50.0 + (number + 0.6 * (number == 6)) * PERIOD
        monitor.add(stamp, stamp)
    assert monitor.lost_upstream == 0


def test_a_frame_lost_and_the_next_one_late_counts_one():
    monitor = InputMonitor(window_s=2.0)
    feed(monitor, [0, 1, 2, 3, 4, 6.6, 7, 8])
    assert monitor.lost_upstream == 1


def test_a_loss_is_counted_when_the_next_frame_tells_it_was_not_a_late_frame():
    monitor = InputMonitor(window_s=2.0)
    feed(monitor, [0, 1, 2, 3, 4, 7])
    assert monitor.lost_upstream == 0
    feed(monitor, [8])
    assert monitor.lost_upstream == 2
