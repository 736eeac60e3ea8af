"""The whole job behind one object: `Classifier('lite0_int8').classify(image)`."""

from pathlib import Path
import time

from jetson_classifier.errors import ClassGroupError
from jetson_classifier.inference import postprocessing
from jetson_classifier.inference.backends import create_backend, SPIN_WAIT
from jetson_classifier.inference.catalog import Catalog, share_dir
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.image_files import read_rgb
from jetson_classifier.inference.model_info import read_model_info
from jetson_classifier.inference.preprocessing import preprocess_batch


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


def class_groups_path(groups):
    """
    Return the group file `groups` names: a path, or a shipped name like 'imagenet_coarse'.

    A value without a directory part or a .yaml/.yml suffix is a name in config/groups/.
    """
    path = Path(groups).expanduser()
    if path.suffix in ('.yaml', '.yml') or len(path.parts) > 1:
        return path
    shipped = share_dir() / 'config' / 'groups'
    if not (shipped / f'{groups}.yaml').is_file():
        names = ', '.join(sorted(p.stem for p in shipped.glob('*.yaml')))
        raise ClassGroupError(f'no class group file named {groups!r} in {shipped}; shipped: '
                              f'{names}; or give a path to a .yaml file')
    return shipped / f'{groups}.yaml'


class Classifier:
    """A model loaded on a backend, answering with labels and probabilities."""

    def __init__(self, model='lite0_int8', backend='auto', catalog=None, model_dir=None,
                 threads=None, precision=None, cache_dir=None, class_groups=None,
                 max_batch=None, spin_wait=SPIN_WAIT):
        """
        Load `model` (catalog name or ONNX path) on `backend` (auto|tensorrt|onnxruntime).

        `class_groups` (a group file or shipped name, see set_class_groups) makes the answers
        group names instead of model labels. `max_batch` is the most images one infer() call
        must take: a TensorRT engine is built for it (ONNX Runtime takes any batch).
        `spin_wait` makes ONNX Runtime's idle CPU workers spin instead of sleeping.
        """
        self.model_path, self.info = load_model(model, catalog, model_dir)
        self.class_groups = None
        self._grouping = None
        self.set_class_groups(class_groups)
        self.backend = create_backend(backend, self.model_path, threads=threads,
                                      precision=precision, cache_dir=cache_dir,
                                      max_batch=max_batch, spin_wait=spin_wait)
        self.last_inference_ms = None

    @property
    def name(self):
        """Return the catalog name of the model (or its file stem)."""
        return self.info.name

    @property
    def max_batch(self):
        """Return the most images one infer() call takes (None: any number)."""
        return self.backend.max_batch

    @property
    def labels(self):
        """Return the labels answers use: the group names when grouping, else the model's."""
        grouping = self._grouping
        return self.info.labels if grouping is None else grouping.labels

    def set_class_groups(self, groups):
        """
        Answer with the groups of a file (path or shipped name), or with model labels for None.

        The file is read and bound to this model's labels first; on ClassGroupError nothing
        changes.
        """
        if not groups:
            self.class_groups, self._grouping = None, None
            return
        path = class_groups_path(groups)
        grouping = load_class_groups(path).bind(self.info.labels, self.info.synsets or None)
        self.class_groups, self._grouping = path, grouping

    def preprocess(self, images):
        """Return the model's input batch for a list of RGB arrays or image paths (CPU work)."""
        images = [read_rgb(i) if isinstance(i, (str, Path)) else i for i in images]
        return preprocess_batch(images, self.info, self.backend.input_dtype)

    def infer(self, batch):
        """Return (N, C) model class probabilities for a preprocess() batch; timed in ms."""
        start = time.perf_counter()
        logits = self.backend.infer(batch)
        self.last_inference_ms = (time.perf_counter() - start) * 1000.0
        return postprocessing.softmax(logits)

    def probabilities(self, images):
        """Return (N, C) model class probabilities for a list of RGB arrays or image paths."""
        return self.infer(self.preprocess(images))

    def predictions(self, probabilities, top_k=5, threshold=0.0):
        """Return the best predictions per row of model probabilities (groups when grouping)."""
        grouping = self._grouping
        if grouping is not None:
            probabilities = grouping.apply(probabilities)
        labels = self.info.labels if grouping is None else grouping.labels
        return [postprocessing.top_k(row, labels, top_k, threshold) for row in probabilities]

    def classify(self, image, top_k=5, threshold=0.0):
        """Return the `top_k` predictions for one RGB array or image path, best first."""
        return self.classify_batch([image], top_k, threshold)[0]

    def classify_batch(self, images, top_k=5, threshold=0.0):
        """Return a list of predictions per image, best first (groups when grouping)."""
        return self.predictions(self.probabilities(images), top_k, threshold)

    def close(self):
        """Release the backend."""
        self.backend.close()
