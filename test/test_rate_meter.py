"""Sliding-window rates: ~/fps (exact on steady streams, 0 once stalled) and network fps."""

import pytest

from jetson_classifier.pipeline.rate_meter import NetworkFps, RateMeter


def feed(meter, start_s, rate_hz, count):
    for index in range(count):
        meter.add(start_s + index / rate_hz)
    return start_s + (count - 1) / rate_hz


def test_steady_10_hz_stream_reads_10_per_second():
    meter = RateMeter(window_s=2.0)
    last = feed(meter, 100.0, 10.0, 11)
    assert meter.rate(last) == pytest.approx(10.0)


def test_only_events_inside_the_window_count():
    meter = RateMeter(window_s=1.0)
    feed(meter, 0.0, 20.0, 40)
    last = feed(meter, 2.0, 5.0, 11)
    assert meter.rate(last) == pytest.approx(5.0)


def test_stalled_stream_reads_zero_one_window_after_its_last_event():
    meter = RateMeter(window_s=1.0)
    last = feed(meter, 0.0, 30.0, 30)
    assert meter.rate(last + 0.5) == pytest.approx(30.0)
    assert meter.rate(last + 1.01) == 0.0


def test_fewer_than_two_events_read_zero():
    meter = RateMeter(window_s=1.0)
    assert meter.rate(5.0) == 0.0
    meter.add(5.0)
    assert meter.rate(5.0) == 0.0


def test_shorter_window_forgets_older_events():
    meter = RateMeter(window_s=10.0)
    feed(meter, 0.0, 2.0, 10)
    last = feed(meter, 5.0, 10.0, 11)
    assert meter.rate(last) == pytest.approx(20 / 6.0)
    meter.window_s = 1.0
    assert meter.rate(last) == pytest.approx(10.0)


@pytest.mark.parametrize('window', [0.0, -1.0])
def test_rejects_a_window_that_is_not_positive(window):
    with pytest.raises(ValueError, match='rate window must be > 0'):
        RateMeter(window)


def test_network_fps_is_1000_over_the_median_inference_ms_in_the_window():
    meter = NetworkFps(window_s=1.0)
    for t, ms in ((0.0, 40.0), (0.5, 10.0), (0.9, 12.5), (1.1, 400.0), (1.2, 20.0)):
        meter.add(t, ms)
    # At 1.2 the window is [0.2, 1.2]: median of 10, 12.5, 400, 20 is 16.25 ms.
    assert meter.fps(1.2) == pytest.approx(1000.0 / 16.25)
    assert meter.fps(1.6) == pytest.approx(1000.0 / 20.0)


def test_network_fps_is_none_once_the_newest_sample_is_older_than_the_window():
    meter = NetworkFps(window_s=1.0)
    meter.add(0.0, 10.0)
    assert meter.fps(1.0) == pytest.approx(100.0)
    assert meter.fps(1.01) is None


def test_network_fps_ignores_bad_samples_and_forgets_on_clear():
    meter = NetworkFps(window_s=2.0)
    for ms in (0.0, -5.0, float('nan'), float('inf')):
        meter.add(0.0, ms)
    assert meter.fps(0.0) is None
    meter.add(0.0, 8.0)
    meter.clear()
    assert meter.fps(0.0) is None


def test_network_fps_window_has_a_floor_so_zero_window_still_measures():
    meter = NetworkFps(window_s=0.0)
    meter.add(0.0, 20.0)
    assert meter.window_s == 0.5
    assert meter.fps(0.4) == pytest.approx(50.0)
