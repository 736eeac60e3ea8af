"""
Convert sensor_msgs Image/CompressedImage payloads to RGB arrays and back, without ROS.

The encodings and what they turn into are cv_bridge's (ros-perception/vision_opencv,
cv_bridge/src/cv_bridge.cpp, branches humble and rolling), so that a camera that works with
cv_bridge works here. cv_bridge itself is not imported: its Python `imgmsg_to_cv2` needs the
compiled `cv_bridge_boost` module even in passthrough, and PyPI's cv-bridge is ROS 1's.
"""

import dataclasses
import re
from typing import Optional

import cv2
import numpy as np

from jetson_classifier.errors import ImageError
from jetson_classifier.inference.preprocessing import check_rgb


@dataclasses.dataclass(frozen=True)
class _Encoding:
    """How one ROS encoding lays out a pixel and which OpenCV codes convert it."""

    channels: int
    to_rgb: Optional[int]
    from_rgb: Optional[int]
    bits: int = 8
    even_width: bool = False
    mosaic: str = ''
    depth_like: bool = False

    @property
    def bytes_per_pixel(self):
        return self.channels * self.bits // 8


def _code(name):
    """Return OpenCV's colour code `name`, or None where this OpenCV predates it."""
    return getattr(cv2, name, None)


_COLOURS = {  # name: (channels, OpenCV code to RGB, OpenCV code from RGB)
    'rgb': (3, None, None),
    'bgr': (3, cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR),
    'rgba': (4, cv2.COLOR_RGBA2RGB, cv2.COLOR_RGB2RGBA),
    'bgra': (4, cv2.COLOR_BGRA2RGB, cv2.COLOR_RGB2BGRA),
    'mono': (1, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY),
}
# ROS names a Bayer pattern by its top-left 2x2 block; OpenCV by the second row's 2nd and 3rd
# pixels, so 'rggb' is OpenCV's BG (cv_bridge's getConversionCodes; checked on a real photo).
_BAYER_TO_RGB = {'rggb': cv2.COLOR_BayerBG2RGB, 'bggr': cv2.COLOR_BayerRG2RGB,
                 'gbrg': cv2.COLOR_BayerGR2RGB, 'grbg': cv2.COLOR_BayerGB2RGB}
_ENCODINGS = {
    'yuv422': _Encoding(2, cv2.COLOR_YUV2RGB_UYVY, _code('COLOR_RGB2YUV_UYVY'), even_width=True),
    'yuv422_yuy2': _Encoding(2, cv2.COLOR_YUV2RGB_YUY2, _code('COLOR_RGB2YUV_YUY2'),
                             even_width=True),
}
_ENCODINGS.update({f'{name}{bits}': _Encoding(channels, to_rgb, from_rgb, bits)
                   for name, (channels, to_rgb, from_rgb) in _COLOURS.items() for bits in (8, 16)})
_ENCODINGS.update({f'bayer_{pattern}{bits}': _Encoding(1, code, None, bits, mosaic=pattern)
                   for pattern, code in _BAYER_TO_RGB.items() for bits in (8, 16)})
# sensor_msgs' current names for the two deprecated YUV 4:2:2 encodings (rolling).
_ENCODINGS['uyvy'] = _ENCODINGS['yuv422']
_ENCODINGS['yuyv'] = _ENCODINGS['yuv422_yuy2']
# OpenCV's generic types name no colours; cv_bridge's cvtColorForDisplay takes them as "most
# likely in mono, BGR or BGRA modes". 16UC1 is also REP 118's depth encoding (millimetres).
_ENCODINGS.update({'8UC1': _ENCODINGS['mono8'], '8UC3': _ENCODINGS['bgr8'],
                   '8UC4': _ENCODINGS['bgra8'], '16UC3': _ENCODINGS['bgr16'],
                   '16UC4': _ENCODINGS['bgra16'],
                   '16UC1': dataclasses.replace(_ENCODINGS['mono16'], depth_like=True)})

SUPPORTED_ENCODINGS = tuple(sorted(_ENCODINGS))

