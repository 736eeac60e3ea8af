"""
How many camera frames reach a best-effort subscriber, with and without the Fast DDS profile.

The publisher is the image source node, the subscriber a counter or, with --node, the
classifier node itself (its count from /diagnostics), each its own process and all with the
same Fast DDS settings. Prints a markdown table and writes JSON.

    python -m benchmarks.dds_transport [--node] [--frames 120] [--rate 30] [--json out.json]
"""

import argparse
import contextlib
import importlib.metadata
import json
import os
from pathlib import Path
import signal
import statistics
import time

from benchmarks.ros_graph import ros_processes

SIZES = ((640, 480), (1280, 720), (1920, 1080))
SOURCE_MODULE = 'jetson_classifier.nodes.image_source_node'
COUNTER_MODULE = 'benchmarks.dds_transport'
COUNTER_READY = 'counting frames'
NODE_MODULE = 'jetson_classifier.nodes.classifier_node'
NODE_PARAMS = {'model': 'lite0_160_int8', 'threads': 1}
NODE_STATUS = '/classifier: classification'
# Long enough for the node's next 1 Hz diagnostics to count the last frame.
NODE_SETTLE_S = 2.5


def _run_subscriber(subscribe, result):
    """Spin a node with subscribe(node)'s subscriptions until Ctrl-C; print result() as JSON."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('frame_counter')
    subscribe(node)
    node.get_logger().info(COUNTER_READY)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()
    print(json.dumps(result()), flush=True)


def count_frames():
    """Count Image frames on `image` until Ctrl-C, then print JSON: the subscriber process."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    latencies_ms = []
    sizes = set()

    def subscribe(node):
        def on_image(msg):
            now_ns = node.get_clock().now().nanoseconds
            stamp_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            latencies_ms.append((now_ns - stamp_ns) / 1e6)
            sizes.add(f'{msg.width}x{msg.height}')
        node.create_subscription(Image, 'image', on_image, qos_profile_sensor_data)

    _run_subscriber(subscribe, lambda: {
        'received': len(latencies_ms),
        'sizes': sorted(sizes),
        'median_latency_ms': statistics.median(latencies_ms) if latencies_ms else None,
    })


def watch_node():
    """Keep the classifier node's latest frame counts from /diagnostics; print them as JSON."""
    from diagnostic_msgs.msg import DiagnosticArray

    latest = {}

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == NODE_STATUS:
                latest.update((item.key, item.value) for item in status.values)

    _run_subscriber(
        lambda node: node.create_subscription(DiagnosticArray, '/diagnostics',
                                              on_diagnostics, 10),
        lambda: {'received': int(latest.get('frames received', 0)),
                 'classified': int(latest.get('frames classified', 0)),
                 'median_latency_ms': None})


def measure(processes, env, width, height, frames, rate_hz, node=False):
    """
    Publish `frames` frames at width x height to a counter process; return its counts.

    With `node` the classifier node subscribes instead and the counter reads its diagnostics.
    """
    classifier = (processes.node_process(NODE_MODULE, processes.ros_params(**NODE_PARAMS),
                                         env=env, ready_text='classifying', timeout_s=60.0)
                  if node else contextlib.nullcontext())
    with processes.node_process(COUNTER_MODULE, args=['--count', 'node' if node else 'image'],
                                env=env, ready_text=COUNTER_READY) as counter:
        with classifier:
            params = processes.ros_params(width=width, height=height, max_frames=frames,
                                          rate_hz=rate_hz, wait_for_subscribers=1)
            with processes.node_process(SOURCE_MODULE, params, env=env) as source:
                source.wait(timeout_s=60 + 2 * frames / rate_hz)
            time.sleep(NODE_SETTLE_S if node else 1.0)
    counts = json.loads(counter.output().strip().splitlines()[-1])
    return dict(counts, width=width, height=height, sent=frames)


def markdown_table(results, frames):
    """Render received/sent per setting (rows) and frame size (columns)."""
    sizes = sorted({(r['width'], r['height']) for r in results})
    lines = ['| Fast DDS setting | ' + ' | '.join(f'{w}x{h}' for w, h in sizes) + ' |',
             '|---' * (len(sizes) + 1) + '|']
    for setting in dict.fromkeys(r['setting'] for r in results):
        cells = []
        for width, height in sizes:
            run = next(r for r in results if r['setting'] == setting
                       and (r['width'], r['height']) == (width, height))
            latency = run['median_latency_ms']
            cells.append(f"{run['received']}/{frames}"
                         + (f' ({latency:.1f} ms)' if latency is not None else ''))
        lines.append(f'| {setting} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv=None):
    """Run every size with the Fast DDS defaults and with the camera profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', choices=('image', 'node'), help=argparse.SUPPRESS)
    parser.add_argument('--node', action='store_true',
                        help=f'subscriber: the classifier node ({NODE_PARAMS})')
    parser.add_argument('--frames', type=int, default=120)
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('dds_transport.json'))
    args, _ = parser.parse_known_args(argv)
    if args.count:
        (watch_node if args.count == 'node' else count_frames)()
        return

    processes = ros_processes()
    settings = {'defaults': None, 'camera profile (SHM 16 MiB)': processes.CAMERA_PROFILE}
    results = []
    for setting, profile in settings.items():
        env = processes.ros_env(args.domain, profile)
        for width, height in SIZES:
            run = measure(processes, env, width, height, args.frames, args.rate, args.node)
            results.append(dict(run, setting=setting))
            print(f"{setting}, {width}x{height}: {run['received']}/{args.frames}", flush=True)
    subscriber = (f'classifier node {NODE_PARAMS}, frames received (diagnostics)'
                  if args.node else 'best-effort subscriber (median stamp-to-arrival latency)')
    print(f'\nReceived/sent, {subscriber}, {args.rate:g} Hz:\n')
    print(markdown_table(results, args.frames))
    report = {
        'frames': args.frames,
        'rate_hz': args.rate,
        'subscriber': {'node': NODE_MODULE, **NODE_PARAMS} if args.node else 'counter',
        'discovery_range': 'LOCALHOST',
        'rmw_implementation': os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp'),
        'fastdds_version': _version('ros-fastdds'),
        'results': results,
    }
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
