"""The core Classifier answering with class groups: shipped names, sums, refusals."""

from pathlib import Path

import numpy as np
import pytest

from jetson_classifier.errors import ClassGroupError
from jetson_classifier.inference.catalog import share_dir
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.classifier import class_groups_path, Classifier

CATS = {'tabby', 'tiger cat', 'Egyptian cat'}
COARSE = share_dir() / 'config' / 'groups' / 'imagenet_coarse.yaml'


@pytest.fixture(scope='module')
def classifier(catalog):
    classifier = Classifier('lite0_int8', backend='onnxruntime', catalog=catalog, threads=1)
    yield classifier
    classifier.close()


@pytest.fixture
def ungrouped(classifier):
    yield classifier
    classifier.set_class_groups(None)


def test_a_shipped_name_resolves_to_its_file_in_config_groups():
    assert class_groups_path('imagenet_coarse') == COARSE


@pytest.mark.parametrize('value', ['mine.yaml', 'groups/mine', '/abs/mine.yml'])
def test_a_value_with_a_folder_or_yaml_suffix_is_a_path(value):
    assert class_groups_path(value) == Path(value)


def test_an_unknown_shipped_name_lists_the_shipped_ones():
    with pytest.raises(ClassGroupError, match="no class group file named 'coarse'.*"
                                              'conveyor_belt, imagenet_coarse'):
        class_groups_path('coarse')


def test_chelsea_is_a_cat_and_group_scores_sum_the_member_probabilities(ungrouped, photos):
    probabilities = ungrouped.probabilities([photos['chelsea']])
    ungrouped.set_class_groups('imagenet_coarse')
    answer = ungrouped.classify(photos['chelsea'], top_k=3)
    grouping = load_class_groups(COARSE).bind(ungrouped.info.labels, ungrouped.info.synsets)
    expected = grouping.apply(probabilities)[0]
    assert answer[0].label == 'cat'
    assert ungrouped.labels == grouping.labels
    for prediction in answer:
        assert prediction.label == grouping.labels[prediction.index]
        assert prediction.score == pytest.approx(expected[prediction.index], rel=1e-5)
    members = [i for i in range(1000) if grouping.group_of(i) == grouping.labels.index('cat')]
    assert answer[0].score == pytest.approx(probabilities[0, members].sum(), rel=1e-5)


def test_a_bad_group_file_is_refused_and_the_current_groups_stay(ungrouped, photos, tmp_path):
    ungrouped.set_class_groups('imagenet_coarse')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('name: bad\ngroups:\n  cats: [tabby, no such class]\n')
    with pytest.raises(ClassGroupError, match="member 'no such class'"):
        ungrouped.set_class_groups(str(bad))
    assert ungrouped.class_groups == COARSE
    assert ungrouped.classify(photos['chelsea'])[0].label == 'cat'


def test_no_groups_answers_with_model_labels_again(ungrouped, photos):
    ungrouped.set_class_groups(str(COARSE))
    ungrouped.set_class_groups(None)
    assert ungrouped.class_groups is None and len(ungrouped.labels) == 1000
    assert ungrouped.classify(photos['chelsea'])[0].label in CATS


def test_drop_groups_renormalise_over_kept_classes(catalog, photos):
    classifier = Classifier('lite0_int8', catalog=catalog, threads=1,
                            class_groups='conveyor_belt')
    try:
        scores = [p.score for p in classifier.classify(photos['coffee'], top_k=1000)]
        assert classifier.classify(photos['coffee'])[0].label == 'mug or cup'
    finally:
        classifier.close()
    assert len(scores) == len(classifier.labels)
    assert np.sum(scores) == pytest.approx(1.0, rel=1e-5)
