"""
Latency as the classifier node meets it: one camera frame per period, through its pipeline.

Each model is loaded alone, as the node loads it, and fed 640x480 rgb8 camera messages at
a camera's rate through a pipeline.FramePipeline: the node's conversion, preprocessing and
inference threads and its ONNX Runtime settings, without DDS; in interleaved rounds, as the
back-to-back timing is, so that a noisy machine's slow seconds fall on every model alike.
A model paced by a camera pays on every frame what back-to-back timing hides (thread pools
waking, caches gone cold): on this project's 2-core VM lite0_int8 took 1.87x its back-to-back
time in the node at 30 Hz.
"""

import math
import threading
import time
from typing import Any, NamedTuple

import cv2

from jetson_classifier.benchmark import stats
from jetson_classifier.pipeline.frame_pipeline import FramePipeline
from jetson_classifier.pipeline.image_conversion import image_to_rgb

CAMERA_SIZE = (640, 480)
DEFAULT_RATE_HZ = 30.0
PACED_METHOD = (
    'each model as the classifier node loads it, fed 640x480 rgb8 camera messages at the rate '
    'through the pipeline of the node (conversion, preprocessing and inference threads, its '
    'ONNX Runtime settings), no DDS, in a fresh process; in interleaved rounds, each model '
    'loaded again and its first frames untimed in each; latency_ms is the model call, '
    'end_to_end_ms the arrival of a frame to its labels')
# Frames classified before the timed ones: a freshly loaded model's first calls are slow.
WARMUP_FRAMES = 10
# Blocks per model, order rotated each round: on a 2-core VM a model's per-second median
# call time jumped 1.5x for 1-2 s at random (lite0_160 7.3 -> 12 ms), and one 3 s block
# per model put such a burst on one model's figure (lite0_160 paced 10.4 ms, 7.6 in the node).
PACED_ROUNDS = 5


class CameraMessage(NamedTuple):
    """What the node reads of a sensor_msgs/Image."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes
    is_bigendian: bool
    header: Any = None


def camera_messages(photos, size=CAMERA_SIZE):
    """Return rgb8 camera messages of the RGB `photos`, resized to `size` (width, height)."""
    messages = []
    for photo in photos:
        rgb = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        messages.append(CameraMessage('rgb8', rgb.shape[0], rgb.shape[1], rgb.shape[1] * 3,
                                      rgb.tobytes(), False))
    return messages


def convert(message):
    """Turn a camera message into RGB as the node does."""
    return image_to_rgb(message.encoding, message.height, message.width, message.step,
                        message.data, message.is_bigendian)


def measure_paced(loaders, messages, rates, frames):
    """
    Time each model at each rate as the node runs it; return {name: [entry per rate]}.

    `loaders` maps each name to a function that loads its classifier. In each of PACED_ROUNDS
    rounds every model, order rotated, is loaded and fed `messages` (cycling) at each rate:
    WARMUP_FRAMES untimed, then frames / PACED_ROUNDS (rounded up) timed. An entry is
    {'rate_hz', 'frames', 'latency_ms', 'end_to_end_ms'}: the model call's time and the time
    from a frame's arrival to its labels over all its rounds, each as p50/p90/p99/mean ms.
    """
    names = list(loaders)
    timed = {(name, rate): [] for name in names for rate in rates}
    for round_index in range(PACED_ROUNDS):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            for rate in rates:
                timed[name, rate] += _paced_block(loaders[name](), messages, rate,
                                                  math.ceil(frames / PACED_ROUNDS))
    return {name: [{'rate_hz': rate, 'frames': len(timed[name, rate]),
                    'latency_ms': stats.latency_summary([c for c, _ in timed[name, rate]]),
                    'end_to_end_ms': stats.latency_summary([e for _, e in timed[name, rate]])}
                   for rate in rates] for name in names}


def _paced_block(classifier, messages, rate_hz, frames):
    """
    Feed WARMUP_FRAMES + `frames` messages at `rate_hz` to a pipeline on `classifier`.

    The pipeline closes, and with it the classifier. Returns (model call s, arrival to labels
    s) of each timed frame that was not dropped.
    """
    delivered = []
    done = threading.Condition()

    def deliver(batch):
        arrived, call_ms = time.monotonic(), sum(batch.inference_ms)
        with done:
            delivered.extend((labelled.header, call_ms, arrived) for labelled in batch.labelled)
            done.notify()
    pipeline = FramePipeline(classifier, convert, deliver)
    sent = {}
    period = 1.0 / rate_hz
    start = time.monotonic()
    try:
        for index in range(WARMUP_FRAMES + frames):
            time.sleep(max(0.0, start + index * period - time.monotonic()))
            message = messages[index % len(messages)]._replace(header=index)
            sent[index] = time.monotonic()
            pipeline.submit('', message, index, stamp_s=sent[index])
        with done:
            done.wait_for(lambda: delivered and delivered[-1][0] == index, timeout=10.0)
    finally:
        pipeline.close()
    return [(ms / 1000.0, at - sent[header]) for header, ms, at in delivered
            if header >= WARMUP_FRAMES]
