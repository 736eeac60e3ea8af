"""A Classifier's max batch reaches the TensorRT engine (faithful fakes), and a batch fills it."""

import numpy as np
import pytest

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.classifier import Classifier


def test_a_tensorrt_engine_is_built_for_the_max_batch_asked_and_takes_a_full_batch(
        fakes, catalog, photos, tmp_path):
    classifier = Classifier('lite0', catalog=catalog, backend='tensorrt', precision='fp32',
                            cache_dir=tmp_path, max_batch=3)
    try:
        assert classifier.backend.name == 'tensorrt' and classifier.max_batch == 3
        assert '-b3' in classifier.backend.engine_path.name
        images = [photos['chelsea'], photos['coffee'], photos['rocket']]
        batch = classifier.classify_batch(images, top_k=1)
        assert [p[0].label for p in batch] == [
            classifier.classify(image, top_k=1)[0].label for image in images]
        with pytest.raises(ClassifierError, match=r'expected \(1\.\.3, 3, 224, 224\)'):
            classifier.infer(np.zeros((4, 3, 224, 224), np.float32))
    finally:
        classifier.close()


def test_onnxruntime_takes_any_batch(catalog):
    classifier = Classifier('lite0_160_int8', catalog=catalog, backend='onnxruntime',
                            max_batch=2)
    assert classifier.max_batch is None
    batch = np.zeros((5, 3, 160, 160), classifier.backend.input_dtype)
    assert classifier.infer(batch).shape == (5, 1000)
    classifier.close()
