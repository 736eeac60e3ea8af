"""The sliding-window rate behind ~/fps: exact on steady streams, 0 once a stream stalls."""

import pytest

from jetson_classifier.rate_meter import RateMeter


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
