"""The classifier node as a real process over DDS: labels, fps, live switches, bad input."""

import statistics
import time

from classifier_testing import (CATS, CHELSEA_SIZE, classifier, COFFEE_SIZE, CUPS, diagnostics,
                                get_parameter, image_source, labels_between, NODE,
                                outputs, publish_until_classified, set_parameter, SOURCE,
                                stamp_s, top_label, wait_for_active_model,
                                wait_for_diagnostics, wait_for_subscriber)
import cv2
import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from ros_processes import node_process, ros_params
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String

from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.classifier import class_groups_path


def test_labels_carry_the_input_stamp_and_fps_tracks_a_5_hz_input(ros):
    out = outputs(ros)
    images = ros.subscribe(Image, 'image')
    with classifier(), image_source(rate_hz=5.0):
        ros.spin_until(lambda: len(images) >= 12 and len(out['classification']) >= 14, 20.0)
        # ~/fps spans the last fps_window (2 s). The first label goes out late (first-time
        # costs of a frame's way through), which makes its window read fast: 5.8 Hz for the
        # second label, 5.05 Hz 1.8 s on, on an idle VM. So read it once that label is out.
        settled_at = out['fps'][0][0] + 2.5
        ros.spin_until(lambda: sum(at > settled_at for at, _ in out['fps']) >= 5, 10.0)
    settled_fps = [m.data for at, m in out['fps'] if at > settled_at]
    size_at = {stamp_s(msg): (msg.width, msg.height) for _, msg in images}
    tops = {}
    for at, msg in out['classification']:
        if stamp_s(msg) < min(size_at):
            continue  # this listener had not matched the image source yet
        assert stamp_s(msg) in size_at, 'a classification stamp that no image had'
        assert msg.header.frame_id == 'camera'
        assert len(msg.results) == 5
        tops.setdefault(size_at[stamp_s(msg)], set()).add(top_label(out, msg))
    assert tops[CHELSEA_SIZE] <= CATS and tops[COFFEE_SIZE] <= CUPS
    assert {m.data for _, m in out['label']} == set().union(*tops.values())
    assert len(settled_fps) >= 5
    assert statistics.median(settled_fps[-5:]) == pytest.approx(5.0, abs=0.5)
    assert all(0 < m.data < 1000 for _, m in out['inference_ms'])
    label_info = out['label_info'][-1][1]
    assert len(label_info.class_map) == 1000
    assert (label_info.class_map[281].class_id, label_info.class_map[281].class_name) == (
        281, 'tabby')
    level, values = diagnostics(out['diagnostics'])
    assert values['model'] == 'lite0_int8' and values['precision'] == 'int8'
    assert float(values['input rate (header stamps)']) == pytest.approx(5.0, abs=0.25)
    assert (values['frames rejected'], values['frames lost upstream']) == ('0', '0')


def ros_now_s(ros):
    return ros.node.get_clock().now().nanoseconds * 1e-9


def test_switch_from_lite2_to_lite0_160_int8_at_30_hz_leaves_no_gap_over_3_frames(ros, parameters):
    out = outputs(ros)
    period = 1 / 30
    with classifier(model='lite2') as node, image_source(rate_hz=30.0, width=320, height=240):
        ros.spin_until(lambda: len(out['classification']) >= 30, timeout_s=20.0)
        call_at, call_monotonic = ros_now_s(ros), time.monotonic()
        result, call_s = set_parameter(ros, parameters, 'model', 'lite0_160_int8')
        assert result.successful, result.reason
        landed_monotonic = wait_for_active_model(ros, out, 'lite0_160_int8')
        landed_at = ros_now_s(ros)
        ros.spin_for(2.0)
        assert get_parameter(ros, parameters, 'model') == 'lite0_160_int8'
        values = wait_for_diagnostics(ros, out['diagnostics'],
                                      lambda v: v['model switches'] == '1')
    # Label gaps that touch the switch (from the call to half a second after it landed) must
    # stay within 3 frame periods. Where lite2 alone is slower than that (a loaded CI
    # machine), the bound is twice lite2's own largest gap in the second before the call:
    # the load may take CPU from it, but must not stop it (a blocking load leaves no label
    # for the whole load time).
    stamps = np.array(sorted(stamp_s(msg) for _, msg in out['classification']))
    gaps, ends = np.diff(stamps), stamps[1:]
    near = (ends > call_at) & (stamps[:-1] < landed_at + 0.5)
    lite2_alone = gaps[(ends < call_at) & (ends > call_at - 1.0)]
    allowed = max(3 * period, 2 * lite2_alone.max()) + 0.01
    assert near.sum() >= 5, 'too few labels around the switch'
    assert gaps[near].max() <= allowed, (
        f'largest gap near the switch {gaps[near].max():.3f} s > {allowed:.3f} s (lite2 alone: '
        f'{lite2_alone.max():.3f} s; the call took {call_s:.2f} s, the switch '
        f'{landed_monotonic - call_monotonic:.2f} s)')
    before = [m.data for at, m in out['inference_ms'] if at < call_monotonic]
    after = [m.data for at, m in out['inference_ms'] if at > landed_monotonic + 0.5]
    # lite0_160_int8 has a quarter of lite2's operations (0.20 vs 0.86 GMACs).
    assert statistics.median(after) < statistics.median(before) / 2
    assert values['model'] == 'lite0_160_int8'
    assert 'switched model: lite2' in node.output() and 'loaded in' in node.output()


