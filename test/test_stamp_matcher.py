"""Frames and detections pair by exact header stamp; what waits too long is dropped and counted."""

from jetson_classifier.pipeline.stamp_matcher import DETECTIONS, FRAME, StampMatcher


def test_a_frame_and_its_detections_pair_whichever_comes_first():
    matcher = StampMatcher(timeout_s=1.0)
    assert matcher.add_frame(1.5, 'frame 1', 0.0) is None
    assert matcher.add_detections(1.5, 'boxes 1', 0.1) == ('frame 1', 'boxes 1')
    assert matcher.add_detections(2.5, 'boxes 2', 0.2) is None
    assert matcher.add_frame(2.5, 'frame 2', 0.3) == ('frame 2', 'boxes 2')
    assert matcher.unmatched == {FRAME: 0, DETECTIONS: 0}


def test_only_an_exact_stamp_pairs():
    matcher = StampMatcher(timeout_s=1.0)
    matcher.add_frame(1.0, 'frame', 0.0)
    assert matcher.add_detections(1.0 + 1e-9, 'boxes', 0.0) is None


def test_what_waits_longer_than_the_timeout_is_dropped_and_counted():
    matcher = StampMatcher(timeout_s=1.0)
    matcher.add_frame(1.0, 'frame without detections', 0.0)
    matcher.add_detections(7.0, 'detections without frame', 0.5)
    matcher.expire(1.2)
    assert matcher.unmatched == {FRAME: 1, DETECTIONS: 0}
    matcher.expire(1.6)
    assert matcher.unmatched == {FRAME: 1, DETECTIONS: 1}
    assert matcher.add_frame(7.0, 'frame too late', 1.7) is None


def test_the_buffer_keeps_only_the_newest_when_full():
    matcher = StampMatcher(timeout_s=10.0, capacity=3)
    for stamp in range(5):
        matcher.add_frame(stamp, f'frame {stamp}', 0.0)
    assert matcher.unmatched[FRAME] == 2
    assert matcher.add_detections(0, 'boxes 0', 0.0) is None, 'the oldest frame was dropped'
    assert matcher.add_detections(4, 'boxes 4', 0.0) == ('frame 4', 'boxes 4')


def test_the_same_stamp_again_replaces_the_one_waiting():
    matcher = StampMatcher(timeout_s=1.0)
    matcher.add_frame(3.0, 'first', 0.0)
    matcher.add_frame(3.0, 'second', 0.1)
    assert matcher.add_detections(3.0, 'boxes', 0.2) == ('second', 'boxes')
    assert matcher.unmatched[FRAME] == 1
