"""A tiny CNN exported to ONNX: a real model for backend tests, built in a second."""

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
