"""A tiny CNN exported to ONNX: a real model for backend tests, built in a second."""

import numpy as np
import torch

SIZE = 32
CLASSES = 10


class TinyNet(torch.nn.Module):
    """Conv, ReLU, global average pool, linear: enough to give distinct real logits."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(8, CLASSES)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def export_tiny_cnn(path, dynamic):
    """Export TinyNet (seeded) with input `images`, output `logits`; batch axis optional."""
    torch.manual_seed(0)
    axes = {'images': {0: 'batch'}, 'logits': {0: 'batch'}} if dynamic else None
    torch.onnx.export(TinyNet().eval(), torch.zeros(1, 3, SIZE, SIZE), str(path),
                      input_names=['images'], output_names=['logits'], opset_version=17,
                      dynamo=False, dynamic_axes=axes)
    return path


class _RandomImages:
    """Four seeded random inputs for onnxruntime's static quantization."""

    def __init__(self):
        rng = np.random.default_rng(1)
        self._feeds = iter([{'images': rng.normal(size=(1, 3, SIZE, SIZE)).astype(np.float32)}
                            for _ in range(4)])

    def get_next(self):
        return next(self._feeds, None)


def quantize_tiny_cnn(fp32_path, path, symmetric):
    """
    Quantize a TinyNet export to QDQ: TensorRT-valid when `symmetric`, else as a user would.

    Symmetric: int8 activations and weights with zero points 0 and float biases, the recipe
    onnx-tensorrt accepts. Otherwise ONNX Runtime's defaults: asymmetric int8 activations
    (zero points -2, -128, 55 here) and int32 biases, which TensorRT refuses.
    """
    from onnxruntime import quantization
    options = {}
    if symmetric:
        options = {'activation_type': quantization.QuantType.QInt8,
                   'weight_type': quantization.QuantType.QInt8,
                   'extra_options': {'ActivationSymmetric': True, 'WeightSymmetric': True,
                                     'QuantizeBias': False}}
    quantization.quantize_static(str(fp32_path), str(path), _RandomImages(),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                                 **options)
    return path
