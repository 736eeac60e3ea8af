"""
Find labelled images on disk for accuracy runs and INT8 calibration.

Two layouts: flat files named `<synset>_<anything>.<ext>` (the imagenet-1k-sample set), and
ImageFolder (one subfolder per class, named by synset or by label).
"""

import os
import re

from jetson_classifier.errors import ImageError

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.bmp', '.webp')


def find_labelled_images(folder, synsets=None, labels=None, limit=None, start=0, every_nth=1):
    """
    List (path, class_index) pairs in sorted order, then take [start::every_nth][:limit].

    The flat layout needs `synsets` (class index = position in the list). ImageFolder
    subfolders match a synset first, then a label, ignoring case and '_'/'-' versus spaces.
    """
    if not isinstance(start, int) or start < 0:
        raise ImageError(f'find_labelled_images: start must be an int >= 0, got {start!r}')
    if not isinstance(every_nth, int) or every_nth < 1:
        raise ImageError(
            f'find_labelled_images: every_nth must be an int >= 1, got {every_nth!r}')
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ImageError(f'find_labelled_images: limit must be an int >= 0, got {limit!r}')
    if not os.path.isdir(folder):
        raise ImageError(f'image folder {folder} does not exist or is not a folder')
    entries = sorted((e for e in os.scandir(folder) if not e.name.startswith('.')),
                     key=lambda e: e.name)
    subfolders = [e.path for e in entries if e.is_dir()]
    files = [e.path for e in entries if e.is_file() and _is_image(e.name)]
    if subfolders and files:
        raise ImageError(
            f'image folder {folder} mixes class subfolders with loose images '
            f'(e.g. {files[0]}); use one layout')
    if subfolders:
        found = _image_folder_layout(subfolders, synsets, labels)
    elif files:
        found = _flat_layout(folder, files, synsets)
    else:
        raise ImageError(f'image folder {folder} holds no images ({", ".join(IMAGE_EXTENSIONS)})')
    found = found[start::every_nth]
    return found if limit is None else found[:limit]


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _flat_layout(folder, files, synsets):
    if synsets is None:
        raise ImageError(f'image folder {folder} is flat (<synset>_<name> files): '
                         'a synset list is needed to number the classes')
    index = {s: i for i, s in enumerate(synsets)}
    found = []
    for path in files:
        synset = os.path.basename(path).split('_', 1)[0]
        if synset not in index:
            raise ImageError(f'image {path}: synset {synset!r} from its name is not in the '
                             f'synset list ({len(index)} synsets)')
        found.append((path, index[synset]))
    return found


def _normalise(name):
    return ' '.join(re.split(r'[\s_-]+', name.strip().lower()))


def _class_index_table(synsets, labels):
    """Map normalised synset and label names to class indices; None marks an ambiguous label."""
    by_label = {}
    for i, label in enumerate(labels or ()):
        key = _normalise(label)
        by_label[key] = None if key in by_label else i
    by_synset = {_normalise(s): i for i, s in enumerate(synsets or ())}
    return {**by_label, **by_synset}


def _image_folder_layout(subfolders, synsets, labels):
    if not synsets and not labels:
        raise ImageError(f"class folders such as {subfolders[0]} need the model's synsets "
                         'or labels to number the classes')
    table = _class_index_table(synsets, labels)
    found = []
    for sub in subfolders:
        name = os.path.basename(sub)
        key = _normalise(name)
        if key not in table:
            raise ImageError(f'class folder {sub}: {name!r} matches no synset or label of '
                             'the model')
        if table[key] is None:
            raise ImageError(f'class folder {sub}: {name!r} matches several labels of the '
                             'model; name the folder by synset')
        images = sorted(os.path.join(root, f) for root, dirs, names in os.walk(sub)
                        for f in names if _is_image(f) and not f.startswith('.'))
        if not images:
            raise ImageError(f'class folder {sub} holds no images')
        found.extend((path, table[key]) for path in images)
    return found
