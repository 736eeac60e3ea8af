"""Image conversion: byte layouts pinned by hand, round trips on real photos, bad input."""

import array
import dataclasses
import io

import cv2
import numpy as np
from PIL import Image
import pytest
from skimage import data

from jetson_classifier.errors import ImageError
from jetson_classifier.pipeline import image_conversion
from jetson_classifier.pipeline.image_conversion import (
    compressed_to_rgb, image_to_rgb, rgb_to_compressed, rgb_to_image, SUPPORTED_ENCODINGS)

LOSSLESS = ('rgb8', 'bgr8', 'rgba8', 'bgra8')
YUV = ('yuv422', 'yuv422_yuy2', 'uyvy', 'yuyv')
# Encoding to YUV 4:2:2 needs OpenCV >= 4.9; JetPack 6's 4.5.4 decodes it only.
needs_yuv_encoder = pytest.mark.skipif(
    not hasattr(cv2, 'COLOR_RGB2YUV_UYVY'),
    reason=f'OpenCV {cv2.__version__} cannot encode YUV 4:2:2 (4.9 can)')
BAYER = ('bayer_rggb8', 'bayer_bggr8', 'bayer_gbrg8', 'bayer_grbg8')


def photos():
    """Real photos; chelsea is 451 wide (odd), so it is cropped to 450 where pairs matter."""
    return {'chelsea': data.chelsea(), 'coffee': data.coffee()}


