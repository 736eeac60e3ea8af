"""
Four cameras: one classifier node that batches them vs four single-camera nodes.

One run, one model, one thread count, four 640x480 rgb8 image sources (/cam0 .. /cam3):
- at 30 Hz: the share of each camera's frames that got labels (goal: >= 99% on every
  camera); a frame counts as sent when the node received it or saw it lost upstream;
- at saturation (each camera at `overdrive` x the raw backend's batch-1 fps / 4): labels per
  second of the four cameras together (goal: one node >= 1.5x four nodes);
- memory: total RSS of the classifier processes (goal: one node <= 0.5x four), with PSS,
  which counts the pages the four processes share once;
- where the time goes: CPU ms per label of the classifier processes and of the image
  sources, the model's time per call and images per call, and the raw backend at batch 1
  and batch 4.
Counts come from the nodes' own /diagnostics, so listener losses cannot skew them.

    python -m benchmarks.multi_camera [--model lite0_int8] [--threads 1] [--seconds 10]
                                      [--rounds 2] [--overdrive 1.25] [--json FILE]
"""

import argparse
import contextlib
import json
import os
from pathlib import Path
import time

from benchmarks.node_overhead import HEIGHT, loop_rate, WIDTH
from benchmarks.ros_graph import cpu_s, process_tree, ros_processes
import numpy as np

from jetson_classifier.inference.classifier import Classifier
from jetson_classifier.pipeline.frame_sources import builtin_photos, resize

CAMERAS = ('cam0', 'cam1', 'cam2', 'cam3')
NODE_MODULE = 'jetson_classifier.nodes.classifier_node'
SOURCE_MODULE = 'jetson_classifier.nodes.image_source_node'
CAMERA_HZ = 30.0
WARM_UP_S = 4.0
LAYOUTS = ('one node', 'four nodes')
# The status that counts each camera's frames, per layout.
STATUS = {'one node': '/classifier: camera {camera}',
          'four nodes': '/{camera}/classifier: classification'}
COUNTS = ('frames received', 'frames classified', 'frames dropped', 'frames lost upstream')


def measure_raw(model, threads, seconds):
    """Return the backend's images per second at batch 1 and batch 4 on a 640x480 photo."""
    frame = resize(builtin_photos()[0], WIDTH, HEIGHT)
    classifier = Classifier(model, threads=threads)
    try:
        one, four = classifier.preprocess([frame]), classifier.preprocess([frame] * 4)
        return {'batch_1_fps': loop_rate(lambda: classifier.backend.infer(one), seconds),
                'batch_4_fps': 4 * loop_rate(lambda: classifier.backend.infer(four), seconds),
                'device': classifier.backend.device}
    finally:
        classifier.close()


def memory_mb(pids):
    """Return (RSS, PSS) in MiB summed over `pids` and their descendants."""
    rss = pss = 0
    for pid in (p for parent in pids for p in process_tree(parent)):
        fields = dict(line.split(':', 1) for line in
                      Path(f'/proc/{pid}/smaps_rollup').read_text().splitlines()[1:])
        rss += int(fields['Rss'].split()[0])
        pss += int(fields['Pss'].split()[0])
    return rss / 1024, pss / 1024


def camera_counts(arrays, layout, since):
    """Return {camera: [(stamp s, {count: n})]} of the statuses that arrived after `since`."""
    found = {camera: [] for camera in CAMERAS}
    names = {STATUS[layout].format(camera=camera): camera for camera in CAMERAS}
    for at, array in arrays:
        if at < since:
            continue
        stamp = array.header.stamp.sec + array.header.stamp.nanosec * 1e-9
        for status in array.status:
            if status.name in names:
                values = {kv.key: kv.value for kv in status.values}
                found[names[status.name]].append((stamp, {k: int(values[k]) for k in COUNTS}))
    return found


