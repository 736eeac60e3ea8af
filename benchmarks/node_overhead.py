"""
What the classifier node costs: raw backend throughput vs the node's, and the latency it adds.

One run, one model, one thread count, 640x480 rgb8 frames:
- raw: backend inference on a preprocessed frame in a loop; and the standalone program,
  Classifier.classify() on the RGB frame (preprocessing included);
- node: the image source publishes a quarter faster than the raw backend goes (saturation)
  and the node classifies; throughput is the node's own count of classified frames over
  time (its /diagnostics), so listener losses cannot skew it;
- added latency: image received -> labels ready, minus inference, per frame (the node's
  'overhead' percentiles), at saturation and at a camera's 30 Hz;
- where it goes: each step of a frame (conversion, preprocessing, inference, softmax and
  top-k) timed one frame per camera period in one thread, and the ROS-free FramePipeline fed
  at the camera's rate in this process (its hand-off from the caller to a worker added).

    python -m benchmarks.node_overhead [--model lite0_int8] [--threads 1] [--seconds 10]
                                       [--overdrive 1.25]
"""

import argparse
import json
import os
from pathlib import Path
import time

from benchmarks.ros_graph import ros_processes

import numpy as np

from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.pipeline.frame_pipeline import FramePipeline
from jetson_classifier.pipeline.frame_sources import builtin_photos, resize
from jetson_classifier.pipeline.image_conversion import image_to_rgb

WIDTH, HEIGHT = 640, 480
NODE_MODULE = 'jetson_classifier.nodes.classifier_node'
SOURCE_MODULE = 'jetson_classifier.nodes.image_source_node'
CAMERA_HZ = 30.0
WARM_UP_S = 3.0


def loop_rate(work, seconds):
    """Call work() repeatedly for `seconds` after a short warm-up; return calls per second."""
    for _ in range(10):
        work()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        calls += 1
    return calls / (time.perf_counter() - start)


def measure_raw(model, threads, seconds):
    """Return backend-only and standalone-classify frames per second on a 640x480 photo."""
    frame = resize(builtin_photos()[0], WIDTH, HEIGHT)
    classifier = Classifier(model, threads=threads)
    try:
        batch = classifier.preprocess([frame])
        return {'backend_fps': loop_rate(lambda: classifier.backend.infer(batch), seconds),
                'standalone_fps': loop_rate(lambda: classifier.classify(frame), seconds),
                'backend': classifier.backend.name, 'device': classifier.backend.device}
    finally:
        classifier.close()


def paced(work, rate_hz, frames):
    """Call work() once per period of `rate_hz`, `frames` times after ten untimed calls."""
    period = 1.0 / rate_hz
    for index in range(frames + 10):
        start = time.perf_counter()
        work(timed=index >= 10)
        time.sleep(max(0.0, period - (time.perf_counter() - start)))


def measure_stages(model, threads, rate_hz, frames):
    """
    Return the p50 ms of each step of a paced frame, and the in-process pipeline's overhead.

    The steps run in one thread, as a worker of the node's pipeline runs them; the pipeline
    adds the hand-off from the caller to that worker, without ROS.
    """
    rgb = resize(builtin_photos()[0], WIDTH, HEIGHT)
    data = rgb.tobytes()
    classifier = Classifier(model, threads=threads)
    steps = {'convert': [], 'preprocess': [], 'inference': [], 'top-k': []}

    def frame(timed):
        marks = [time.perf_counter()]
        image = image_to_rgb('rgb8', HEIGHT, WIDTH, WIDTH * 3, data)
        marks.append(time.perf_counter())
        batch = classifier.preprocess([image])
        marks.append(time.perf_counter())
        probabilities = classifier.infer(batch)
        marks.append(time.perf_counter())
        classifier.predictions(probabilities)
        marks.append(time.perf_counter())
        if timed:
            for samples, start, end in zip(steps.values(), marks, marks[1:]):
                samples.append((end - start) * 1000.0)

    paced(frame, rate_hz, frames)
    figures = {f'{step} p50 ms': float(np.median(samples)) for step, samples in steps.items()}
    pipeline = FramePipeline(classifier, lambda message: image_to_rgb(*message),
                             deliver=lambda batch: None)
    message = ('rgb8', HEIGHT, WIDTH, WIDTH * 3, data)
    try:
        paced(lambda timed: pipeline.submit('', message, None, time.monotonic()),
              rate_hz, frames)
        time.sleep(0.2)
        snapshot = pipeline.snapshot('')
    finally:
        pipeline.close()
    figures['pipeline overhead p50 ms'] = snapshot['overhead p50 ms']
    figures['pipeline inference p50 ms'] = snapshot['inference p50 ms']
    return figures


def _diagnostics(arrays):
    """Return (stamp seconds, key -> value) of each classifier diagnostics status."""
    found = []
    for _, array in arrays:
        for status in array.status:
            if status.name == '/classifier: classification':
                stamp = array.header.stamp.sec + array.header.stamp.nanosec * 1e-9
                found.append((stamp, {kv.key: kv.value for kv in status.values}))
    return found


