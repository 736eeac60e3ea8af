"""Image files on disk: find them in folders and read them as RGB arrays."""

from pathlib import Path

import cv2

from jetson_classifier.errors import ImageError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def read_rgb(path):
    """Read an image file as an HxWx3 uint8 RGB array; ImageError names unreadable files."""
    if not Path(path).is_file():
        raise ImageError(f'no such image file: {path}')
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f'not a readable image: {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def find_images(paths):
    """Expand files and folders (recursively) into a sorted list of image files."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found
