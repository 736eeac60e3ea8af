"""
What a model file says about itself: labels and the preprocessing it was trained with.

Our ONNX files carry this in their metadata_props, so one file describes itself. A user's
own ONNX classifier without that metadata is described by its catalog entry instead.
"""

import dataclasses
import json
from pathlib import Path

import onnx

from jetson_classifier.errors import ModelLoadError

# Torchvision's ImageNet statistics: the usual choice for a user's own model.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# NodeProto.op_type is field 4 (tag byte 0x22) followed by its length: finding these
# byte strings finds Q/DQ nodes without parsing a model of tens of megabytes.
_QDQ_OP_TYPES = (b'\x22\x0eQuantizeLinear', b'\x22\x10DequantizeLinear')
_JSON_FIELDS = ('labels', 'synsets', 'mean', 'std')
_NUMBER_FIELDS = {'input_size': int, 'crop_fraction': float, 'published_top1': float,
                  'macs': int, 'params': int}


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Labels and preprocessing of one classification model."""

    labels: tuple
    input_size: int
    crop_fraction: float = 0.875
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    color_order: str = 'RGB'
    synsets: tuple = ()
    name: str = ''
    precision: str = 'fp32'
    published_top1: float = None
    macs: int = None
    params: int = None

    def to_metadata(self):
        """Return the ONNX metadata_props dict (all values are strings)."""
        props = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value == ():
                continue
            props[field.name] = (json.dumps(list(value)) if field.name in _JSON_FIELDS
                                 else str(value))
        return props

    @classmethod
    def from_metadata(cls, props, **fallback):
        """Build from ONNX metadata_props; `fallback` fills fields the metadata lacks."""
        values = dict(fallback)
        for key, text in props.items():
            if key in _JSON_FIELDS:
                values[key] = tuple(json.loads(text))
            elif key in _NUMBER_FIELDS:
                values[key] = _NUMBER_FIELDS[key](text)
            elif key in ('color_order', 'name', 'precision'):
                values[key] = text
        return cls(**values)


def load_onnx(path):
    """Load an ONNX model, raising ModelLoadError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f'model file not found: {path}')
    try:
        return onnx.load(str(path))
    except Exception as error:  # onnx raises DecodeError, OSError, ValueError...
        raise ModelLoadError(f'not a readable ONNX model: {path} ({error})') from error


def is_explicitly_quantized(onnx_bytes):
    """Tell whether the ONNX model holds QuantizeLinear/DequantizeLinear (QDQ) nodes."""
    return any(op_type in onnx_bytes for op_type in _QDQ_OP_TYPES)


def input_size_of(model):
    """Return the square spatial size of an NCHW ONNX model's first input."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4 or dims[2].dim_value != dims[3].dim_value or dims[2].dim_value <= 0:
        raise ModelLoadError(f'model input is not a fixed square NCHW image: {dims}')
    return dims[2].dim_value


def read_model_info(path, labels_file=None, **overrides):
    """
    Describe the model at `path`.

    The file's metadata comes first; a labels file and the graph's input size fill what it
    lacks (a user's own model); non-None `overrides` from the catalog win over both.
    """
    model = load_onnx(path)
    props = {p.key: p.value for p in model.metadata_props}
    fallback = {'input_size': input_size_of(model), 'name': Path(path).stem}
    if labels_file is not None:
        fallback['labels'] = read_labels(labels_file)
    if 'labels' not in props and 'labels' not in fallback:
        raise ModelLoadError(f'model has no labels in its metadata and no labels file: {path}')
    info = ModelInfo.from_metadata(props, **fallback)
    return dataclasses.replace(info, **{k: v for k, v in overrides.items() if v is not None})


def read_labels(path):
    """Read a labels file: one label per line, blank lines ignored."""
    try:
        lines = Path(path).read_text(encoding='utf-8').splitlines()
    except OSError as error:
        raise ModelLoadError(f'cannot read labels file {path}: {error}') from error
    return tuple(line.strip() for line in lines if line.strip())


def write_model_info(model, info):
    """Replace the metadata_props of an in-memory ONNX model with `info`."""
    del model.metadata_props[:]
    for key, value in info.to_metadata().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
