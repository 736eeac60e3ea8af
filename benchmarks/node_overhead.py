"""
What the classifier node costs: raw backend throughput vs the node's, and the latency it adds.

One run, one model, one thread count, 640x480 rgb8 frames, in rounds (each: raw, raw beside
the source and beside its frames, then the node at saturation and at 30 Hz; medians and ranges
over rounds, since one round on a shared VM can be a third off the next):
- raw: backend inference on a preprocessed frame in a loop; and the standalone program,
  Classifier.classify() on the RGB frame (preprocessing included);
- raw beside the source, then beside the frames: the backend loop again while the source
  publishes at the saturation rate, first to nobody, then to this process, which takes the
  frames and drops them: what any node that receives its frames on these cores can reach, so
  node / raw splits into the source's cost, the frames' trip and the node's own;
- node: the image source publishes a quarter faster than the raw backend goes (saturation)
  and the node classifies; throughput is the node's own count of classified frames over
  time (its /diagnostics), so listener losses cannot skew it; the CPU the node and the
  source used meanwhile, in cores, says what the model's thread shared its cores with;
- added latency: image received -> labels ready, minus inference, per frame (the node's
  'overhead' percentiles), at saturation and at a camera's 30 Hz;
- where it goes: each step of a frame (conversion, preprocessing, inference, softmax and
  top-k) timed one frame per camera period in one thread, and the ROS-free FramePipeline fed
  at the camera's rate in this process (its hand-off from the caller to a worker added).

    python -m benchmarks.node_overhead [--model lite0_int8] [--threads 1] [--seconds 10]
                                       [--overdrive 1.25] [--rounds 3]
"""

import argparse
import contextlib
import json
import os
from pathlib import Path
import threading
import time

from benchmarks.ros_graph import cpu_s, ros_processes

import numpy as np

from jetson_classifier.inference.backends import SPIN_WAIT
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


@contextlib.contextmanager
def classifier_on_photo(model, threads):
    """Yield (classifier, a 640x480 photo, its preprocessed batch); close the classifier."""
    frame = resize(builtin_photos()[0], WIDTH, HEIGHT)
    classifier = Classifier(model, threads=threads)
    try:
        yield classifier, frame, classifier.preprocess([frame])
    finally:
        classifier.close()


def measure_raw(model, threads, seconds):
    """Return backend-only and standalone-classify frames per second on a 640x480 photo."""
    with classifier_on_photo(model, threads) as (classifier, frame, batch):
        return {'backend_fps': loop_rate(lambda: classifier.backend.infer(batch), seconds),
                'standalone_fps': loop_rate(lambda: classifier.classify(frame), seconds),
                'backend': classifier.backend.name, 'device': classifier.backend.device}


def measure_raw_beside_frames(processes, domain, model, threads, rate_hz, seconds,
                              receive=True):
    """
    Return backend-only fps while an image source publishes at `rate_hz`, and frames taken/s.

    With `receive`, this process takes the frames as the node does (sensor-data QoS, one
    executor thread) and drops them: the model shares the cores and the process with the
    frames' trip, not with a pipeline. Without, nobody subscribes: only the source runs.
    """
    from sensor_msgs.msg import Image

    env = processes.ros_env(domain)
    source_params = processes.ros_params(width=WIDTH, height=HEIGHT, rate_hz=rate_hz)
    received, stop = [0], threading.Event()

    def count(_):
        received[0] += 1

    def spin(ros):
        while not stop.is_set():
            ros.executor.spin_once(timeout_sec=0.05)

    with classifier_on_photo(model, threads) as (classifier, _, batch), \
            processes.listener(domain, env) as ros, \
            processes.node_process(SOURCE_MODULE, source_params, env=env,
                                   ready_text='publishing'):
        if receive:
            ros.node.create_subscription(Image, 'image', count,
                                         processes.qos_profile_sensor_data)
        spinner = threading.Thread(target=spin, args=(ros,))
        spinner.start()
        try:
            time.sleep(WARM_UP_S)
            first, start = received[0], time.monotonic()
            fps = loop_rate(lambda: classifier.backend.infer(batch), seconds)
            received_fps = (received[0] - first) / (time.monotonic() - start)
        finally:
            stop.set()
            spinner.join()
    return {'backend_fps': fps, 'received_fps': received_fps}


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