def even_width(rgb):
    return rgb[:, :rgb.shape[1] // 2 * 2]


def decode(rgb, encoding):
    step, payload = rgb_to_image(rgb, encoding)
    return image_to_rgb(encoding, rgb.shape[0], rgb.shape[1], step, array.array('B', payload))


def assert_grey(rgb):
    np.testing.assert_array_equal(rgb[..., 1:], np.repeat(rgb[..., :1], 2, axis=2))


def mean_abs_error(a, b):
    return np.abs(a.astype(int) - b).mean()


TWO_PIXELS = np.array([[[10, 20, 30], [40, 50, 60]]], dtype=np.uint8)


@pytest.mark.parametrize('encoding, payload', [
    ('rgb8', [10, 20, 30, 40, 50, 60]),
    ('bgr8', [30, 20, 10, 60, 50, 40]),
    ('rgba8', [10, 20, 30, 255, 40, 50, 60, 255]),
    ('bgra8', [30, 20, 10, 255, 60, 50, 40, 255]),
])
def test_colour_encodings_lay_out_bytes_as_named(encoding, payload):
    step, encoded = rgb_to_image(TWO_PIXELS, encoding)
    assert step == len(payload)
    assert list(encoded) == payload
    np.testing.assert_array_equal(image_to_rgb(encoding, 1, 2, step, bytes(payload)), TWO_PIXELS)


@pytest.mark.parametrize('encoding', ['rgba8', 'bgra8'])
def test_alpha_is_dropped(encoding):
    step, payload = rgb_to_image(TWO_PIXELS, encoding)
    transparent = bytes(0 if i % 4 == 3 else b for i, b in enumerate(payload))
    np.testing.assert_array_equal(image_to_rgb(encoding, 1, 2, step, transparent), TWO_PIXELS)


@pytest.mark.parametrize('name', ['chelsea', 'coffee'])
@pytest.mark.parametrize('encoding', LOSSLESS)
def test_lossless_encodings_round_trip_exactly(encoding, name):
    rgb = photos()[name]
    np.testing.assert_array_equal(decode(rgb, encoding), rgb)


def test_mono8_of_grey_photo_round_trips_exactly():
    grey = decode(data.coffee(), 'mono8')
    assert_grey(grey)
    np.testing.assert_array_equal(decode(grey, 'mono8'), grey)


def test_mono8_is_bt601_luma_of_colour():
    rgb = data.coffee()
    _, payload = rgb_to_image(rgb, 'mono8')
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    got = np.frombuffer(payload, np.uint8).reshape(rgb.shape[:2])
    assert np.abs(got - luma).max() <= 1


@pytest.mark.parametrize('is_bigendian, payload', [
    (False, [0x34, 0x12, 0x00, 0xFF, 0xFF, 0x00]),
    (True, [0x12, 0x34, 0xFF, 0x00, 0x00, 0xFF]),
])
def test_mono16_keeps_high_byte_in_declared_byte_order(is_bigendian, payload):
    # pixels 0x1234, 0xFF00, 0x00FF scale to 8 bits as 0x12, 0xFF, 0x00
    rgb = image_to_rgb('mono16', 1, 3, 6, bytes(payload), is_bigendian=is_bigendian)
    np.testing.assert_array_equal(rgb[0], [[0x12] * 3, [0xFF] * 3, [0x00] * 3])


def test_mono16_encodes_little_endian_full_range_and_round_trips_grey():
    grey = decode(data.chelsea(), 'mono8')
    step, payload = rgb_to_image(grey, 'mono16')
    assert step == 2 * grey.shape[1]
    wide = np.frombuffer(payload, '<u2').reshape(grey.shape[:2])
    np.testing.assert_array_equal(wide, grey[..., 0].astype(np.uint16) * 257)
    np.testing.assert_array_equal(decode(grey, 'mono16'), grey)


@pytest.mark.parametrize('encoding, payload', [
    ('yuv422', [128, 16, 128, 235]),
    ('uyvy', [128, 16, 128, 235]),
    ('yuv422_yuy2', [16, 128, 235, 128]),
    ('yuyv', [16, 128, 235, 128]),
])
@needs_yuv_encoder
def test_yuv422_byte_order_black_then_white(encoding, payload):
    # BT.601 video range: Y=16 is black, Y=235 white, U=V=128 no colour
    rgb = image_to_rgb(encoding, 1, 2, 4, bytes(payload))
    np.testing.assert_array_equal(rgb[0], [[0, 0, 0], [255, 255, 255]])
    _, encoded = rgb_to_image(rgb, encoding)
    assert list(encoded) == payload


def test_yuv422_decodes_bt601_red():
    # Y=81, Cb=90, Cr=240 -> R = 1.164*65 + 1.596*112 = 254.4, G and B clip to 0
    rgb = image_to_rgb('yuv422', 1, 2, 4, bytes([90, 81, 240, 81]))
    np.testing.assert_allclose(rgb[0].astype(int), [[255, 0, 0]] * 2, atol=2)


@pytest.mark.parametrize('name', ['chelsea', 'coffee'])
@pytest.mark.parametrize('encoding', YUV)
@needs_yuv_encoder
def test_yuv422_round_trip_within_chroma_subsampling_error(encoding, name):
    # 4:2:2 keeps one colour per pixel pair, so only colour edges lose detail (measured
    # mean error 0.6 chelsea, 1.2 coffee); video range 16-235 adds +-1 of quantisation.
    rgb = even_width(photos()[name])
    back = decode(rgb, encoding)
    assert mean_abs_error(back, rgb) < 1.5
    assert np.abs(back.mean(axis=(0, 1)) - rgb.mean(axis=(0, 1))).max() < 0.5
    flat = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    assert np.abs(decode(flat, encoding).astype(int) - flat).max() <= 1


@pytest.mark.parametrize('encoding, payload', [
    ('bayer_rggb8', [1, 5, 8, 12]),
    ('bayer_bggr8', [3, 5, 8, 10]),
    ('bayer_gbrg8', [2, 6, 7, 11]),
    ('bayer_grbg8', [2, 4, 9, 11]),
])
def test_bayer_mosaic_samples_colour_named_by_pattern(encoding, payload):
    rgb = np.arange(1, 13, dtype=np.uint8).reshape(2, 2, 3)
    step, encoded = rgb_to_image(rgb, encoding)
    assert step == 2
    assert list(encoded) == payload


@pytest.mark.parametrize('encoding', BAYER)
def test_bayer_of_flat_colour_decodes_to_that_colour(encoding):
    flat = np.full((6, 8, 3), (200, 100, 50), np.uint8)
    np.testing.assert_array_equal(decode(flat, encoding), flat)


@pytest.mark.parametrize('name', ['chelsea', 'coffee'])
@pytest.mark.parametrize('encoding', BAYER)
def test_bayer_demosaic_restores_photo_colours_only_for_its_own_pattern(encoding, name):
    # Bilinear demosaicing guesses 2 of 3 colours per pixel: on these photos the right
    # pattern measures a mean error of 2-4; a wrong one swaps or shifts colours (> 20).
    rgb = photos()[name]
    step, payload = rgb_to_image(rgb, encoding)
    h, w = rgb.shape[:2]
    for decoder in BAYER:
        back = image_to_rgb(decoder, h, w, step, payload)
        if decoder == encoding:
            assert mean_abs_error(back, rgb) < 5
            assert np.abs(back.mean(axis=(0, 1)) - rgb.mean(axis=(0, 1))).max() < 2
        else:
            assert mean_abs_error(back, rgb) > 20


@pytest.mark.parametrize('encoding', SUPPORTED_ENCODINGS)
def test_padded_step_decodes_like_packed_rows(encoding):
    if encoding in YUV and not hasattr(cv2, 'COLOR_RGB2YUV_UYVY'):
        pytest.skip(f'OpenCV {cv2.__version__} cannot encode YUV 4:2:2 (4.9 can)')
    rgb = even_width(data.chelsea())
    h, w = rgb.shape[:2]
    step, payload = rgb_to_image(rgb, encoding)
    rows = np.frombuffer(payload, np.uint8).reshape(h, step)
    padded = np.hstack([rows, np.full((h, 7), 0xAB, np.uint8)])
    packed = image_to_rgb(encoding, h, w, step, payload)
    np.testing.assert_array_equal(
        image_to_rgb(encoding, h, w, step + 7, array.array('B', padded.tobytes())), packed)


@pytest.mark.parametrize('padding', [0, 5])
def test_rgb8_is_read_only_view_of_message_data(padding):
    rgb = data.chelsea()
    h, w = rgb.shape[:2]
    rows = np.hstack([rgb.reshape(h, 3 * w), np.zeros((h, padding), np.uint8)])
    message_data = array.array('B', rows.tobytes())
    out = image_to_rgb('rgb8', h, w, 3 * w + padding, message_data)
    assert np.shares_memory(out, np.frombuffer(message_data, np.uint8))
    assert not out.flags.writeable
    np.testing.assert_array_equal(out, rgb)


def test_ignores_bytes_beyond_step_times_height():
    out = image_to_rgb('rgb8', 1, 2, 6, TWO_PIXELS.tobytes() + b'\x99' * 4)
    np.testing.assert_array_equal(out, TWO_PIXELS)


def test_rejects_unknown_encoding_listing_supported():
    with pytest.raises(ImageError, match=r"'rgb16'.*supported: .*bayer_rggb8.*mono16"):
        image_to_rgb('rgb16', 1, 1, 6, bytes(6))
    with pytest.raises(ImageError, match=r"'nv12'.*supported"):
        rgb_to_image(TWO_PIXELS, 'nv12')


@pytest.mark.parametrize('height, width', [(0, 4), (4, 0)])
def test_rejects_zero_width_or_height(height, width):
    with pytest.raises(ImageError, match=rf'rgb8 image has zero size: {width}x{height}'):
        image_to_rgb('rgb8', height, width, 12, bytes(48))


def test_rejects_step_smaller_than_row():
    with pytest.raises(ImageError, match=r'bgra8 step 10 is smaller than one row of 3 pixels '
                                         r'\(12 bytes\)'):
        image_to_rgb('bgra8', 2, 3, 10, bytes(24))


def test_rejects_data_shorter_than_step_times_height():
    with pytest.raises(ImageError, match=r'has 35 bytes, needs step\*height = 12\*3 = 36'):
        image_to_rgb('rgb8', 3, 4, 12, bytes(35))


@pytest.mark.parametrize('encoding', YUV)
def test_rejects_odd_width_for_yuv422(encoding):
    with pytest.raises(ImageError, match=rf'{encoding} packs pixel pairs: .* got 3'):
        image_to_rgb(encoding, 2, 3, 8, bytes(16))
    with pytest.raises(ImageError, match=r'width must be even, got 451'):
        rgb_to_image(data.chelsea(), encoding)


def test_yuv422_encoder_names_opencv_version_it_needs(monkeypatch):
    old_opencv = dataclasses.replace(image_conversion._ENCODINGS['yuv422'], from_rgb=None)
    monkeypatch.setitem(image_conversion._ENCODINGS, 'yuv422', old_opencv)
    with pytest.raises(ImageError, match=r'encoding to yuv422 needs OpenCV >= 4.9'):
        rgb_to_image(TWO_PIXELS, 'yuv422')
    np.testing.assert_array_equal(image_to_rgb('yuv422', 1, 2, 4, bytes([128, 16, 128, 235])),
                                  [[[0, 0, 0], [255, 255, 255]]])


def test_rejects_data_that_is_not_a_buffer():
    with pytest.raises(ImageError,
                       match=r'mono8 image data must be a bytes-like buffer, got list'):
        image_to_rgb('mono8', 1, 2, 2, [1, 2])


@pytest.mark.parametrize('bad', [
    np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
    np.zeros((0, 4, 3), np.uint8), b'\x00' * 48])
def test_encoders_reject_anything_but_hxwx3_uint8(bad):
    with pytest.raises(ImageError, match=r'expected a non-empty HxWx3 uint8 RGB array'):
        rgb_to_image(bad, 'rgb8')
    with pytest.raises(ImageError, match=r'expected a non-empty HxWx3 uint8 RGB array'):
        rgb_to_compressed(bad)


def test_png_round_trip_is_exact():
    rgb = data.coffee()
    payload = array.array('B', rgb_to_compressed(rgb, 'png'))
    np.testing.assert_array_equal(compressed_to_rgb('png', payload), rgb)


@pytest.mark.parametrize('fmt', ['jpeg', 'rgb8; jpeg compressed bgr8'])
def test_jpeg_round_trip_within_quantisation_error(fmt):
    # quality 95 with 4:2:0 chroma measures a mean error of 1.5 on chelsea
    rgb = data.chelsea()
    back = compressed_to_rgb(fmt, rgb_to_compressed(rgb, 'jpeg'))
    assert back.shape == rgb.shape
    assert mean_abs_error(back, rgb) < 3


@pytest.mark.parametrize('pil_format', ['PNG', 'JPEG'])
def test_decodes_files_written_by_another_encoder_in_rgb_order(pil_format):
    rgb = data.chelsea()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, pil_format, quality=95)
    back = compressed_to_rgb(pil_format.lower(), buffer.getvalue())
    assert mean_abs_error(back, rgb) < (0.001 if pil_format == 'PNG' else 3)


