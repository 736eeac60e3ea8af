"""
The cameras one classifier serves: their names checked, and the names each one's topics get.

Camera `c` is read on `c/image` and labelled on `~/c/label` (and so on); its parameters are
`c.roi` and `c.detections`. The camera '' keeps the names of a single-camera node: `image`,
`~/label`, `roi`.
"""

import re
from typing import Sequence, Tuple

from jetson_classifier.errors import ClassifierError

# One ROS name token: a topic namespace and a parameter prefix alike.
_NAME = re.compile(r'[A-Za-z][A-Za-z0-9_]*\Z')


def check_cameras(names: Sequence[str]) -> Tuple[str, ...]:
    """Return the camera names, or raise ClassifierError naming what is wrong with them."""
    names = tuple(names)
    if not names:
        raise ClassifierError('parameter cameras: no camera given (the default is [""])')
    for name in names:
        if name and not _NAME.match(name):
            raise ClassifierError(
                f'parameter cameras: {name!r} is not a camera name (a letter, then letters, '
                'digits or underscores; "" for the topics of a single camera)')
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ClassifierError(f'parameter cameras: {repeated} given more than once')
    return names


def topic(camera: str, name: str) -> str:
    """Return the relative name of topic `name` of `camera`: 'belt/image', or 'image' for ''."""
    return f'{camera}/{name}' if camera else name


def parameter(camera: str, name: str) -> str:
    """Return the name of parameter `name` of `camera`: 'belt.roi', or 'roi' for ''."""
    return f'{camera}.{name}' if camera else name