def test_refused_models_leave_the_old_model_serving(ros, parameters, tmp_path):
    out = outputs(ros)
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'this is not an ONNX model')
    refusals = {
        'lite9': "unknown model 'lite9'",
        str(tmp_path / 'missing.onnx'): 'model file not found',
        str(corrupt): str(corrupt),
    }
    with classifier(), image_source(rate_hz=10.0):
        ros.spin_until(lambda: out['classification'], timeout_s=20.0)
        for model, reason in refusals.items():
            result, _ = set_parameter(ros, parameters, 'model', model)
            assert not result.successful and reason in result.reason, result.reason
        for name, value, reason in (('backend', 'cuda', 'parameter backend'),
                                    ('top_k', 0, 'top_k'),
                                    ('input_transport', 'compressed', 'read-only')):
            result, _ = set_parameter(ros, parameters, name, value)
            assert not result.successful and reason in result.reason, result.reason
        refused_at = time.monotonic()
        ros.spin_until(lambda: len(labels_between(out, refused_at)) >= 5, 5.0)
        assert get_parameter(ros, parameters, 'model') == 'lite0_int8'
        values = wait_for_diagnostics(ros, out['diagnostics'],
                                      lambda v: v['refused switches'] == '4')
    assert len(labels_between(out, refused_at)) >= 5
    assert values['model'] == 'lite0_int8' and values['model switches'] == '0'
    assert 'parameter backend' in values['last error']
    assert any(status.level == status.WARN and 'refused switches' in status.message
               for _, array in out['diagnostics'] for status in array.status)


def test_spin_wait_set_at_runtime_reloads_the_model_with_spinning_cpu_threads(ros, parameters):
    out = outputs(ros)
    with classifier(threads=2), image_source(rate_hz=10.0):
        ros.spin_until(lambda: out['classification'], timeout_s=20.0)
        before = wait_for_diagnostics(ros, out['diagnostics'], lambda v: True)
        result, _ = set_parameter(ros, parameters, 'spin_wait', True)
        assert result.successful, result.reason
        after = wait_for_diagnostics(ros, out['diagnostics'],
                                     lambda v: v['model switches'] == '1', timeout_s=20.0)
        switched_at = time.monotonic()
        ros.spin_until(lambda: len(labels_between(out, switched_at)) >= 5, 5.0)
    assert (before['cpu threads'], after['cpu threads']) == (
        '2, idle ones sleep', '2, idle ones spin')  # sleeping: the node's default
    assert after['model'] == 'lite0_int8' and len(labels_between(out, switched_at)) >= 5


def test_class_groups_switch_turns_labels_into_group_names_and_back(ros, parameters, tmp_path):
    out = outputs(ros)
    spec = load_class_groups(class_groups_path('imagenet_coarse'))
    group_names = [name for name, _ in spec.groups] + ['other'] * (spec.unlisted == 'other')
    bad = tmp_path / 'bad_groups.yaml'
    bad.write_text('name: bad\ngroups:\n  cats: [tabby, not a class]\n')
    with classifier(), image_source(rate_hz=10.0):
        ros.spin_until(lambda: out['classification'], timeout_s=20.0)
        result, _ = set_parameter(ros, parameters, 'class_groups', 'imagenet_coarse')
        assert result.successful, result.reason
        grouped_at = time.monotonic()
        ros.spin_for(1.5)
        refused, _ = set_parameter(ros, parameters, 'class_groups', str(bad))
        refused_at = time.monotonic()
        ros.spin_for(1.0)
        # Labels of the switch can arrive before its answer: the window ends at the ask.
        ungroup_asked_at = time.monotonic()
        result, _ = set_parameter(ros, parameters, 'class_groups', '')
        assert result.successful, result.reason
        ungrouped_at = time.monotonic()
        ros.spin_for(1.0)
    grouped = labels_between(out, grouped_at + 0.2, refused_at)
    assert 'cat' in grouped and set(grouped) <= set(group_names)
    assert not refused.successful and "'not a class'" in refused.reason
    still_grouped = labels_between(out, refused_at + 0.2, ungroup_asked_at)
    assert 'cat' in still_grouped and set(still_grouped) <= set(group_names)
    ungrouped = labels_between(out, ungrouped_at + 0.2)
    assert set(ungrouped) & CATS and not set(ungrouped) & set(group_names)
    label_infos = [[c.class_name for c in msg.class_map] for _, msg in out['label_info']]
    assert group_names in label_infos
    assert len(label_infos[-1]) == 1000