def test_grey_png_decodes_to_equal_channels():
    buffer = io.BytesIO()
    Image.fromarray(data.chelsea()).convert('L').save(buffer, 'PNG')
    back = compressed_to_rgb('mono8; png compressed', buffer.getvalue())
    assert back.shape == (300, 451, 3)
    assert_grey(back)


def test_decodes_by_content_not_by_format_field():
    rgb = data.coffee()
    np.testing.assert_array_equal(compressed_to_rgb('jpeg', rgb_to_compressed(rgb, 'png')), rgb)


def test_rejects_empty_compressed_data():
    with pytest.raises(ImageError, match=r"compressed image \('jpeg'\) has no data"):
        compressed_to_rgb('jpeg', array.array('B'))


@pytest.mark.parametrize('corrupt', [
    lambda jpeg: b'not an image at all' * 10,
    lambda jpeg: jpeg[:len(jpeg) // 2],
    lambda jpeg: jpeg[:100],
], ids=['garbage', 'truncated_half', 'truncated_header'])
def test_rejects_corrupt_jpeg(corrupt):
    payload = corrupt(rgb_to_compressed(data.chelsea()))
    with pytest.raises(ImageError, match=rf'cannot decode {len(payload)} bytes of compressed '
                                         r"image \('jpeg'\): corrupt"):
        compressed_to_rgb('jpeg', payload)


def test_rejects_unknown_compressed_format():
    with pytest.raises(ImageError, match=r"unsupported compressed format 'bmp'; supported: "
                                         r'jpeg, jpg, png'):
        rgb_to_compressed(data.chelsea(), 'bmp')
