"""Convert sensor_msgs Image/CompressedImage payloads to RGB arrays and back, without ROS."""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from jetson_classifier.errors import ImageError
from jetson_classifier.inference.preprocessing import check_rgb


@dataclass(frozen=True)
class _Encoding:
    """How one ROS encoding lays out a pixel and which OpenCV codes convert it."""

    channels: int
    to_rgb: Optional[int]
    from_rgb: Optional[int]
    bits: int = 8
    even_width: bool = False
    mosaic: str = ''

    @property
    def bytes_per_pixel(self):
        return self.channels * self.bits // 8


def _code(name):
    """Return OpenCV's colour code `name`, or None where this OpenCV predates it."""
    return getattr(cv2, name, None)


# ROS names a Bayer pattern by its top-left 2x2 block; OpenCV by the second row's
# 2nd and 3rd pixels, so 'rggb' is OpenCV's BG (checked on a mosaic of a real photo).
_ENCODINGS = {
    'rgb8': _Encoding(3, None, None),
    'bgr8': _Encoding(3, cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR),
    'rgba8': _Encoding(4, cv2.COLOR_RGBA2RGB, cv2.COLOR_RGB2RGBA),
    'bgra8': _Encoding(4, cv2.COLOR_BGRA2RGB, cv2.COLOR_RGB2BGRA),
    'mono8': _Encoding(1, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY),
    'mono16': _Encoding(1, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY, bits=16),
    'yuv422': _Encoding(2, cv2.COLOR_YUV2RGB_UYVY, _code('COLOR_RGB2YUV_UYVY'),
                        even_width=True),
    'yuv422_yuy2': _Encoding(2, cv2.COLOR_YUV2RGB_YUY2, _code('COLOR_RGB2YUV_YUY2'),
                             even_width=True),
    'bayer_rggb8': _Encoding(1, cv2.COLOR_BayerBG2RGB, None, mosaic='rggb'),
    'bayer_bggr8': _Encoding(1, cv2.COLOR_BayerRG2RGB, None, mosaic='bggr'),
    'bayer_gbrg8': _Encoding(1, cv2.COLOR_BayerGR2RGB, None, mosaic='gbrg'),
    'bayer_grbg8': _Encoding(1, cv2.COLOR_BayerGB2RGB, None, mosaic='grbg'),
}
# sensor_msgs' current names for the two deprecated YUV 4:2:2 encodings.
_ENCODINGS['uyvy'] = _ENCODINGS['yuv422']
_ENCODINGS['yuyv'] = _ENCODINGS['yuv422_yuy2']

SUPPORTED_ENCODINGS = tuple(sorted(_ENCODINGS))

_COMPRESSED_SUFFIXES = {'jpeg': '.jpg', 'jpg': '.jpg', 'png': '.png'}
JPEG_START, JPEG_END = b'\xff\xd8', b'\xff\xd9'


def _lookup(encoding):
    try:
        return _ENCODINGS[encoding]
    except KeyError:
        raise ImageError(f'unsupported image encoding {encoding!r}; supported: '
                         f'{", ".join(SUPPORTED_ENCODINGS)}') from None


def _as_bytes(data, what):
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        raise ImageError(f'{what} data must be a bytes-like buffer, '
                         f'got {type(data).__name__}') from None


