"""
Latency as the classifier node meets it: one camera frame per period, through its pipeline.

Each model is loaded alone, as the node loads it, and fed 640x480 rgb8 camera messages at
`rate_hz` through a pipeline.FramePipeline: the node's conversion, preprocessing and
inference threads and its ONNX Runtime settings, without DDS. A model paced by a camera pays
on every frame what back-to-back timing hides (thread pools waking, caches gone cold): on
this project's 2-core VM lite0_int8 took 1.87x its back-to-back time in the node at 30 Hz.
"""

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
    'each model alone, as the classifier node loads it, fed 640x480 rgb8 camera messages at '
    'the rate through the pipeline of the node (conversion, preprocessing and inference '
    'threads, its ONNX Runtime settings), no DDS, in a fresh process; latency_ms is the model '
    'call, end_to_end_ms the arrival of a frame to its labels')
# Frames classified before the timed ones: a freshly loaded model's first calls are slow.
WARMUP_FRAMES = 10


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


def measure_paced(classifier, messages, rate_hz, frames):
    """
    Feed `frames` messages (cycling) at `rate_hz` to a pipeline on `classifier`; close both.

    Returns {'rate_hz', 'frames', 'latency_ms', 'end_to_end_ms'}: the model call's time and
    the time from a frame's arrival to its labels, each as p50/p90/p99/mean ms, over the
    frames after WARMUP_FRAMES.
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
    timed = [(header, ms, at) for header, ms, at in delivered if header >= WARMUP_FRAMES]
    return {'rate_hz': rate_hz, 'frames': len(timed),
            'latency_ms': stats.latency_summary([ms / 1000.0 for _, ms, _ in timed]),
            'end_to_end_ms': stats.latency_summary([at - sent[h] for h, _, at in timed])}
