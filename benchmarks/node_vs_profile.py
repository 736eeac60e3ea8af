"""
Does the profile predict the node? Each rung in the real node at a camera rate, in one run.

Each rung's ~/inference_ms in the node is compared with the profile's paced p50 for the rate.

An image source publishes 640x480 rgb8 at --rate; one classifier process, with the threads
and spin_wait the profile was timed with, switches through the rungs (its `model` parameter,
waiting for ~/active_model), settles, then records ~/inference_ms. It does so in --rounds
interleaved rounds, the order rotated each round, --seconds per rung in all, as the benchmark
paces: a shared VM's slow minute then falls on every rung alike, not on one rung's only block.
Prints, per rung, the node's median, the profile's paced and back-to-back p50 and the ratios,
and the INT8 speed-up of each twin in the node.

    python -m benchmarks.node_vs_profile [--profile docs/benchmark/profile.json]
                                         [--rate 30] [--seconds 15] [--rounds 5] [--models ...]
"""

import argparse
import json
import os
from pathlib import Path
import statistics

from benchmarks.ros_graph import REPO_ROOT, ros_processes

from jetson_classifier.benchmark.pacing import PACED_ROUNDS
from jetson_classifier.benchmark.profile_builder import machine_differences, THREAD_SETTINGS
from jetson_classifier.benchmark.profile_schema import load_profile, paced_entries

NODE_MODULE = 'jetson_classifier.nodes.classifier_node'
SOURCE_MODULE = 'jetson_classifier.nodes.image_source_node'
WIDTH, HEIGHT = 640, 480
SETTLE_S = 3.0
# The node keeps the profile's speed where its median is within this of the paced p50.
TOLERANCE = 0.15


def measure(processes, domain, models, rate_hz, seconds, rounds, settings):
    """
    Return {model: [~/inference_ms samples]} from one classifier switched through `models`.

    `settings` are the classifier's further parameters; each model runs seconds / rounds in
    each of `rounds` rounds.
    """
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float32, String

    from jetson_classifier.nodes.parameters import LATCHED
    env = processes.ros_env(domain)
    samples = {model: [] for model in models}
    with processes.listener(domain, env) as ros:
        inference = ros.subscribe(Float32, '/classifier/inference_ms', 100)
        active = ros.subscribe(String, '/classifier/active_model', LATCHED)
        client = ros.node.create_client(SetParameters, '/classifier/set_parameters')
        with processes.node_process(NODE_MODULE, processes.ros_params(model=models[0], **settings),
                                    env=env, ready_text='classifying', timeout_s=60.0), \
                processes.node_process(SOURCE_MODULE, processes.ros_params(
                    width=WIDTH, height=HEIGHT, rate_hz=rate_hz), env=env,
                    ready_text='publishing'):
            assert client.wait_for_service(timeout_sec=30.0)
            for index in range(rounds):
                shift = index % len(models)
                for model in models[shift:] + models[:shift]:
                    request = SetParameters.Request(
                        parameters=[Parameter('model', value=model).to_parameter_msg()])
                    assert ros.call(lambda: client.call_async(request)).results[0].successful
                    assert ros.spin_until(lambda: active and active[-1][1].data == model, 120.0)
                    ros.spin_for(SETTLE_S)
                    inference.clear()
                    ros.spin_for(seconds / rounds)
                    block = [msg.data for _, msg in inference]
                    samples[model] += block
                    print(f'round {index + 1}, {model}: {len(block)} frames, median '
                          f'{statistics.median(block):.2f} ms', flush=True)
    return samples


def report(profile, samples, rate_hz):
    """Return the table lines and a summary dict comparing the node with the profile."""
    by_name = {m['name']: m for m in profile['models']}
    rows, lines = [], [
        f'{"model":<16}{"node p50":>10}{f"paced@{rate_hz:g}":>12}{"node/paced":>12}'
        f'{"back-to-back":>14}{"node/b2b":>10}']
    for model, values in samples.items():
        entry = by_name[model]
        paced = {e['rate_hz']: e['latency_ms']['p50'] for e in paced_entries(entry)}
        node = statistics.median(values)
        rate = min(paced, key=lambda r: abs(r - rate_hz)) if paced else None
        row = {'model': model, 'frames': len(values), 'node_p50_ms': node,
               'paced_p50_ms': paced.get(rate), 'back_to_back_p50_ms': entry['latency_ms']['p50']}
        row['node_over_paced'] = node / row['paced_p50_ms'] if rate is not None else None
        rows.append(row)
        lines.append(
            f'{model:<16}{node:>10.2f}'
            + (f'{row["paced_p50_ms"]:>12.2f}{row["node_over_paced"]:>11.2f}x' if rate
               else f'{"-":>12}{"-":>12}')
            + f'{row["back_to_back_p50_ms"]:>14.2f}{node / row["back_to_back_p50_ms"]:>9.2f}x')
    within = [r for r in rows if r['node_over_paced'] is not None
              and abs(r['node_over_paced'] - 1) <= TOLERANCE]
    lines.append(f'within {TOLERANCE:.0%} of the paced p50: {len(within)} of {len(rows)} rungs')
    node_p50 = {r['model']: r['node_p50_ms'] for r in rows}
    for model in node_p50:
        twin = f'{model}_int8'
        if twin in node_p50:
            lines.append(f'{twin} vs {model} in the node at {rate_hz:g} Hz: '
                         f'{node_p50[model] / node_p50[twin]:.2f}x faster')
    return lines, rows


def main(argv=None):
    """Measure every rung in the node at the camera rate and compare with the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--profile', type=Path,
                        default=REPO_ROOT / 'docs' / 'benchmark' / 'profile.json')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--seconds', type=float, default=15.0, help='per rung, in all rounds')
    parser.add_argument('--rounds', type=int, default=PACED_ROUNDS,
                        help="default: the benchmark's paced rounds, %(default)s")
    parser.add_argument('--models', nargs='+', help='default: every model of the profile')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('node_vs_profile.json'))
    args = parser.parse_args(argv)
    profile = load_profile(args.profile)
    models = args.models or [m['name'] for m in profile['models']]
    timed_with = profile.get('benchmark') or {}
    settings = {key: timed_with[key] for key in THREAD_SETTINGS if key in timed_with}
    samples = measure(ros_processes(), args.domain, models, args.rate, args.seconds,
                      args.rounds, settings)
    lines, rows = report(profile, samples, args.rate)
    lines.insert(0, 'classifier parameters as the profile was timed: '
                    f'{settings or "none recorded"}; {args.rounds} interleaved round(s), '
                    f'{args.seconds:g} s per rung in all')
    differences = machine_differences(profile.get('machine') or {})
    if differences:
        lines.insert(0, f'the profile was made on another machine ({"; ".join(differences)}): '
                        'the comparison says how well it carries here, not how well it predicts')
    print('\n' + '\n'.join(lines))
    args.json.write_text(json.dumps({'profile': str(args.profile), 'rate_hz': args.rate,
                                     'seconds': args.seconds, 'rounds': args.rounds,
                                     'classifier': settings, 'rows': rows,
                                     'summary': lines}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
