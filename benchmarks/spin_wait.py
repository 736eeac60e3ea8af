"""
The node's spin_wait: ONNX Runtime's idle workers spinning or sleeping, speed against cores.

For each model and camera rate, the real node (image source -> classifier over DDS, 640x480
rgb8) runs with spin_wait true, then false, in interleaved rounds. Prints, per setting, the
median (range over rounds) of the node's inference p50, added latency p50, labelled fps and
the cores the node used: what spinning buys per call and what it takes from the robot's other
nodes.

    python -m benchmarks.spin_wait [--models lite0_160_int8 lite0_int8 lite2] [--rates 30]
                                   [--threads 2] [--seconds 10] [--rounds 3]
"""

import argparse
import json
import os
from pathlib import Path

from benchmarks.node_overhead import measure_node, spread
from benchmarks.ros_graph import ros_processes

SETTINGS = (True, False)
FIGURES = (('inference p50 ms', 'inference p50 ms'), ('added latency p50 ms', 'overhead p50 ms'),
           ('fps', 'node_fps'), ('node cores', 'node_cores'))


def report_lines(args, results):
    """Return one line per model, rate and setting: median (range) of each figure."""
    lines = [f'threads={args.threads}, {args.rounds} round(s) of {args.seconds:g} s, '
             f'{os.cpu_count()} CPU cores: median (min-max)']
    for model in args.models:
        for rate in args.rates:
            for spin in SETTINGS:
                rounds = results[model, rate, spin]
                figures = '; '.join(f'{label} {spread(rounds, lambda r, key=key: r[key])}'
                                    for label, key in FIGURES)
                lines.append(f'{model} at {rate:g} Hz, spin_wait {str(spin).lower()}: {figures}')
    return lines


def main(argv=None):
    """Run every model, rate and setting in interleaved rounds; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--models', nargs='+', default=['lite0_160_int8', 'lite0_int8', 'lite2'])
    parser.add_argument('--rates', nargs='+', type=float, default=[30.0])
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('spin_wait.json'))
    args = parser.parse_args(argv)

    processes = ros_processes()
    results = {(m, r, s): [] for m in args.models for r in args.rates for s in SETTINGS}
    for index in range(args.rounds):
        for model in args.models:
            for rate in args.rates:
                for spin in SETTINGS if index % 2 == 0 else SETTINGS[::-1]:
                    figures = measure_node(processes, args.domain, model, args.threads, rate,
                                           args.seconds, spin_wait=spin)
                    results[model, rate, spin].append(figures)
                    print(f'round {index + 1}: {model} at {rate:g} Hz, spin_wait {spin}: '
                          f"inference {figures['inference p50 ms']:.2f} ms, "
                          f"{figures['node_fps']:.1f} fps, {figures['node_cores']:.2f} cores",
                          flush=True)
    lines = report_lines(args, results)
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({
        'threads': args.threads, 'cpu_count': os.cpu_count(), 'summary': lines,
        'runs': [{'model': m, 'rate_hz': r, 'spin_wait': s, 'rounds': rounds}
                 for (m, r, s), rounds in results.items()]}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
