"""Camera names of a multi-camera classifier, and the topic and parameter names they give."""

import pytest

from jetson_classifier.errors import ClassifierError
from jetson_classifier.pipeline.cameras import check_cameras, parameter, topic


def test_the_camera_named_empty_keeps_the_single_camera_names():
    assert (topic('', 'image'), parameter('', 'roi')) == ('image', 'roi')
    assert (topic('belt', 'image/compressed'), parameter('belt', 'roi')) == (
        'belt/image/compressed', 'belt.roi')


def test_camera_names_are_ros_name_tokens_given_once():
    assert check_cameras(['belt', 'gripper_2', '']) == ('belt', 'gripper_2', '')
    for names, reason in (([], 'no camera'), (['belt', 'belt'], "['belt'] given more than once"),
                          (['2nd'], "'2nd' is not a camera name"),
                          (['cell/belt'], "'cell/belt' is not a camera name")):
        with pytest.raises(ClassifierError, match='parameter cameras: ') as raised:
            check_cameras(names)
        assert reason in str(raised.value)
