"""Shared fixtures: the real model ladder (prepared once), sample photos, a fine-tuned model."""

import os
from pathlib import Path

from fakes import install, TENSORRT_VERSIONS
import pytest

from jetson_classifier.commands.finetune import finetune
from jetson_classifier.commands.prepare_models import prepare, sample_photos
from jetson_classifier.inference.backends.cuda_memory import release_devices
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.class_groups import load_class_groups

ROOT = Path(__file__).resolve().parent.parent
FINETUNE_GROUPS = ('bird', 'dog', 'fish', 'insect', 'vehicle')
FINETUNE_PER_GROUP = 10
FINETUNE_HOLDOUT = 0.3
SAMPLE_DIR = Path(os.environ.get('JETSON_CLASSIFIER_SAMPLE_DIR',
                                 ROOT.parent / 'shared' / 'datasets' / 'imagenet-1k-sample'))


@pytest.fixture(scope='module')
def module_listener():
    """Return a ROS node in this process, on the tests' domain, for one test module."""
    from ros_processes import domain_id, listener
    with listener(domain_id()) as node:
        yield node


@pytest.fixture
def ros(module_listener, catalog):
    """Return the module's listener (the models prepared); its subscriptions end with the test."""
    yield module_listener
    module_listener.unsubscribe_all()


@pytest.fixture(scope='module')
def parameters(module_listener):
    """Return a parameter client of the node /classifier."""
    from jetson_classifier.nodes.parameter_client import ParameterClient
    return ParameterClient(module_listener.node, 'classifier')


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


@pytest.fixture(scope='session')
def finetune_photos(tmp_path_factory, sample_images):
    """
    Lay out 10 sample photos of each of 5 coarse groups as an ImageFolder of symlinks.

    Members are spread over each group's sorted synsets (every n-th), so 'dog' holds
    Chihuahua to Siberian husky rather than ten terriers.
    """
    members = dict(load_class_groups(ROOT / 'config' / 'groups' / 'imagenet_coarse.yaml').groups)
    by_synset = {path.name.split('_', 1)[0]: path for path in sample_images}
    folder = tmp_path_factory.mktemp('coarse_photos')
    for group in FINETUNE_GROUPS:
        synsets = sorted(members[group])
        (folder / group).mkdir()
        for synset in synsets[::len(synsets) // FINETUNE_PER_GROUP][:FINETUNE_PER_GROUP]:
            (folder / group / by_synset[synset].name).symlink_to(by_synset[synset])
    return folder


@pytest.fixture(scope='session')
def finetune_model_dir(tmp_path_factory, catalog):
    """Return a fresh model directory holding (a link to) the prepared lite0_160 base."""
    folder = tmp_path_factory.mktemp('models')
    base = catalog.path_of(catalog.entry('lite0_160'))
    (folder / base.name).symlink_to(base)
    return folder


@pytest.fixture(scope='session')
def finetuned(finetune_photos, finetune_model_dir):
    """Fine-tune 'coarse5' on lite0_160 from the photo folder into the model directory."""
    pytest.importorskip('torch', reason='fine-tuning needs torch (requirements/models.txt), '
                                        'which the Jazzy and floor lanes leave out')
    return finetune(finetune_photos, 'lite0_160', 'coarse5',
                    Catalog.load(model_dir=finetune_model_dir),
                    holdout=FINETUNE_HOLDOUT, log=lambda line: None)


def _installed_fakes(monkeypatch, version):
    fake_trt, fake_cuda = install(monkeypatch, version)
    yield fake_trt, fake_cuda
    stacks = fake_cuda.context_stacks()
    release_devices()
    assert stacks == {}, f'CUDA context pushes left on thread stacks: {stacks}'


@pytest.fixture(params=TENSORRT_VERSIONS)
def fakes(request, monkeypatch):
    """Fresh fake tensorrt (each version in turn) and pycuda; checks every push was popped."""
    yield from _installed_fakes(monkeypatch, request.param)


@pytest.fixture
def fakes10(monkeypatch):
    """Install the fakes as TensorRT 10.3 (JetPack 6): weakly typed builds, calibrators."""
    yield from _installed_fakes(monkeypatch, TENSORRT_VERSIONS[0])


@pytest.fixture
def fakes11(monkeypatch):
    """Install the fakes as TensorRT 11: strongly typed builds only, no calibrators."""
    yield from _installed_fakes(monkeypatch, TENSORRT_VERSIONS[1])
