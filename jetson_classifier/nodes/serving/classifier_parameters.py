"""
The classifier's parameters: their defaults and descriptors, and what their values build.

The plain and the managed node declare the same table; check_model and make_classifier turn
the values into a served model (check_model at once, make_classifier on the loader thread).
"""

from rclpy.parameter import Parameter

from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.backends import BACKEND_NAMES, SPIN_WAIT
from jetson_classifier.inference.class_groups import load_class_groups
from jetson_classifier.inference.classifier import class_groups_path, Classifier, load_model
from jetson_classifier.nodes.parameters import descriptor
from jetson_classifier.pipeline import cameras

# The camera of a single-camera node: today's topic names, reported in the node's own status.
CAMERA = ''
TRANSPORTS = ('raw', 'compressed')
PRECISIONS = ('', 'fp32', 'fp16', 'int8')
CHOICES = {'backend': BACKEND_NAMES, 'precision': PRECISIONS, 'input_transport': TRANSPORTS}
# Parameters that need another Classifier object when they change.
MODEL_PARAMETERS = ('model', 'model_dir', 'catalog', 'backend', 'precision', 'threads',
                    'spin_wait', 'max_batch')

PARAMETERS = {
    'model': ('lite0_int8', descriptor(
        'Catalog name (config/models.yaml) or path to an ONNX file. Set at runtime, a name or '
        'file that cannot be read is refused at once; otherwise the new model is built while '
        'the old one serves, and ~/active_model says when it serves (or that it failed)')),
    'model_dir': ('', descriptor(
        "Folder of the catalog's relative model files; empty: $JETSON_CLASSIFIER_MODEL_DIR "
        'or ~/.cache/jetson_classifier/models')),
    'catalog': ('', descriptor('Model catalog YAML; empty: the shipped config/models.yaml')),
    'backend': ('auto', descriptor('Inference backend', ', '.join(BACKEND_NAMES))),
    'precision': ('', descriptor(
        "Arithmetic TensorRT builds for; empty: the model's own", 'empty, fp32, fp16 or int8')),
    'threads': (0, descriptor('CPU inference threads; 0: all cores', integers=(0, 1024))),
    'spin_wait': (SPIN_WAIT, descriptor(
        "true: ONNX Runtime's idle CPU inference threads spin, ready sooner but keeping their "
        'cores busy between frames; false: they sleep, leaving the cores to other nodes. '
        'Benchmark with the same setting (benchmark --spin-wait)')),
    'max_batch': (0, descriptor(
        'Most images one TensorRT call carries (its engine is built for it; a larger batch '
        'takes several calls); 0: one per camera. ONNX Runtime takes any batch',
        integers=(0, 1024))),
    'cameras': ([CAMERA], descriptor(
        'Camera names: camera c is read on c/image (or c/image/compressed) and labelled on '
        '~/c/classification, ~/c/label, ~/c/fps, and its parameters are c.roi and '
        'c.detections; the camera "" keeps the single-camera names (image, ~/label, roi)',
        read_only=True)),
    'detections_timeout_s': (1.0, descriptor(
        'How long a frame waits for the detections stamped like it (and they for it) before '
        'both are dropped and counted', floats=(0.01, 60.0), read_only=True)),
    'top_k': (5, descriptor('Hypotheses per ~/classification message', integers=(1, 1000))),
    'score_threshold': (0.0, descriptor(
        'Leave out hypotheses below this probability', floats=(0.0, 1.0))),
    'class_groups': ('', descriptor(
        'Class group file or shipped name (imagenet_coarse, conveyor_belt): labels become '
        "group names; empty: the model's labels")),
    'input_transport': ('raw', descriptor(
        'raw: sensor_msgs/Image on image; compressed: CompressedImage on image/compressed',
        'raw or compressed', read_only=True)),
    'fps_window': (2.0, descriptor('Seconds of labels ~/fps averages over',
                                   floats=(0.1, 60.0))),
    'stale_after_s': (3.0, descriptor(
        'Diagnostics turn ERROR after this long without a frame while subscribed, and stay '
        'WARN this long after frames were rejected or a switch refused', floats=(0.1, 3600.0))),
}


def check_choices(values):
    """Raise ClassifierError naming the parameter whose value is not one of its choices."""
    for name, choices in CHOICES.items():
        if values[name] not in choices:
            allowed = ', '.join(map(repr, choices))
            raise ClassifierError(f'parameter {name}: {values[name]!r} is not one of {allowed}')


def make_classifier(values):
    """Build the Classifier the parameter `values` describe (minutes for a TensorRT build)."""
    return Classifier(
        values['model'], backend=values['backend'], catalog=values['catalog'] or None,
        model_dir=values['model_dir'] or None, threads=values['threads'] or None,
        spin_wait=values['spin_wait'],
        precision=values['precision'] or None, class_groups=values['class_groups'] or None,
        max_batch=values['max_batch'] or len(values['cameras']))


def check_model(values):
    """Read the model file and class groups `values` name; ClassifierError says what is wrong."""
    _, info = load_model(values['model'], values['catalog'] or None, values['model_dir'] or None)
    if values['class_groups']:
        load_class_groups(class_groups_path(values['class_groups'])).bind(
            info.labels, info.synsets or None)


def describe(classifier):
    """Return what diagnostics say about a model (read once: it may be closed later)."""
    return {'model': classifier.name, 'model file': str(classifier.model_path),
            'backend': classifier.backend.name, 'device': classifier.backend.device,
            'precision': classifier.backend.precision,
            'cpu threads': classifier.backend.cpu_threads,
            'max batch': classifier.max_batch or 'any',
            'tensorrt fallback': classifier.backend.fallback_reason or ''}


def camera_parameters(camera):
    """Return {name: (type or default, descriptor)} of the parameters of `camera`."""
    return {
        cameras.parameter(camera, 'roi'): (Parameter.Type.INTEGER_ARRAY, descriptor(
            f'[x, y, width, height] in pixels: the region of {camera or "the camera"}\'s '
            'frames to classify, or to which its detections are clipped; unset: the whole '
            'image', 'x, y >= 0, width, height > 0')),
        cameras.parameter(camera, 'detections'): (False, descriptor(
            f'Classify the boxes of the vision_msgs/Detection2DArray on '
            f'{cameras.topic(camera, "detections")} (matched to frames by header stamp) and '
            f'publish them on ~/{cameras.topic(camera, "detections")}', read_only=True)),
    }