def model_figures(arrays, layout, since):
    """Return the median model time per call and images per call the classifiers reported."""
    name = ('/classifier: classification' if layout == 'one node'
            else '/{}/classifier: classification')
    names = {name.format(camera) for camera in CAMERAS}
    reports = [{kv.key: kv.value for kv in status.values} for at, array in arrays if at > since
               for status in array.status if status.name in names]
    reports = [r for r in reports if 'inference p50 ms' in r]
    return {'inference_ms_per_call': float(np.median([float(r['inference p50 ms'])
                                                      for r in reports])),
            'images_per_call': float(np.median([float(r['images per call']) for r in reports]))}


def run_layout(processes, domain, layout, model, threads, rate_hz, seconds):
    """Run the four sources and `layout` at `rate_hz` per camera; return what it did."""
    from diagnostic_msgs.msg import DiagnosticArray

    env = processes.ros_env(domain)
    params = {'model': model, 'threads': threads}
    if layout == 'one node':
        nodes = [processes.ros_params(cameras=list(CAMERAS), **params)]
    else:
        nodes = [['-r', f'__ns:=/{camera}', *processes.ros_params(**params)]
                 for camera in CAMERAS]
    source_params = processes.ros_params(width=WIDTH, height=HEIGHT, rate_hz=rate_hz)
    with processes.listener(domain, env) as ros, contextlib.ExitStack() as running:
        arrays = ros.subscribe(DiagnosticArray, '/diagnostics', 50)
        classifiers = [running.enter_context(processes.node_process(
            NODE_MODULE, args, env=env, ready_text='classifying', timeout_s=90.0)).process.pid
            for args in nodes]
        publishers = [running.enter_context(processes.node_process(
            SOURCE_MODULE, ['-r', f'__ns:=/{camera}', *source_params], env=env,
            ready_text='publishing')).process.pid for camera in CAMERAS]
        ros.spin_for(WARM_UP_S)
        since, cpu_start = time.monotonic(), (cpu_s(classifiers), cpu_s(publishers))
        ros.spin_for(seconds + 1.5)
        cpu_end = (cpu_s(classifiers), cpu_s(publishers))
        rss, pss = memory_mb(classifiers)
    return summarize(camera_counts(arrays, layout, since), model_figures(arrays, layout, since),
                     cpu_start, cpu_end, rss, pss, rate_hz)


def summarize(counts, model, cpu_start, cpu_end, rss, pss, rate_hz):
    """Turn each camera's first and last counts into rates and shares."""
    cameras = {}
    for camera, reports in counts.items():
        (start_s, first), (end_s, last) = reports[0], reports[-1]
        delta = {key: last[key] - first[key] for key in COUNTS}
        sent = delta['frames received'] + delta['frames lost upstream']
        cameras[camera] = dict(delta, seconds=end_s - start_s,
                               labels_per_s=delta['frames classified'] / (end_s - start_s),
                               labelled_share=delta['frames classified'] / sent if sent else 0.0)
    labels = sum(c['frames classified'] for c in cameras.values())
    span = float(np.mean([c['seconds'] for c in cameras.values()]))
    return {'rate_hz': rate_hz, 'cameras': cameras,
            'labels_per_s': sum(c['labels_per_s'] for c in cameras.values()),
            'rss_mb': rss, 'pss_mb': pss, **model,
            'classifier_cpu_ms_per_label': 1000 * (cpu_end[0] - cpu_start[0]) / max(labels, 1),
            'source_cpu_ms_per_label': 1000 * (cpu_end[1] - cpu_start[1]) / max(labels, 1),
            'classifier_cores': (cpu_end[0] - cpu_start[0]) / span}


def median(runs, key):
    """Return the median of `key` over runs."""
    return float(np.median([run[key] for run in runs]))