def test_fine_tuned_model_is_switched_to_at_runtime_like_any_other(
        ros, parameters, finetuned, finetune_model_dir):
    out = outputs(ros)
    with classifier(model='lite0_160', model_dir=str(finetune_model_dir)), \
            image_source(rate_hz=10.0):
        ros.spin_until(lambda: out['classification'], timeout_s=20.0)
        result, _ = set_parameter(ros, parameters, 'model', 'coarse5')
        assert result.successful, result.reason
        switched_at = wait_for_active_model(ros, out, 'coarse5')
        ros.spin_until(lambda: len(labels_between(out, switched_at + 0.2)) >= 8, 10.0)
    labels = labels_between(out, switched_at + 0.2)
    assert len(labels) >= 8 and set(labels) <= set(finetuned.classes)
    assert [c.class_name for c in out['label_info'][-1][1].class_map] == list(finetuned.classes)


def image_msg(rgb, stamp_sec, encoding='rgb8', **fields):
    msg = Image(encoding=encoding, height=rgb.shape[0], width=rgb.shape[1],
                step=rgb.shape[1] * 3, data=rgb.tobytes())
    msg.header.stamp.sec = stamp_sec
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg


def test_every_bad_raw_frame_is_rejected_and_the_next_good_one_classified(ros, photos):
    out = outputs(ros)
    cat = photos['chelsea']
    width = cat.shape[1]
    bad_frames = [
        image_msg(cat, 100, step=width * 3 - 1),
        image_msg(cat, 101, data=cat.tobytes()[:1000]),
        image_msg(cat, 102, encoding='32FC1'),
        image_msg(cat[:0], 103, data=b''),
    ]
    publisher = ros.node.create_publisher(Image, 'image', qos_profile_sensor_data)
    try:
        with classifier():
            wait_for_subscriber(ros, publisher)
            assert publish_until_classified(ros, publisher, image_msg(cat, 200), out)
            for index, bad in enumerate(bad_frames, start=1):
                publisher.publish(bad)
                values = wait_for_diagnostics(  # before a good frame could overwrite it
                    ros, out['diagnostics'], lambda v: v['frames rejected'] == str(index))
                assert values['frames rejected'] == str(index), values['last error']
                good = publish_until_classified(ros, publisher, image_msg(cat, 200 + index), out)
                assert good is not None and top_label(out, good) in CATS, index
    finally:
        ros.node.destroy_publisher(publisher)
    assert 'zero size' in values['last error']


def jpeg_msg(data, stamp_sec):
    msg = CompressedImage(format='jpeg', data=data)
    msg.header.stamp.sec = stamp_sec
    return msg


def test_empty_and_corrupt_jpeg_are_rejected_and_the_next_jpeg_classified(ros, photos):
    out = outputs(ros)
    jpeg = cv2.imencode('.jpg', cv2.cvtColor(photos['coffee'], cv2.COLOR_RGB2BGR))[1].tobytes()
    publisher = ros.node.create_publisher(CompressedImage, 'image/compressed',
                                          qos_profile_sensor_data)
    try:
        with classifier(input_transport='compressed'):
            wait_for_subscriber(ros, publisher)
            assert publish_until_classified(ros, publisher, jpeg_msg(jpeg, 300), out)
            for index, data in enumerate((b'', jpeg[:2000]), start=1):
                publisher.publish(jpeg_msg(data, 300 + index))
                values = wait_for_diagnostics(
                    ros, out['diagnostics'], lambda v: v['frames rejected'] == str(index))
                assert values['frames rejected'] == str(index), values['last error']
            good = publish_until_classified(ros, publisher, jpeg_msg(jpeg, 310), out)
    finally:
        ros.node.destroy_publisher(publisher)
    assert 'cannot decode 2000 bytes' in values['last error']
    assert good is not None and top_label(out, good) in CUPS


def test_remapped_input_and_renamed_node_classify_the_remapped_stream(ros):
    labels = ros.subscribe(String, 'front_classifier/label', 10)
    renamed = ['-r', '__node:=front_classifier', '-r', 'image:=/front/image_raw']
    with node_process(NODE, renamed, ready_text='classifying /front/image_raw'), \
            node_process(SOURCE, ['-r', 'image:=/front/image_raw', *ros_params(rate_hz=10.0)],
                         ready_text='publishing'):
        ros.spin_until(lambda: len(labels) >= 8, timeout_s=20.0)
    assert {m.data for _, m in labels} & CATS


def test_unknown_model_at_start_exits_1_naming_it_without_traceback():
    with node_process(NODE, ros_params(model='lite9'), expect_clean_exit=False) as node:
        assert node.wait(30.0) == 1
    assert "unknown model 'lite9'" in node.output()
    assert 'Traceback' not in node.output()