def measure_node(processes, domain, model, threads, rate_hz, seconds, spin_wait=SPIN_WAIT):
    """Run source -> node at `rate_hz` for `seconds` after warm-up; return the node's figures."""
    from diagnostic_msgs.msg import DiagnosticArray

    env = processes.ros_env(domain)
    node_params = processes.ros_params(model=model, threads=threads, spin_wait=spin_wait)
    source_params = processes.ros_params(width=WIDTH, height=HEIGHT, rate_hz=rate_hz)
    with processes.listener(domain, env) as ros:
        received = ros.subscribe(DiagnosticArray, '/diagnostics', 10)
        with processes.node_process(NODE_MODULE, node_params, env=env,
                                    ready_text='classifying', timeout_s=60.0) as node, \
                processes.node_process(SOURCE_MODULE, source_params, env=env,
                                       ready_text='publishing') as source:
            ros.spin_for(WARM_UP_S)
            first = len(_diagnostics(received))
            pids = ([node.process.pid], [source.process.pid])
            cpu_start, cpu_since = [cpu_s(p) for p in pids], time.monotonic()
            ros.spin_until(lambda: len(_diagnostics(received)) > first + seconds, seconds + 5)
            cores = [(cpu_s(p) - c) / (time.monotonic() - cpu_since)
                     for p, c in zip(pids, cpu_start)]
    reports = _diagnostics(received)
    (start_s, start), (end_s, end) = reports[first], reports[-1]
    classified = int(end['frames classified']) - int(start['frames classified'])
    received_frames = int(end['frames received']) - int(start['frames received'])
    figures = {key: float(end[key]) for key in (
        'inference p50 ms', 'latency p50 ms', 'overhead p50 ms', 'overhead p90 ms')}
    return dict(figures, rate_hz=rate_hz, node_fps=classified / (end_s - start_s),
                received_fps=received_frames / (end_s - start_s),
                dropped=int(end['frames dropped']) - int(start['frames dropped']),
                node_cores=cores[0], source_cores=cores[1])


def spread(rounds, figure):
    """Return 'median (min-max)' of figure(round) over rounds, to two decimals."""
    values = [figure(r) for r in rounds]
    return f'{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})'


