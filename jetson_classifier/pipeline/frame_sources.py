"""Frames to replay: a folder of images, a video file or built-in photos, as RGB arrays."""

from pathlib import Path

import cv2
import numpy as np

from jetson_classifier.errors import ImageError
from jetson_classifier.inference.image_files import IMAGE_SUFFIXES, read_rgb

BUILTIN_PHOTOS = ('chelsea', 'coffee', 'astronaut', 'rocket')
MAX_PRELOAD_BYTES = 1 << 30


def load_frames(source, width=0, height=0, max_count=0):
    """
    Read the frames of `source` as RGB uint8 arrays, resized, all held in memory.

    `source` is a folder (its images in name order), an image or video file, or '' for the
    built-in photos. `max_count` > 0 stops after that many frames.
    """
    frames = []
    total_bytes = 0
    for rgb in _read_frames(source):
        frame = resize(rgb, width, height)
        total_bytes += frame.nbytes
        if total_bytes > MAX_PRELOAD_BYTES:
            raise ImageError(
                f'frames of {source!r} need over {MAX_PRELOAD_BYTES >> 20} MiB in memory: '
                'set width/height or max_frames lower')
        frames.append(frame)
        if len(frames) == max_count:
            break
    if not frames:
        raise ImageError(f'no frames in {source!r}')
    return frames


def resize(rgb, width=0, height=0):
    """Resize to width x height; 0 for both keeps the size, 0 for one keeps the aspect ratio."""
    rows, cols = rgb.shape[:2]
    if width < 0 or height < 0:
        raise ImageError(f'width and height must be >= 0, got {width}x{height}')
    if width == 0 and height == 0:
        return rgb
    width = width or max(1, round(cols * height / rows))
    height = height or max(1, round(rows * width / cols))
    if (width, height) == (cols, rows):
        return rgb
    shrinking = width * height < cols * rows
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def builtin_photos():
    """Return the photos scikit-image ships (cat, coffee cup, astronaut, rocket) as RGB."""
    try:
        from skimage import data
    except ImportError as error:
        raise ImageError(
            'built-in photos need scikit-image (pip install scikit-image), '
            'or set parameter source to an image folder or video file') from error
    return [np.ascontiguousarray(getattr(data, name)()) for name in BUILTIN_PHOTOS]


def image_files(folder):
    """Return the image files of `folder` sorted by name."""
    return sorted(path for path in Path(folder).iterdir()
                  if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def _read_frames(source):
    if not source:
        yield from builtin_photos()
        return
    path = Path(source)
    if path.is_dir():
        yield from (read_rgb(file) for file in image_files(path))
    elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        yield read_rgb(path)
    elif path.is_file():
        yield from _read_video(path)
    else:
        raise ImageError(f'source {source!r} is neither a folder nor a file')


def _read_video(path):
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageError(f'cannot open video {path}')
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