# cv_bridge's getCvType accepts any OpenCV type name; its cvtColor2 refuses to make colour of
# those with no colour meaning ("is not a color format ... The conversion does not make sense").
_OPENCV_TYPE = re.compile(r'(8U|8S|16U|16S|32S|32F|64F)(C[0-9]+)?')
# A 16UC1 image whose values all stay below this (1/8 of the range) is at most 32/255 after
# cv_bridge's scaling to 8 bits: too dark for any photo classifier, and what a depth image in
# millimetres (REP 118) of a scene nearer than 8 m looks like.
DEPTH_LIKE_BELOW = 8192

_COMPRESSED_SUFFIXES = {'jpeg': '.jpg', 'jpg': '.jpg', 'png': '.png'}
JPEG_START, JPEG_END = b'\xff\xd8', b'\xff\xd9'


def _lookup(encoding):
    try:
        return _ENCODINGS[encoding]
    except KeyError:
        pass
    if _OPENCV_TYPE.fullmatch(encoding):
        raise ImageError(
            f'image encoding {encoding!r} holds numbers, not a picture (depth images are 16UC1 '
            'in millimetres or 32FC1 in metres, REP 118); like cv_bridge, the classifier turns '
            'only 8UC1, 8UC3, 8UC4, 16UC1, 16UC3 and 16UC4 into colour, as mono, BGR or BGRA')
    raise ImageError(f'unsupported image encoding {encoding!r}; supported: '
                     f'{", ".join(SUPPORTED_ENCODINGS)}')


def _as_bytes(data, what):
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        raise ImageError(f'{what} data must be a bytes-like buffer, '
                         f'got {type(data).__name__}') from None


def _refuse_depth(values, encoding):
    """Raise ImageError where 16-bit `values` are too dark to be a picture (DEPTH_LIKE_BELOW)."""
    brightest = int(values.max())
    if brightest < DEPTH_LIKE_BELOW:
        raise ImageError(
            f'{encoding} image looks like depth, not a picture: its largest value {brightest} '
            f'of 65535 scales to {round(brightest / 257)}/255 (near black); send grey '
            'pictures as mono16 or 16UC1 over the whole 16-bit range')


def image_to_rgb(encoding, height, width, step, data, is_bigendian=False):
    """
    Return an HxWx3 uint8 RGB array for a sensor_msgs/Image payload, as cv_bridge would.

    rgb8 comes back as a read-only view of `data` (no copy): copy it to keep it past the message.
    16-bit values are read in the byte order `is_bigendian` names, converted, then scaled to
    8 bits by 255/65535 with rounding (cv_bridge's toCvCopyImpl).
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
    value = np.dtype(('>u2' if is_bigendian else '<u2') if enc.bits == 16 else np.uint8)
    pixels = np.ndarray((height, width, enc.channels), value, flat,
                        strides=(step, enc.bytes_per_pixel, value.itemsize))
    pixels.flags.writeable = False
    if enc.channels == 1:
        pixels = pixels[..., 0]
    if enc.bits == 16:
        pixels = pixels.astype(np.uint16)  # this machine's byte order, as cv_bridge swaps
        if enc.depth_like:
            _refuse_depth(pixels, encoding)
    if enc.to_rgb is not None:
        pixels = cv2.cvtColor(pixels, enc.to_rgb)
    if enc.bits == 16:
        pixels = cv2.convertScaleAbs(pixels, alpha=255 / 65535)
    return pixels


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


def rgb_to_image(rgb, encoding, big_endian=False):
    """
    Encode HxWx3 uint8 RGB as a sensor_msgs/Image payload: return (step, data bytes).

    Rows are unpadded. 16-bit values are the 8-bit ones times 257 (cv_bridge's 65535/255), in
    the byte order `big_endian` names (the message's is_bigendian); grey is BT.601 luma.
    """
    check_rgb(rgb)
    enc = _lookup(encoding)
    width = rgb.shape[1]
    if enc.even_width and width % 2:
        raise ImageError(f'{encoding} packs pixel pairs: width must be even, got {width}')
    if enc.mosaic:
        out = _mosaic(rgb, enc.mosaic)
    elif enc.to_rgb is None:
        out = rgb
    elif enc.from_rgb is None:
        raise ImageError(f'encoding to {encoding} needs OpenCV >= 4.9 (RGB to YUV 4:2:2); '
                         f'this is OpenCV {cv2.__version__}')
    else:
        out = cv2.cvtColor(rgb, enc.from_rgb)
    if enc.bits == 16:
        out = (out.astype(np.uint16) * 257).astype('>u2' if big_endian else '<u2')
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