def report_lines(args, rounds, stages):
    """Render the medians (and ranges) over rounds as the lines the README quotes."""
    steps = ', '.join(f"{key.replace(' p50 ms', '')} {value:.2f}"
                      for key, value in stages.items() if not key.startswith('pipeline'))
    raw = rounds[0]['raw']
    return [
        f'{args.model}, threads={args.threads}, {WIDTH}x{HEIGHT} rgb8, '
        f"{raw['backend']} ({raw['device']}), {os.cpu_count()} CPU cores, {len(rounds)} "
        'round(s): median (min-max)',
        'raw backend fps: ' + spread(rounds, lambda r: r['raw']['backend_fps'])
        + '; standalone classify() with preprocessing: '
        + spread(rounds, lambda r: r['raw']['standalone_fps']),
        'node at saturation (source ' + spread(rounds, lambda r: r['saturated']['rate_hz'])
        + ' Hz, received ' + spread(rounds, lambda r: r['saturated']['received_fps'])
        + '/s): ' + spread(rounds, lambda r: r['saturated']['node_fps']) + ' fps',
        'raw backend beside the source, its frames heard by nobody: '
        + spread(rounds, lambda r: r['beside_source']['backend_fps']) + ' fps, '
        + spread(rounds, lambda r: r['beside_source']['backend_fps'] / r['raw']['backend_fps'])
        + ' of raw',
        'raw backend beside the frames (received '
        + spread(rounds, lambda r: r['beside_frames']['received_fps']) + '/s): '
        + spread(rounds, lambda r: r['beside_frames']['backend_fps']) + ' fps, '
        + spread(rounds, lambda r: r['beside_frames']['backend_fps'] / r['raw']['backend_fps'])
        + ' of raw; node / raw beside the frames: '
        + spread(rounds, lambda r: r['saturated']['node_fps']
                 / r['beside_frames']['backend_fps']),
        'node / raw backend in the same round: '
        + spread(rounds, lambda r: r['saturated']['node_fps'] / r['raw']['backend_fps'])
        + ' (goal >= 0.90); node / standalone: '
        + spread(rounds, lambda r: r['saturated']['node_fps'] / r['raw']['standalone_fps']),
        f'CPU at saturation, in cores of {os.cpu_count()}: node '
        + spread(rounds, lambda r: r['saturated']['node_cores']) + ', image source '
        + spread(rounds, lambda r: r['saturated']['source_cores']),
        f'added latency p50 (received -> labels ready, minus inference), ms: at {CAMERA_HZ:.0f} '
        'Hz ' + spread(rounds, lambda r: r['camera_rate']['overhead p50 ms'])
        + ' (goal <= 1.0), at saturation '
        + spread(rounds, lambda r: r['saturated']['overhead p50 ms']),
        'inference p50 in the node, ms: at saturation '
        + spread(rounds, lambda r: r['saturated']['inference p50 ms'])
        + f', at {CAMERA_HZ:.0f} Hz '
        + spread(rounds, lambda r: r['camera_rate']['inference p50 ms']),
        f'steps of a frame at {CAMERA_HZ:.0f} Hz in one thread, p50 ms: {steps}',
        f'the pipeline in-process at {CAMERA_HZ:.0f} Hz, no ROS: overhead p50 '
        f"{stages['pipeline overhead p50 ms']:.2f} ms, inference p50 "
        f"{stages['pipeline inference p50 ms']:.2f} ms",
    ]


def main(argv=None):
    """Measure raw, the node at saturation and at 30 Hz in rounds, then the steps; print all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--model', default='lite0_int8')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--overdrive', type=float, default=1.25,
                        help='source rate at saturation, as a multiple of raw backend fps')
    parser.add_argument('--rounds', type=int, default=3,
                        help='times raw, saturation and 30 Hz run, in turn')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('node_overhead.json'))
    args = parser.parse_args(argv)

    processes = ros_processes()
    rounds = []
    for index in range(args.rounds):
        raw = measure_raw(args.model, args.threads, args.seconds)
        saturation_hz = args.overdrive * raw['backend_fps']
        beside_source, beside = (
            measure_raw_beside_frames(processes, args.domain, args.model, args.threads,
                                      saturation_hz, args.seconds, receive)
            for receive in (False, True))
        saturated = measure_node(processes, args.domain, args.model, args.threads,
                                 saturation_hz, args.seconds)
        camera = measure_node(processes, args.domain, args.model, args.threads, CAMERA_HZ,
                              args.seconds)
        rounds.append({'raw': raw, 'beside_source': beside_source, 'beside_frames': beside,
                       'saturated': saturated, 'camera_rate': camera})
        print(f"round {index + 1}: raw backend {raw['backend_fps']:.1f} fps, beside the frames "
              f"{beside['backend_fps']:.1f} fps, node at "
              f"{saturated['rate_hz']:.0f} Hz {saturated['node_fps']:.1f} fps, added latency "
              f"at {CAMERA_HZ:.0f} Hz {camera['overhead p50 ms']:.2f} ms", flush=True)
    stages = measure_stages(args.model, args.threads, CAMERA_HZ, int(args.seconds * CAMERA_HZ))
    lines = report_lines(args, rounds, stages)
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({
        'model': args.model, 'threads': args.threads, 'size': [WIDTH, HEIGHT],
        'cpu_count': os.cpu_count(), 'rounds': rounds, 'stages': stages,
        'summary': lines}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
