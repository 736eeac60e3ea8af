"""Softmax and top-k."""

import numpy as np

from jetson_classifier.inference.postprocessing import softmax, top_k


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    probabilities = softmax(np.array([[1000.0, 1000.0, 0.0], [0.0, np.log(3.0), 0.0]]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[0], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(probabilities[1], [0.2, 0.6, 0.2])


def test_top_k_is_sorted_best_first_with_labels():
    result = top_k(np.array([0.1, 0.5, 0.05, 0.35]), ['a', 'b', 'c', 'd'], k=3)
    assert [(p.index, p.label) for p in result] == [(1, 'b'), (3, 'd'), (0, 'a')]
    assert result[0].score == 0.5


def test_top_k_drops_answers_below_the_threshold_and_caps_k_at_the_class_count():
    result = top_k(np.array([0.6, 0.3, 0.1]), ['a', 'b', 'c'], k=10, threshold=0.25)
    assert [p.label for p in result] == ['a', 'b']


def test_equal_probabilities_rank_the_lower_class_index_first_as_argmax_does():
    probabilities = np.full(1000, 1e-4)
    probabilities[[285, 282, 900, 7]] = 0.2  # INT8 logits tie: tiger cat and Egyptian cat
    result = top_k(probabilities, [str(i) for i in range(1000)], k=3)
    assert [p.index for p in result] == [7, 282, 285]
    assert result[0].index == probabilities.argmax()