def measure_node(processes, domain, model, threads, rate_hz, seconds):
    """Run source -> node at `rate_hz` for `seconds` after warm-up; return the node's figures."""
    from diagnostic_msgs.msg import DiagnosticArray

    env = processes.ros_env(domain)
    node_params = processes.ros_params(model=model, threads=threads)
    source_params = processes.ros_params(width=WIDTH, height=HEIGHT, rate_hz=rate_hz)
    with processes.listener(domain, env) as ros:
        received = ros.subscribe(DiagnosticArray, '/diagnostics', 10)
        with processes.node_process(NODE_MODULE, node_params, env=env,
                                    ready_text='classifying', timeout_s=60.0), \
                processes.node_process(SOURCE_MODULE, source_params, env=env,
                                       ready_text='publishing'):
            ros.spin_for(WARM_UP_S)
            first = len(_diagnostics(received))
            ros.spin_until(lambda: len(_diagnostics(received)) > first + seconds, seconds + 5)
    reports = _diagnostics(received)
    (start_s, start), (end_s, end) = reports[first], reports[-1]
    classified = int(end['frames classified']) - int(start['frames classified'])
    received_frames = int(end['frames received']) - int(start['frames received'])
    figures = {key: float(end[key]) for key in (
        'inference p50 ms', 'latency p50 ms', 'overhead p50 ms', 'overhead p90 ms')}
    return dict(figures, rate_hz=rate_hz, node_fps=classified / (end_s - start_s),
                received_fps=received_frames / (end_s - start_s),
                dropped=int(end['frames dropped']) - int(start['frames dropped']))


def report_lines(args, raw, saturated, camera, stages):
    """Render the figures as the lines the README quotes."""
    steps = ', '.join(f"{key.replace(' p50 ms', '')} {value:.2f}"
                      for key, value in stages.items() if not key.startswith('pipeline'))
    ratio_backend = saturated['node_fps'] / raw['backend_fps']
    ratio_standalone = saturated['node_fps'] / raw['standalone_fps']
    return [
        f'{args.model}, threads={args.threads}, {WIDTH}x{HEIGHT} rgb8, '
        f"{raw['backend']} ({raw['device']}), {os.cpu_count()} CPU cores",
        f"raw backend: {raw['backend_fps']:.1f} fps; standalone classify() with "
        f"preprocessing: {raw['standalone_fps']:.1f} fps",
        f"node at saturation (source {saturated['rate_hz']:.0f} Hz, node received "
        f"{saturated['received_fps']:.0f}/s): {saturated['node_fps']:.1f} fps = "
        f'{ratio_backend:.0%} of raw backend, {ratio_standalone:.0%} of standalone (goal >= 90%)',
        'added latency p50 (received -> labels ready, minus inference): '
        f"{camera['overhead p50 ms']:.2f} ms at {camera['rate_hz']:.0f} Hz (goal <= 1 ms), "
        f"{saturated['overhead p50 ms']:.2f} ms at saturation (p90 "
        f"{camera['overhead p90 ms']:.2f} / {saturated['overhead p90 ms']:.2f} ms)",
        f"inference p50 in the node: {saturated['inference p50 ms']:.2f} ms at saturation, "
        f"{camera['inference p50 ms']:.2f} ms at {camera['rate_hz']:.0f} Hz",
        f'steps of a frame at {CAMERA_HZ:.0f} Hz in one thread, p50 ms: {steps}',
        f'the pipeline in-process at {CAMERA_HZ:.0f} Hz, no ROS: overhead p50 '
        f"{stages['pipeline overhead p50 ms']:.2f} ms, inference p50 "
        f"{stages['pipeline inference p50 ms']:.2f} ms",
    ]


def main(argv=None):
    """Measure raw, then the node at saturation and at 30 Hz; print and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--model', default='lite0_int8')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--overdrive', type=float, default=1.25,
                        help='source rate at saturation, as a multiple of raw backend fps')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('node_overhead.json'))
    args = parser.parse_args(argv)

    processes = ros_processes()
    raw = measure_raw(args.model, args.threads, args.seconds)
    print(f"raw: backend {raw['backend_fps']:.1f} fps, standalone {raw['standalone_fps']:.1f} "
          'fps', flush=True)
    saturating_hz = args.overdrive * raw['backend_fps']
    saturated = measure_node(processes, args.domain, args.model, args.threads, saturating_hz,
                             args.seconds)
    print(f"node at {saturating_hz:.0f} Hz: {saturated['node_fps']:.1f} fps", flush=True)
    camera = measure_node(processes, args.domain, args.model, args.threads, CAMERA_HZ,
                          args.seconds)
    stages = measure_stages(args.model, args.threads, CAMERA_HZ, int(args.seconds * CAMERA_HZ))
    lines = report_lines(args, raw, saturated, camera, stages)
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({
        'model': args.model, 'threads': args.threads, 'size': [WIDTH, HEIGHT],
        'cpu_count': os.cpu_count(), 'raw': raw, 'saturated': saturated,
        'camera_rate': camera, 'stages': stages, 'summary': lines}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
