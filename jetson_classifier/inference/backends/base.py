"""The one interface every inference backend implements."""

import abc

import numpy as np


class Backend(abc.ABC):
    """
    Runs one model: an NCHW batch of `input_dtype` in, an (N, classes) float32 score array out.

    Constructors take the ONNX model path and raise ModelLoadError naming the file when
    it is missing, corrupt or refused; BackendUnavailableError when the backend's
    libraries or hardware are absent.
    """

    name = 'base'
    # Why backend auto runs this one and not TensorRT; None when TensorRT was not asked for.
    fallback_reason = None
    # The CPU threads that run the model and how their idle ones wait, in words; '': none.
    cpu_threads = ''

    @property
    @abc.abstractmethod
    def input_shape(self):
        """(N, C, H, W) of the model input; N is None when the batch size is dynamic."""

    @property
    @abc.abstractmethod
    def precision(self):
        """'fp32', 'fp16' or 'int8': the arithmetic the model actually runs in."""

    @property
    @abc.abstractmethod
    def device(self):
        """Where inference runs, in words (e.g. 'CPUExecutionProvider', 'Orin (sm_87)')."""

    @property
    def input_dtype(self):
        """Return the model input's numpy dtype: float32 (normalised) or uint8 (pixels)."""
        return np.dtype(np.float32)

    @property
    def max_batch(self):
        """Largest batch one infer() call accepts (None: unbounded)."""
        return self.input_shape[0]

    @abc.abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Score an NCHW batch of `input_dtype`; returns raw model outputs (logits) per image."""

    def close(self):
        """Release device memory and sessions; the backend is unusable afterwards."""
