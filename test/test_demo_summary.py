"""The demo's bookkeeping: per-model fps, switches, labels and the status line, no ROS."""

import pytest

from jetson_classifier.commands.demo_summary import DemoRecord, network_fps, summary_text


def test_network_fps_is_1000_over_the_median_inference_time():
    assert network_fps([10.0, 20.0, 60.0]) == pytest.approx(50.0)
    assert network_fps([]) is None


def record_of_a_switch():
    """lite2 for 4 s at 20 and 30 ms, then lite0 at 5 ms; the target raised at 3 s."""
    record = DemoRecord()
    record.on_target(0.0, 10.0)
    record.on_active_model(0.5, 'lite2')
    for t, ms in ((1.0, 20.0), (2.0, 30.0)):
        record.on_inference_ms(t, ms)
        record.on_label(t, 'tabby')
        record.on_end_to_end_fps(t, 29.0)
    record.on_target(3.0, 80.0, raised=True)
    record.on_decision(3.1, 'plan lite0')
    record.on_active_model(4.5, 'lite0')
    record.on_active_model(4.6, 'lite0')
    for t in (5.0, 5.5, 6.0):
        record.on_inference_ms(t, 5.0)
        record.on_label(t, 'espresso')
        record.on_end_to_end_fps(t, 30.0)
    record.on_exit('switcher', 0)
    record.on_exit('classifier', None)
    return record


def test_summary_splits_time_frames_and_fps_by_the_active_model():
    summary = record_of_a_switch().summary(end_t=10.5)
    lite2, lite0 = summary['models']
    assert (lite2['model'], lite2['seconds'], lite2['frames']) == ('lite2', 4.0, 2)
    assert lite2['network_fps'] == pytest.approx(40.0)
    assert lite2['median_inference_ms'] == pytest.approx(25.0)
    assert lite2['end_to_end_fps'] == pytest.approx(29.0)
    assert (lite0['model'], lite0['seconds'], lite0['frames']) == ('lite0', 6.0, 3)
    assert lite0['network_fps'] == pytest.approx(200.0)
    assert lite0['top_labels'] == ['espresso']
    assert summary['models_used'] == ['lite2', 'lite0']


def test_a_repeated_active_model_is_not_a_switch():
    summary = record_of_a_switch().summary(end_t=10.5)
    assert summary['switches'] == [{'t_s': 4.5, 'from': 'lite2', 'to': 'lite0'}]
    assert summary['raised_at_s'] == 3.0
    assert summary['switches_after_raise'] == 1


def test_summary_counts_labels_and_keeps_targets_decisions_and_exit_codes():
    summary = record_of_a_switch().summary(end_t=10.5)
    assert summary['labels_seen'] == {'espresso': 3, 'tabby': 2}
    assert summary['targets'] == [{'t_s': 0.0, 'min_fps': 10.0}, {'t_s': 3.0, 'min_fps': 80.0}]
    assert summary['decisions'] == [{'t_s': 3.1, 'decision': 'plan lite0'}]
    assert summary['exit_codes'] == {'switcher': 0, 'classifier': None}


def test_switches_before_the_raise_do_not_count_after_it():
    record = DemoRecord()
    record.on_active_model(1.0, 'lite2')
    record.on_active_model(2.0, 'lite1')
    record.on_target(5.0, 50.0, raised=True)
    assert record.summary(end_t=6.0)['switches_after_raise'] == 0


def test_status_line_shows_the_last_second_only():
    record = record_of_a_switch()
    line = record.status_line(6.2)
    assert line.startswith('[  6.2 s] lite0')
    assert 'espresso' in line
    assert 'network  200.0 fps (  5.0 ms)' in line
    assert 'end-to-end  30.0 fps' in line
    assert line.endswith('min_fps 80')
    assert 'network      - fps (    - ms)' in record.status_line(9.0)


def test_model_network_fps_is_over_all_its_frames():
    record = record_of_a_switch()
    assert record.model_network_fps('lite2') == pytest.approx(40.0)
    assert record.model_network_fps('lite1') is None


def test_summary_text_names_switches_models_and_labels():
    text = summary_text(record_of_a_switch().summary(end_t=10.5))
    assert 'Demo of 10 s: 1 switch(es), models used: lite2, lite0' in text
    assert 'at   4.5 s  lite2 -> lite0' in text
    assert '       3  espresso' in text
    assert 'classifier     None' in text


def test_with_named_cameras_the_status_line_and_summary_show_each_camera():
    record = DemoRecord()
    record.on_active_model(0.0, 'lite0')
    for t, camera, label, fps in ((1.0, 'front', 'tabby', 30.0),
                                  (1.1, 'rear', 'espresso', 15.0),
                                  (1.2, 'front', 'tiger cat', 29.0)):
        record.on_label(t, label, camera)
        record.on_end_to_end_fps(t, fps, camera)
    line = record.status_line(1.5)
    assert 'front: tiger cat         29.0 fps | rear: espresso          15.0 fps' in line
    summary = record.summary(end_t=2.0)
    assert summary['cameras'] == {'front': {'frames': 2, 'end_to_end_fps': 29.5},
                                  'rear': {'frames': 1, 'end_to_end_fps': 15.0}}
    assert 'front            2 frames  end-to-end  29.5 fps' in summary_text(summary)
