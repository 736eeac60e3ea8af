"""The node's diagnostics numbers from hand-made frame timings."""

import pytest

from jetson_classifier.pipeline.frame_stats import FrameStats


def test_snapshot_of_four_classified_frames_at_10_hz():
    stats = FrameStats(window_s=2.0)
    for index, (latency_ms, replaced) in enumerate([(20, False), (30, False), (40, True),
                                                    (50, False), (60, False)]):
        received = 10.0 + index * 0.1
        stats.frame_received(stamp_s=500.0 + index * 0.1, now_s=received)
        if replaced:
            stats.frame_dropped()
        else:
            stats.frame_classified(received, received + latency_ms / 1000, inference_ms=10.0)
    values = stats.snapshot(now_s=10.5)
    assert values['fps'] == pytest.approx(3 / 0.44)
    assert values['network fps'] == pytest.approx(100.0)
    assert values['latency p50 ms'] == pytest.approx(40.0)
    assert values['latency p90 ms'] == pytest.approx(57.0)
    assert values['overhead p50 ms'] == pytest.approx(30.0)
    assert values['inference p99 ms'] == pytest.approx(10.0)
    assert (values['frames received'], values['frames classified'],
            values['frames dropped'], values['frames rejected']) == (5, 4, 1, 0)
    assert values['input rate (header stamps)'] == pytest.approx(10.0)
    assert values['received rate'] == pytest.approx(10.0)


def test_rejections_are_counted_and_the_last_reason_kept():
    stats = FrameStats(window_s=1.0)
    stats.frame_rejected('unsupported image encoding 32FC1')
    stats.frame_rejected('mono8 image has zero size')
    values = stats.snapshot(now_s=0.0)
    assert values['frames rejected'] == 2
    assert values['last error'] == 'mono8 image has zero size'


def test_snapshot_before_any_frame_reads_zero_rates_and_no_percentiles():
    values = FrameStats(window_s=1.0).snapshot(now_s=3.0)
    assert (values['fps'], values['network fps'], values['received rate']) == (0.0, 0.0, 0.0)
    assert not [key for key in values if key.endswith(' ms')]


def test_frame_classified_returns_the_fps_over_the_window():
    stats = FrameStats(window_s=1.0)
    answers = [stats.frame_classified(t * 0.25, t * 0.25 + 0.01, 5.0) for t in range(9)]
    assert answers[0] == 0.0
    assert answers[-1] == pytest.approx(4.0)
