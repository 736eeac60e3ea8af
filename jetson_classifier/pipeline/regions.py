"""
Regions of a camera frame to classify: a fixed ROI or a detector's boxes, checked and cropped.

A box is a rectangle in pixels (top-left corner, width, height), from a `roi` parameter or a
vision_msgs BoundingBox2D (centre, size, rotation). place() puts it on one frame: a box that is
not finite, has no area or lies wholly outside the image (or the ROI) is rejected with that
reason; one that sticks out is clipped. The crop is a view of the frame that the model then
preprocesses like a photo of its own (inference.preprocessing: centre crop, resize), so a
region is classified as the same pixels would be on their own.
"""

import math
from typing import NamedTuple, Optional, Sequence

import numpy as np

from jetson_classifier.errors import ClassifierError, ImageError

NOT_FINITE = 'not finite'
ZERO_SIZE = 'zero size'
OUTSIDE_IMAGE = 'outside the image'
OUTSIDE_ROI = 'outside the roi'
REJECTIONS = (NOT_FINITE, ZERO_SIZE, OUTSIDE_IMAGE, OUTSIDE_ROI)


class Box(NamedTuple):
    """A rectangle on a frame, in pixels: top-left corner, width and height."""

    x: float
    y: float
    width: float
    height: float


class Region(NamedTuple):
    """A box placed on one frame: the whole pixels [left, right) x [top, bottom) it covers."""

    left: int
    top: int
    right: int
    bottom: int
    clipped: bool

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        """Return the region's pixels of `rgb`, a view (no copy)."""
        return rgb[self.top:self.bottom, self.left:self.right]


class RegionError(ImageError):
    """A region that cannot be classified on this frame; `reason` is one of REJECTIONS."""

    def __init__(self, box, reason, width, height):
        super().__init__(f'region {tuple(box)}: {reason} ({width}x{height} image)')
        self.reason = reason


def roi_box(values: Sequence[int], name: str = 'roi') -> Optional[Box]:
    """Return the Box of a `roi` parameter ([x, y, width, height]), None for an empty one."""
    if values is None or len(values) == 0:
        return None
    if len(values) != 4 or any(v < 0 for v in values) or values[2] == 0 or values[3] == 0:
        raise ClassifierError(
            f'parameter {name}: {list(values)} is not [x, y, width, height] in pixels with '
            'x, y >= 0 and width, height > 0')
    return Box(*(int(v) for v in values))


def detection_box(bbox) -> Box:
    """
    Return the upright Box around a vision_msgs BoundingBox2D (centre, size_x/y, theta).

    A rotated box becomes the smallest upright box that holds it. A size that is not positive
    stays as it is, for place() to reject.
    """
    centre = bbox.center
    x, y, theta = centre.position.x, centre.position.y, centre.theta
    width, height = bbox.size_x, bbox.size_y
    if theta and width > 0 and height > 0:
        cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
        width, height = width * cos + height * sin, width * sin + height * cos
    return Box(x - width / 2, y - height / 2, width, height)


def place(box: Box, width: int, height: int, within: Optional[Box] = None) -> Region:
    """
    Put `box` on a `width` x `height` frame, inside `within` (an ROI) when given.

    Raises RegionError for a box that is not finite, has no area, or covers no pixel of the
    frame (or of the ROI); a box partly outside is clipped to it.
    """
    if not all(math.isfinite(value) for value in box):
        raise RegionError(box, NOT_FINITE, width, height)
    if not (box.width > 0 and box.height > 0):
        raise RegionError(box, ZERO_SIZE, width, height)
    wanted = (math.floor(box.x), math.floor(box.y),
              math.ceil(box.x + box.width), math.ceil(box.y + box.height))
    bounds, outside = (0, 0, width, height), OUTSIDE_IMAGE
    if within is not None:
        bounds = (max(0, within.x), max(0, within.y), min(width, within.x + within.width),
                  min(height, within.y + within.height))
        outside = OUTSIDE_ROI
    left, top = max(wanted[0], bounds[0]), max(wanted[1], bounds[1])
    right, bottom = min(wanted[2], bounds[2]), min(wanted[3], bounds[3])
    if right <= left or bottom <= top:
        raise RegionError(box, outside, width, height)
    return Region(left, top, right, bottom, (left, top, right, bottom) != wanted)
