"""The whole job behind one object: `Classifier('lite0_int8').classify(image)`."""

from pathlib import Path
import time

from jetson_classifier import postprocessing
from jetson_classifier.backends import create_backend
from jetson_classifier.catalog import Catalog
from jetson_classifier.image_files import read_rgb
from jetson_classifier.model_info import read_model_info
from jetson_classifier.preprocessing import preprocess_batch


def load_model(model, catalog=None, model_dir=None):
    """Resolve a catalog name or ONNX path to (path, ModelInfo), reading the file's metadata."""
    if not isinstance(catalog, Catalog):
        catalog = Catalog.load(catalog, model_dir)
    path, entry = catalog.resolve(model)
    if entry is None:
        return path, read_model_info(path)
    info = read_model_info(path, labels_file=catalog.labels_path_of(entry), name=entry.name,
                           published_top1=entry.published_top1, **entry.preprocessing)
    return path, info


class Classifier:
    """A model loaded on a backend, answering with labels and probabilities."""

    def __init__(self, model='lite0_int8', backend='auto', catalog=None, model_dir=None,
                 threads=None, precision=None, cache_dir=None):
        """Load `model` (catalog name or ONNX path) on `backend` (auto|tensorrt|onnxruntime)."""
        self.model_path, self.info = load_model(model, catalog, model_dir)
        self.backend = create_backend(backend, self.model_path, threads=threads,
                                      precision=precision, cache_dir=cache_dir)
        self.last_inference_ms = None

    @property
    def name(self):
        """Return the catalog name of the model (or its file stem)."""
        return self.info.name

    def probabilities(self, images):
        """Return (N, C) class probabilities for a list of RGB arrays or image paths."""
        images = [read_rgb(i) if isinstance(i, (str, Path)) else i for i in images]
        batch = preprocess_batch(images, self.info)
        start = time.perf_counter()
        logits = self.backend.infer(batch)
        self.last_inference_ms = (time.perf_counter() - start) * 1000.0
        return postprocessing.softmax(logits)

    def classify(self, image, top_k=5, threshold=0.0):
        """Return the `top_k` predictions for one RGB array or image path, best first."""
        return self.classify_batch([image], top_k, threshold)[0]

    def classify_batch(self, images, top_k=5, threshold=0.0):
        """Return a list of predictions per image, best first."""
        return [postprocessing.top_k(row, self.info.labels, top_k, threshold)
                for row in self.probabilities(images)]

    def close(self):
        """Release the backend."""
        self.backend.close()