def image_to_rgb(encoding, height, width, step, data, is_bigendian=False):
    """
    Return an HxWx3 uint8 RGB array for a sensor_msgs/Image payload.

    rgb8 comes back as a read-only view of `data` (no copy): copy it to keep it past the message.
    mono16 maps its full range to 8 bits by keeping the high byte.
    """
    enc = _lookup(encoding)
    if height <= 0 or width <= 0:
        raise ImageError(f'{encoding} image has zero size: {width}x{height} (width x height)')
    if enc.even_width and width % 2:
        raise ImageError(f'{encoding} packs pixel pairs: width must be even, got {width}')
    row_bytes = width * enc.bytes_per_pixel
    if step < row_bytes:
        raise ImageError(f'{encoding} step {step} is smaller than one row of {width} pixels '
                         f'({row_bytes} bytes)')
    flat = _as_bytes(data, f'{encoding} image')
    if flat.size < step * height:
        raise ImageError(f'{encoding} image data has {flat.size} bytes, needs step*height = '
                         f'{step}*{height} = {step * height}')
    pixels = np.lib.stride_tricks.as_strided(
        flat, shape=(height, width, enc.bytes_per_pixel),
        strides=(step, enc.bytes_per_pixel, 1), writeable=False)
    if enc.bits == 16:
        pixels = pixels[..., 0 if is_bigendian else 1]
    elif enc.channels == 1:
        pixels = pixels[..., 0]
    if enc.to_rgb is None:
        return pixels
    return cv2.cvtColor(pixels, enc.to_rgb)


def compressed_to_rgb(fmt, data):
    """
    Decode a sensor_msgs/CompressedImage payload (JPEG or PNG) to HxWx3 uint8 RGB.

    The codec is read from the data itself; `fmt` (the free-text format field) only labels errors.
    """
    flat = _as_bytes(data, f'compressed image ({fmt!r})')
    if flat.size == 0:
        raise ImageError(f'compressed image ({fmt!r}) has no data')
    # OpenCV 4.5 (JetPack 6's) decodes a truncated JPEG, greying out what is missing; a
    # whole JPEG ends with its end-of-image marker, padding aside.
    truncated = flat[:2].tobytes() == JPEG_START and JPEG_END not in flat[-16:].tobytes()
    bgr = None if truncated else cv2.imdecode(flat, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f'cannot decode {flat.size} bytes of compressed image ({fmt!r}): '
                         'corrupt, truncated or not JPEG/PNG')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _mosaic(rgb, pattern):
    """Sample one colour per pixel in the 2x2 Bayer `pattern` (e.g. 'rggb')."""
    out = np.empty(rgb.shape[:2], dtype=np.uint8)
    for colour, (dy, dx) in zip(pattern, ((0, 0), (0, 1), (1, 0), (1, 1))):
        out[dy::2, dx::2] = rgb[dy::2, dx::2, 'rgb'.index(colour)]
    return out


def rgb_to_image(rgb, encoding):
    """
    Encode HxWx3 uint8 RGB as a sensor_msgs/Image payload: return (step, data bytes).

    Rows are unpadded; mono16 is little-endian (is_bigendian = 0), 8-bit grey scaled by 257.
    """
    check_rgb(rgb)
    enc = _lookup(encoding)
    width = rgb.shape[1]
    if enc.even_width and width % 2:
        raise ImageError(f'{encoding} packs pixel pairs: width must be even, got {width}')
    if enc.mosaic:
        out = _mosaic(rgb, enc.mosaic)
    elif encoding == 'rgb8':
        out = rgb
    elif enc.from_rgb is None:
        raise ImageError(f'encoding to {encoding} needs OpenCV >= 4.9 (RGB to YUV 4:2:2); '
                         f'this is OpenCV {cv2.__version__}')
    else:
        out = cv2.cvtColor(rgb, enc.from_rgb)
    if enc.bits == 16:
        out = (out.astype(np.uint16) * 257).astype('<u2')
    return width * enc.bytes_per_pixel, out.tobytes()


def rgb_to_compressed(rgb, fmt='jpeg'):
    """Encode HxWx3 uint8 RGB as JPEG or PNG bytes for a sensor_msgs/CompressedImage."""
    check_rgb(rgb)
    try:
        suffix = _COMPRESSED_SUFFIXES[fmt]
    except KeyError:
        raise ImageError(f'unsupported compressed format {fmt!r}; supported: '
                         f'{", ".join(sorted(_COMPRESSED_SUFFIXES))}') from None
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageError(f'OpenCV could not encode a {rgb.shape[1]}x{rgb.shape[0]} image '
                         f'as {fmt}')
    return encoded.tobytes()
