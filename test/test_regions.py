"""Regions of a frame: boxes from a roi or a detector, placed, clipped or rejected, cropped."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.model_info import ModelInfo
from jetson_classifier.inference.preprocessing import preprocess_batch
from jetson_classifier.pipeline.frame_sources import builtin_photos
from jetson_classifier.pipeline.regions import (Box, detection_box, NOT_FINITE, OUTSIDE_IMAGE,
                                                OUTSIDE_ROI, place, Region, RegionError,
                                                roi_box, ZERO_SIZE)


def bbox(cx, cy, width, height, theta=0.0):
    """Return a vision_msgs BoundingBox2D-like object."""
    return SimpleNamespace(center=SimpleNamespace(position=SimpleNamespace(x=cx, y=cy),
                                                  theta=theta),
                           size_x=width, size_y=height)


def test_a_box_inside_the_image_covers_the_whole_pixels_it_touches():
    assert place(Box(10, 20, 30, 40), 640, 480) == Region(10, 20, 40, 60, False)
    assert place(Box(10.5, 20.2, 30, 40), 640, 480) == Region(10, 20, 41, 61, False)


def test_a_box_sticking_out_is_clipped_to_the_image():
    assert place(Box(-10, 470, 30, 40), 640, 480) == Region(0, 470, 20, 480, True)
    assert place(Box(600, -5, 100, 10), 640, 480) == Region(600, 0, 640, 5, True)


@pytest.mark.parametrize('box, reason', [
    (Box(math.nan, 0, 10, 10), NOT_FINITE),
    (Box(0, 0, math.inf, 10), NOT_FINITE),
    (Box(0, 0, 0, 10), ZERO_SIZE),
    (Box(0, 0, 10, -3), ZERO_SIZE),
    (Box(640, 0, 10, 10), OUTSIDE_IMAGE),
    (Box(-20, -20, 10, 10), OUTSIDE_IMAGE),
])
def test_a_bad_box_is_rejected_with_its_reason(box, reason):
    with pytest.raises(RegionError) as raised:
        place(box, 640, 480)
    assert raised.value.reason == reason
    assert f'{reason} (640x480 image)' in str(raised.value)


def test_a_roi_bounds_a_box_and_a_box_outside_it_is_rejected():
    belt = Box(100, 200, 300, 100)
    assert place(Box(50, 250, 100, 20), 640, 480, belt) == Region(100, 250, 150, 270, True)
    with pytest.raises(RegionError, match=OUTSIDE_ROI):
        place(Box(0, 0, 50, 50), 640, 480, belt)
    # A roi larger than the frame bounds nothing beyond the frame itself.
    assert place(Box(600, 400, 100, 100), 640, 480, Box(0, 0, 1000, 1000)).right == 640


def test_an_upright_detection_box_is_its_centre_and_size():
    assert detection_box(bbox(50, 40, 20, 10)) == Box(40, 35, 20, 10)


def test_a_rotated_detection_box_becomes_the_upright_box_around_it():
    box = detection_box(bbox(50, 50, 20, 10, theta=math.pi / 2))
    assert box == pytest.approx(Box(45, 40, 10, 20))
    box = detection_box(bbox(0, 0, 10, 10, theta=math.pi / 4))
    assert box.width == pytest.approx(10 * math.sqrt(2))


def test_a_detection_with_a_negative_size_stays_bad_whatever_its_rotation():
    with pytest.raises(RegionError, match=ZERO_SIZE):
        place(detection_box(bbox(50, 50, -20, 10, theta=0.3)), 640, 480)


def test_roi_parameter_is_checked_and_named():
    assert roi_box([]) is None and roi_box(None) is None
    assert roi_box([0, 120, 640, 240]) == Box(0, 120, 640, 240)
    for bad in ([0, 0, 10], [0, 0, 0, 10], [-1, 0, 10, 10]):
        with pytest.raises(ClassifierError, match=r'parameter belt\.roi: '):
            roi_box(bad, 'belt.roi')


def test_a_region_is_preprocessed_exactly_like_the_same_pixels_as_a_photo():
    photo = builtin_photos()[0]
    frame = np.zeros((photo.shape[0] + 100, photo.shape[1] + 50, 3), np.uint8)
    frame[60:60 + photo.shape[0], 30:30 + photo.shape[1]] = photo
    region = place(Box(30, 60, photo.shape[1], photo.shape[0]), frame.shape[1], frame.shape[0])
    crop = region.crop(frame)
    assert np.shares_memory(crop, frame), 'the crop should be a view, not a copy'
    info = ModelInfo(labels=('a',), input_size=224, mean=(0.5,) * 3, std=(0.5,) * 3)
    np.testing.assert_array_equal(preprocess_batch([crop], info),
                                  preprocess_batch([photo], info))
