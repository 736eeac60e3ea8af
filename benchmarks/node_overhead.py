"""
What the classifier node costs: raw backend throughput vs the node's, and the latency it adds.

One run, one model, one thread count, 640x480 rgb8 frames:
- raw: backend inference on a preprocessed frame in a loop; and the standalone program,
  Classifier.classify() on the RGB frame (preprocessing included);
- node: the image source publishes a quarter faster than the raw backend goes (saturation)
  and the node classifies; throughput is the node's own count of classified frames over
  time (its /diagnostics), so listener losses cannot skew it;
- added latency: image received -> labels published, minus inference, per frame (the node's
  'overhead' percentiles), at saturation and at a camera's 30 Hz.

    python -m benchmarks.node_overhead [--model lite0_int8] [--threads 1] [--seconds 10]
                                       [--overdrive 1.25]
"""

import argparse
import json
import os
from pathlib import Path
import time

from benchmarks.ros_graph import ros_processes

from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.pipeline.frame_sources import builtin_photos, resize

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


def report_lines(args, raw, saturated, camera):
    """Render the figures as the lines the README quotes."""
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
        'added latency p50 (received -> published, minus inference): '
        f"{camera['overhead p50 ms']:.2f} ms at {camera['rate_hz']:.0f} Hz (goal <= 2 ms), "
        f"{saturated['overhead p50 ms']:.2f} ms at saturation (p90 "
        f"{camera['overhead p90 ms']:.2f} / {saturated['overhead p90 ms']:.2f} ms)",
        f"inference p50 in the node: {saturated['inference p50 ms']:.2f} ms at saturation, "
        f"{camera['inference p50 ms']:.2f} ms at {camera['rate_hz']:.0f} Hz",
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
    lines = report_lines(args, raw, saturated, camera)
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({
        'model': args.model, 'threads': args.threads, 'size': [WIDTH, HEIGHT],
        'cpu_count': os.cpu_count(), 'raw': raw, 'saturated': saturated,
        'camera_rate': camera, 'summary': lines}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
