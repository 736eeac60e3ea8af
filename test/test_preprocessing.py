"""Preprocessing matches the models' training: centre crop, resize, scaling."""

import numpy as np
import pytest

from jetson_classifier.errors import ImageError
from jetson_classifier.inference.model_info import ModelInfo
from jetson_classifier.inference.preprocessing import (centre_crop, PIXELS, preprocess,
                                                       preprocess_batch)

LITE = ModelInfo(labels=('a', 'b'), input_size=4, crop_fraction=1.0, mean=(0.5,) * 3,
                 std=(0.5,) * 3)


def test_centre_crop_takes_the_fraction_of_the_short_side_from_the_middle():
    image = np.arange(300 * 451 * 3, dtype=np.uint32).reshape(300, 451, 3)
    crop = centre_crop(image, 224 / 256)
    # round(300 * 0.875) = 262; offsets (300 - 262) // 2 = 19 and (451 - 262) // 2 = 94.
    assert crop.shape == (262, 262, 3)
    assert crop[0, 0, 0] == image[19, 94, 0]


def test_white_and_black_map_to_plus_and_minus_one_with_mean_and_std_one_half():
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, 4:] = 255
    tensor = preprocess(image, LITE)
    assert tensor.shape == (1, 3, 4, 4) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0, :, :, 0], -1.0)
    np.testing.assert_allclose(tensor[0, :, :, 3], 1.0)


def test_channels_come_out_in_rgb_order_or_reversed_for_bgr_models():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # pure red
    rgb = preprocess(image, LITE)[0, :, 0, 0]
    bgr = preprocess(image, ModelInfo(**{**LITE.__dict__, 'color_order': 'BGR'}))[0, :, 0, 0]
    np.testing.assert_allclose(rgb, [1, -1, -1])
    np.testing.assert_allclose(bgr, [-1, -1, 1])


def test_torchvision_statistics_are_applied_per_channel():
    info = ModelInfo(labels=('a',), input_size=2, crop_fraction=1.0)
    tensor = preprocess(np.full((2, 2, 3), 255, np.uint8), info)
    np.testing.assert_allclose(tensor[0, :, 0, 0], [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224,
                                                    (1 - 0.406) / 0.225], rtol=1e-6)


def test_batch_stacks_images_of_different_sizes(photos):
    batch = preprocess_batch([photos['chelsea'], photos['coffee']], LITE)
    assert batch.shape == (2, 3, 4, 4) and batch.flags.c_contiguous
    assert not np.allclose(batch[0], batch[1])


def test_a_pixel_batch_holds_the_resized_pixels_the_float_batch_normalises(photos):
    images = [photos['chelsea'], photos['coffee']]
    pixels = preprocess_batch(images, LITE, PIXELS)
    assert pixels.shape == (2, 3, 4, 4) and pixels.dtype == np.uint8
    np.testing.assert_allclose(pixels / 127.5 - 1, preprocess_batch(images, LITE), atol=1e-6)


def test_a_pixel_batch_for_a_bgr_model_reverses_the_channels():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # pure red
    bgr = ModelInfo(**{**LITE.__dict__, 'color_order': 'BGR'})
    assert preprocess(image, bgr, PIXELS)[0, :, 0, 0].tolist() == [0, 0, 255]


def test_an_input_type_no_model_takes_is_refused():
    with pytest.raises(ValueError, match='float32 or uint8'):
        preprocess(np.zeros((4, 4, 3), np.uint8), LITE, np.float16)


@pytest.mark.parametrize('bad', [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((0, 4, 3), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 'not an image'])
def test_wrong_shaped_or_typed_arrays_raise_image_error(bad):
    with pytest.raises(ImageError, match='expected a non-empty HxWx3 uint8 RGB array'):
        preprocess(bad, LITE)