def report_lines(args, raw, results):
    """Render the medians over rounds, and each round's ratio, as the lines the README quotes."""
    one, four = results['one node'], results['four nodes']
    lines = [f'{args.model}, threads={args.threads}, four {WIDTH}x{HEIGHT} rgb8 cameras, '
             f"{raw['device']}, {os.cpu_count()} CPU cores, {args.rounds} round(s) of "
             f'{args.seconds:g} s a layout, one node and four nodes alternating; load average '
             f'{args.load_before:.2f} before the run, '
             + ', '.join(f'{load:.2f}' for load in args.loads) + ' as each layout started',
             f"raw backend: {raw['batch_1_fps']:.0f} images/s at batch 1, "
             f"{raw['batch_4_fps']:.0f} at batch 4"]
    for rate in one:
        a, b = one[rate], four[rate]
        ratios = [x['labels_per_s'] / y['labels_per_s'] for x, y in zip(a, b)]
        shares = {layout: [min(run['cameras'][camera]['labelled_share'] for run in runs)
                           for camera in CAMERAS] for layout, runs in (('one', a), ('four', b))}
        lines.append(
            f"{rate} ({a[0]['rate_hz']:.0f} Hz a camera): labels/s one node "
            f"{median(a, 'labels_per_s'):.0f} vs four nodes {median(b, 'labels_per_s'):.0f}; "
            'ratio per round ' + ', '.join(f'{r:.2f}x' for r in ratios)
            + '; least share of frames labelled per camera: one node '
            + ', '.join(f'{s:.1%}' for s in shares['one']) + '; four nodes '
            + ', '.join(f'{s:.1%}' for s in shares['four']))
        lines.append(
            f"  memory: RSS {median(a, 'rss_mb'):.0f} vs {median(b, 'rss_mb'):.0f} MiB = "
            f"{median(a, 'rss_mb') / median(b, 'rss_mb'):.2f}x (PSS {median(a, 'pss_mb'):.0f} "
            f"vs {median(b, 'pss_mb'):.0f} MiB); classifier CPU per label "
            f"{median(a, 'classifier_cpu_ms_per_label'):.2f} vs "
            f"{median(b, 'classifier_cpu_ms_per_label'):.2f} ms "
            f"({median(a, 'classifier_cores'):.2f} vs {median(b, 'classifier_cores'):.2f} "
            f"cores), image sources {median(a, 'source_cpu_ms_per_label'):.2f} vs "
            f"{median(b, 'source_cpu_ms_per_label'):.2f} ms; model call "
            f"{median(a, 'inference_ms_per_call'):.2f} ms for "
            f"{median(a, 'images_per_call'):.2f} images vs "
            f"{median(b, 'inference_ms_per_call'):.2f} ms for "
            f"{median(b, 'images_per_call'):.2f}")
    return lines


def main(argv=None):
    """Measure raw, then both layouts in turn at 30 Hz and at saturation; print, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--model', default='lite0_int8')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--rounds', type=int, default=2,
                        help='times each layout runs at each rate, alternating')
    parser.add_argument('--overdrive', type=float, default=1.25,
                        help='all cameras together at this multiple of raw batch-1 fps')
    parser.add_argument('--saturation-hz', type=float,
                        help='each camera at this rate for saturation (default: from overdrive)')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('multi_camera.json'))
    args = parser.parse_args(argv)
    args.load_before, args.loads = os.getloadavg()[0], []

    processes = ros_processes()
    raw = measure_raw(args.model, args.threads, args.seconds)
    print(f"raw: {raw['batch_1_fps']:.1f} images/s at batch 1, {raw['batch_4_fps']:.1f} at "
          'batch 4', flush=True)
    rates = {'30 Hz': CAMERA_HZ, 'saturation': args.saturation_hz or (
        args.overdrive * raw['batch_1_fps'] / len(CAMERAS))}
    results = {layout: {rate: [] for rate in rates} for layout in LAYOUTS}
    for _ in range(args.rounds):
        for rate, rate_hz in rates.items():
            for layout in LAYOUTS:
                load = os.getloadavg()[0]
                args.loads.append(load)
                run = run_layout(processes, args.domain, layout, args.model, args.threads,
                                 rate_hz, args.seconds)
                results[layout][rate].append(dict(run, load=load))
                print(f"{layout} at {rate_hz:.0f} Hz a camera: {run['labels_per_s']:.1f} "
                      f'labels/s (load average {load:.2f} at its start)', flush=True)
    lines = report_lines(args, raw, results)
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({
        'model': args.model, 'threads': args.threads, 'size': [WIDTH, HEIGHT],
        'cpu_count': os.cpu_count(), 'load_before': args.load_before,
        'load_after': os.getloadavg()[0], 'raw': raw, 'results': results,
        'summary': lines}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
