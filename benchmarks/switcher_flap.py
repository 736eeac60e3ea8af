"""
Does the switcher hold its target without flapping? A CPU hog in the middle of a real run.

An image source (640x480 rgb8 at 30 Hz), the classifier and the switcher run as processes
for --seconds; two busy processes hog the CPU from --hog-at for --hog-seconds. min_fps is set
between two neighbouring rungs' paced speeds (from the profile): the upper one (--upper,
default the middle of the ladder) holds it with the hysteresis margin to spare, the next
better one does not. Prints every switch and decision with its time and the network fps of
each 5 s; the goal is a step down under the hog, a step back up after it, and at most 4
switches in all.

    python -m benchmarks.switcher_flap [--profile docs/benchmark/profile.json] [--upper NAME]
"""

import argparse
import contextlib
import json
import os
from pathlib import Path
import statistics
import time

from benchmarks.ros_graph import REPO_ROOT, ros_processes

from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.switching.ladder import expected_fps, rungs_from_profile

NODES = {'image_source': 'jetson_classifier.nodes.image_source_node',
         'classifier': 'jetson_classifier.nodes.classifier_node',
         'switcher': 'jetson_classifier.nodes.switcher_node'}
HYSTERESIS = 0.15
# min_fps sits this far under the upper rung's paced fps: the margin (1 + HYSTERESIS) and
# a little more, so that the rung steps back up once the hog is gone.
UNDER_UPPER = 1.3
MAX_SWITCHES = 4


def choose_target(profile, upper):
    """Return (ladder names, upper rung, min_fps) from the profile's paced figures at 30 Hz."""
    rungs, _ = rungs_from_profile(profile)
    names = [r.name for r in rungs]
    index = names.index(upper) if upper else len(rungs) // 2
    if index + 1 >= len(rungs):
        raise SystemExit(f'{names[index]} is the most accurate rung: choose a lower --upper')
    fps = [expected_fps(r)[0] for r in rungs]
    min_fps = round(fps[index] / UNDER_UPPER, 1)
    if not fps[index + 1] < min_fps:
        raise SystemExit(f'{names[index + 1]} runs {fps[index + 1]:.0f} fps paced, not under '
                         f'min_fps {min_fps}: choose another --upper')
    return names, names[index], min_fps


def run(processes, domain, profile_path, ladder, upper, min_fps, seconds, hog_at, hog_seconds):
    """
    Run the graph; return [(t, active model)], [(t, decision)] and [(t, inference ms)].

    Times are seconds since the switcher started.
    """
    from rclpy.qos import qos_profile_sensor_data
    from std_msgs.msg import Float32, String

    from jetson_classifier.nodes.parameters import DECISION_HISTORY, LATCHED
    env = processes.ros_env(domain)
    with processes.listener(domain, env) as ros:
        active = ros.subscribe(String, '/switcher/active_model', LATCHED)
        decisions = ros.subscribe(String, '/switcher/decision', DECISION_HISTORY)
        inference = ros.subscribe(Float32, '/classifier/inference_ms', qos_profile_sensor_data)
        params = {
            'image_source': {'width': 640, 'height': 480, 'rate_hz': 30.0},
            'classifier': {'model': upper},  # where the plan goes: no switch to count
            'switcher': {'profile': str(profile_path), 'min_fps': min_fps, 'ladder': ladder,
                         'hysteresis': HYSTERESIS}}
        with contextlib.ExitStack() as stack:
            for name, module in NODES.items():
                stack.enter_context(processes.node_process(
                    module, processes.ros_params(**params[name]), env=env,
                    ready_text={'image_source': 'publishing', 'classifier': 'classifying',
                                'switcher': 'switching'}[name], timeout_s=60.0))
            start = time.monotonic()
            ros.spin_for(hog_at)
            with processes.cpu_hog(2):
                print(f'{time.monotonic() - start:5.1f} s: hog on', flush=True)
                ros.spin_for(hog_seconds)
            print(f'{time.monotonic() - start:5.1f} s: hog off', flush=True)
            ros.spin_for(max(0.0, seconds - (time.monotonic() - start)))
    return tuple([(at - start, m.data) for at, m in received]
                 for received in (active, decisions, inference))


def network_fps(inference, step_s=5.0):
    """Return a line per step_s: the network fps (1000 / median inference ms) in it."""
    buckets = {}
    for at, ms in inference:
        buckets.setdefault(int(at // step_s), []).append(ms)
    return [f'{i * step_s:6.1f} s  {1000.0 / statistics.median(ms):6.1f} fps'
            for i, ms in sorted(buckets.items())]


def main(argv=None):
    """Run the switcher through a CPU hog; print the switches and whether the goal holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--profile', type=Path,
                        default=REPO_ROOT / 'docs' / 'benchmark' / 'profile.json')
    parser.add_argument('--upper', help='the rung that holds min_fps unloaded')
    parser.add_argument('--seconds', type=float, default=160.0)
    parser.add_argument('--hog-at', type=float, default=60.0)
    parser.add_argument('--hog-seconds', type=float, default=40.0)
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--json', type=Path, default=Path('switcher_flap.json'))
    args = parser.parse_args(argv)
    ladder, upper, min_fps = choose_target(load_profile(args.profile), args.upper)
    print(f'ladder {ladder}; min_fps {min_fps} (upper rung {upper})', flush=True)
    active, decisions, inference = run(ros_processes(), args.domain, args.profile, ladder,
                                       upper, min_fps, args.seconds, args.hog_at,
                                       args.hog_seconds)
    switches = len(active) - 1
    hog_end = args.hog_at + args.hog_seconds
    down = any(args.hog_at <= t <= hog_end and ladder.index(m) < ladder.index(upper)
               for t, m in active)
    back = bool(active) and active[-1][1] == upper
    lines = ([f'{t:6.1f} s  {m}' for t, m in active] + ['']
             + [f'{t:6.1f} s  {d}' for t, d in decisions] + ['']
             + network_fps(inference) + ['']
             + [f'{switches} switches (goal <= {MAX_SWITCHES}); stepped down under the hog: '
                f'{"yes" if down else "NO"}; back on {upper} at the end: '
                f'{"yes" if back else "NO"}'])
    print('\n'.join(lines))
    args.json.write_text(json.dumps({
        'profile': str(args.profile), 'ladder': ladder, 'upper': upper, 'min_fps': min_fps,
        'hog': [args.hog_at, hog_end], 'seconds': args.seconds, 'active': active,
        'decisions': decisions, 'switches': switches, 'stepped_down': down,
        'back_up': back, 'inference_ms': inference}, indent=2) + '\n')
    print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
