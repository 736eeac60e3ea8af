"""Shared fixtures: the real model ladder (prepared once) and the sample photos."""

import os
from pathlib import Path

import pytest

from jetson_classifier.catalog import Catalog
from jetson_classifier.prepare_models import prepare, sample_photos

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = Path(os.environ.get('JETSON_CLASSIFIER_SAMPLE_DIR',
                                 ROOT.parent / 'shared' / 'datasets' / 'imagenet-1k-sample'))


@pytest.fixture(scope='session')
def catalog():
    """Return the shipped catalog with every model prepared (a no-op when up to date)."""
    catalog = Catalog.load()
    prepare(catalog, log=lambda line: None)
    return catalog


@pytest.fixture(scope='session')
def photos():
    """Return scikit-image's real photos by name (chelsea, coffee, ...)."""
    return sample_photos()


@pytest.fixture(scope='session')
def sample_images():
    """Return the sorted ImageNet sample photos; skip visibly where the set is absent."""
    if not SAMPLE_DIR.is_dir():
        pytest.skip(f'ImageNet sample set not found at {SAMPLE_DIR}')
    return sorted(SAMPLE_DIR.glob('*.JPEG'))
