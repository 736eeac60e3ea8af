"""finetune: a new head for the user's own classes on real photos, exported like the ladder."""

from conftest import FINETUNE_GROUPS as GROUPS
import numpy as np
import onnx
import pytest

from jetson_classifier.commands.finetune import finetune, main, read_image_folder, split_holdout
from jetson_classifier.errors import CatalogError, ImageError
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.inference.model_info import read_model_info


@pytest.fixture(scope='module')
def classifier(finetuned, finetune_model_dir):
    loaded = Classifier('coarse5', backend='onnxruntime',
                        catalog=Catalog.load(model_dir=finetune_model_dir), threads=2)
    yield loaded
    loaded.close()


def test_split_holds_out_the_same_share_of_every_class_the_same_way_each_run():
    targets = np.array([0] * 10 + [1] * 3 + [2] * 2)
    train, held_out = split_holdout(targets, ('a', 'b', 'c'), 0.3)
    assert np.bincount(targets[held_out]).tolist() == [3, 1, 1]
    assert sorted(train.tolist() + held_out.tolist()) == list(range(15))
    again = split_holdout(targets, ('a', 'b', 'c'), 0.3)
    assert train.tolist() == again[0].tolist() and held_out.tolist() == again[1].tolist()
    assert split_holdout(targets, ('a', 'b', 'c'), 0)[1].size == 0


def test_split_refuses_a_class_with_too_few_images_to_hold_one_out():
    with pytest.raises(ImageError, match=r"class 'bolt' has 1 image\(s\)"):
        split_holdout(np.array([0, 0, 0, 1]), ('nut', 'bolt'), 0.2)


def test_image_folder_needs_two_class_subfolders_with_images(tmp_path):
    (tmp_path / 'nut').mkdir()
    with pytest.raises(ImageError, match='at least two classes'):
        read_image_folder(tmp_path)
    (tmp_path / 'bolt').mkdir()
    with pytest.raises(ImageError, match=r'class folder .*bolt holds no images'):
        read_image_folder(tmp_path)


def test_cli_refuses_a_base_without_torch_weights_and_a_taken_name(tmp_path, capsys):
    assert main(['--data', str(tmp_path), '--base', 'lite0_int8', '--name', 'mine',
                 '--model-dir', str(tmp_path)]) == 1
    assert "base model 'lite0_int8' has no torch weights" in capsys.readouterr().err
    with pytest.raises(CatalogError, match="'lite1' is taken by a model finetune did not make"):
        finetune(tmp_path, 'lite0', 'lite1', Catalog.load(model_dir=tmp_path))
    with pytest.raises(CatalogError, match=r'would overwrite .*efficientnet_lite0_224\.onnx'):
        finetune(tmp_path, 'lite0', 'efficientnet_lite0_224', Catalog.load(model_dir=tmp_path))


def test_held_out_accuracy_is_far_above_chance(finetuned):
    # 5 balanced classes: guessing gets 20%; P(>= 11 of 15 right | p=0.2) = 1.2e-5.
    # The held-out photos are breeds/species the head never saw, so this is transfer.
    assert len(finetuned.held_out) == 15
    assert finetuned.per_class().keys() == set(GROUPS)
    assert all(total == 3 for _, total in finetuned.per_class().values())
    assert finetuned.accuracy >= 11 / 15


def test_model_loads_by_name_from_the_user_catalog_with_folder_names_as_labels(
        finetuned, classifier, finetune_model_dir):
    assert classifier.info.labels == GROUPS
    entry = Catalog.load(model_dir=finetune_model_dir).entry('coarse5')
    assert (entry.file, entry.precision, entry.base) == ('coarse5.onnx', 'fp32', 'lite0_160')
    assert f'held-out top-1 {finetuned.accuracy:.1%} on 15 images' in entry.notes


def test_exported_model_gives_the_heads_answers_on_held_out_photos(finetuned, classifier):
    paths = [path for path, _ in finetuned.held_out]
    answers = classifier.probabilities(paths).argmax(axis=1)
    assert answers.tolist() == list(finetuned.predicted)
    bird = next(path for path, truth in finetuned.held_out if GROUPS[truth] == 'bird')
    assert classifier.classify(bird)[0].label == 'bird'


def test_exported_model_has_the_shipped_models_interface_and_preprocessing(
        finetuned, catalog):
    mine, shipped = onnx.load(str(finetuned.path)), onnx.load(
        str(catalog.path_of(catalog.entry('lite0_160'))))
    for ours, theirs in ((mine.graph.input, shipped.graph.input),
                         (mine.graph.output[:1], shipped.graph.output[:1])):
        assert [v.name for v in ours] == [v.name for v in theirs]
        assert str(ours[0].type.tensor_type.shape.dim[0]) == str(
            theirs[0].type.tensor_type.shape.dim[0])
    assert mine.graph.output[0].type.tensor_type.shape.dim[1].dim_value == 5
    assert list(mine.opset_import) == list(shipped.opset_import)  # ai.onnx, lowest version
    keys = {p.key for p in mine.metadata_props}
    assert keys == {p.key for p in shipped.metadata_props} - {'synsets', 'published_top1'}
    info, base = read_model_info(finetuned.path), read_model_info(
        catalog.path_of(catalog.entry('lite0_160')))
    assert (info.input_size, info.crop_fraction, info.mean, info.std, info.color_order) == (
        base.input_size, base.crop_fraction, base.mean, base.std, base.color_order)
    # Same backbone, a 1280 x 5 head in place of 1280 x 1000.
    assert base.params - info.params == 1280 * 995 + 995
    assert base.macs - info.macs == 1280 * 995
