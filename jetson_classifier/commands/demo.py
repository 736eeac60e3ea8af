"""
The whole story in one command, no ROS install needed: camera -> classifier -> switcher.

Starts the image source (built-in photos), the classifier and the switcher as real ROS 2
processes talking over DDS, prints one status line a second, raises the switcher's min_fps
midway so that it steps down the model ladder, stops by itself and writes a summary and the
speed/accuracy chart to out/demo/. With --cameras, one image source per camera (the k-th at
1/k of the rate) feeds one classifier that batches them, with the switcher unchanged.
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Float32, String

from jetson_classifier import PACKAGE_PARENT
from jetson_classifier.benchmark import command as benchmark
from jetson_classifier.benchmark.chart import draw_chart
from jetson_classifier.benchmark.profile_schema import load_profile
from jetson_classifier.commands.demo_summary import DemoRecord, summary_text
from jetson_classifier.commands.prepare_models import is_up_to_date, prepare
from jetson_classifier.errors import ClassifierError
from jetson_classifier.inference.catalog import Catalog, share_dir
from jetson_classifier.nodes.parameter_client import call, ParameterClient
from jetson_classifier.nodes.parameters import DECISION_HISTORY, LATCHED
from jetson_classifier.switching.ladder import Constraint, plan_rung, rungs_from_profile

SHIPPED_PROFILE = Path('docs', 'benchmark', 'profile.json')
# Measured when no profile ships: four clearly different speeds, a few images and rounds.
QUICK_LADDER = ('lite0_160', 'lite0', 'lite1', 'lite2')
QUICK_BENCHMARK = ('--batches', '1', '--rounds', '2', '--runs', '40', '--limit', '50')
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
# Distributions whose Fast DDS (2.x) reads the older FASTRTPS_ variable; 3.x warns about it.
FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')
# The demo starts with min_fps at this fraction of the most accurate rung's profiled fps, so
# that rung holds it with room to spare, then raises it to RAISE_FACTOR times what that rung
# really does here, so the switcher has to step down whatever machine made the profile.
START_FRACTION = 0.25
RAISE_FACTOR = 1.6
RAISE_AT_FRACTION = 0.4
# A quicker switcher than its defaults (window 3 s, cooldown 6 s), so a short demo shows steps.
SWITCHER_PACE = {'window_s': 2.0, 'cooldown_s': 4.0}
READY_TIMEOUT_S = 120.0
SET_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0


def demo_environment(base=None):
    """
    Return `base` (default os.environ) completed for ROS 2 from pip wheels on one host.

    Settings already there are kept: a robot's own discovery range or DDS profile wins. The
    camera profile goes in the one variable this distribution's Fast DDS reads.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if not any(env.get(name) for name in PROFILE_VARIABLES):
        fast_dds_2 = env.get('ROS_DISTRO') in FAST_DDS_2_DISTROS
        name = PROFILE_VARIABLES[1] if fast_dds_2 else PROFILE_VARIABLES[0]
        env[name] = str(share_dir() / 'config' / 'fastdds_camera_profile.xml')
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT),
                                                      env.get('PYTHONPATH')]))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def ros_value(value):
    """Write a parameter value as `-p name:=value` expects it (YAML)."""
    return json.dumps(value) if isinstance(value, (bool, str, list)) else str(value)


class DemoProcess:
    """One node run as `python -m module --ros-args ...`, its output in a log file."""

    def __init__(self, name, module, params_file, params, env, log_dir, namespace=''):
        self.name = name
        self.log_path = Path(log_dir) / f'{name}.log'
        args = ['--params-file', str(params_file)]
        if namespace:
            args += ['-r', f'__ns:=/{namespace}']
        for key, value in params.items():
            args += ['-p', f'{key}:={ros_value(value)}']
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [sys.executable, '-m', module, '--ros-args', *args],
                env=env, stdout=log, stderr=subprocess.STDOUT)

    def running(self):
        """Return True while the process has not exited."""
        return self.process.poll() is None

    def tail(self, lines=15):
        """Return the last `lines` lines the process printed."""
        text = self.log_path.read_text(errors='replace').splitlines()
        return '\n'.join(text[-lines:])

    def stop(self):
        """Ctrl-C the process, wait, kill it if it hangs; return its exit code (None: killed)."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


class Demo:
    """Runs the demo: prepare, start the nodes, watch, raise the target, stop, summarise."""

    def __init__(self, duration_s, output, profile_path=None, rate_hz=30.0, log=print,
                 cameras=()):
        self.duration_s = duration_s
        self.output = Path(output)
        self.rate_hz = rate_hz
        self.cameras = tuple(cameras)
        self.log = log
        self.record = DemoRecord()
        self.processes = []
        self._profile_path = profile_path
        self._start = None
        self._node = self._executor = self._context = None

    def now(self):
        """Return seconds since the nodes were started."""
        return time.monotonic() - self._start

    def run(self):
        """Run the whole demo; return the summary dict (also written to the output folder)."""
        self.output.mkdir(parents=True, exist_ok=True)
        profile_path, profile = self._profile()
        # A profile without accuracies has no Pareto front: switch along the quick ladder.
        ladder = None if profile['pareto'] else list(QUICK_LADDER)
        rungs, _ = rungs_from_profile(profile, ladder)
        self.log(f'model ladder (fastest first, from {profile_path}): '
                 + ', '.join(f'{r.name} {r.fps:.0f} fps' for r in rungs))
        self._prepare_models([r.name for r in rungs])
        start_fps = max(1.0, round(START_FRACTION * rungs[-1].fps))
        first = plan_rung(rungs, Constraint('min_fps', start_fps)).rung.name
        switcher = {'profile': str(profile_path), 'policy': 'min_fps',
                    'min_fps': float(start_fps), **SWITCHER_PACE}
        if ladder:
            switcher['ladder'] = ladder
        env = demo_environment()
        os.environ.update(env)
        self._start_ros()
        self._start = time.monotonic()
        try:
            self._start_nodes(env, first, switcher)
            self._watch()
        except KeyboardInterrupt:
            self.log('interrupted: stopping')
        finally:
            end = self.now()
            self._stop_nodes()
            self._stop_ros()
        return self._write_results(end, profile_path, profile)

    def _profile(self):
        """Return (path, profile): the given one, else the shipped one, else a quick measure."""
        if self._profile_path:
            return self._profile_path, load_profile(self._profile_path)
        path = share_dir() / SHIPPED_PROFILE
        if path.is_file():
            return path, load_profile(path)
        self.log(f'no profile at {path}: measuring {", ".join(QUICK_LADDER)} quickly')
        self._prepare_models(QUICK_LADDER)
        folder = self.output / 'benchmark'
        args = benchmark.build_parser().parse_args(
            ['--models', *QUICK_LADDER, *QUICK_BENCHMARK, '--output', str(folder)])
        benchmark.run(args)
        return folder / 'profile.json', load_profile(folder / 'profile.json')

    def _prepare_models(self, names):
        """Export the models in `names` that are missing or out of date (minutes each)."""
        catalog = Catalog.load()
        missing = [n for n in names if not is_up_to_date(catalog.path_of(catalog.entry(n)),
                                                         catalog.entry(n))]
        if missing:
            self.log(f'preparing {", ".join(missing)}')
            prepare(catalog, missing, log=self.log)

    def _start_ros(self):
        """Create the demo's own node: it listens to the others and talks to the switcher."""
        self._context = rclpy.Context()
        # Ctrl-C stays Python's KeyboardInterrupt, so the demo stops its nodes and summarises.
        rclpy.init(context=self._context, signal_handler_options=SignalHandlerOptions.NO)
        self._node = rclpy.create_node('demo', context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        record = self.record
        for topic, kind, handler, qos in (
                ('/classifier/inference_ms', Float32, record.on_inference_ms,
                 qos_profile_sensor_data),
                ('/switcher/active_model', String, record.on_active_model, LATCHED),
                ('/switcher/decision', String, self._on_decision, DECISION_HISTORY)):
            self._node.create_subscription(
                kind, topic, lambda msg, handler=handler: handler(self.now(), msg.data), qos)
        for camera in self.cameras or ('',):
            prefix = f'/classifier/{camera}/' if camera else '/classifier/'
            for topic, kind, handler in ((prefix + 'label', String, record.on_label),
                                         (prefix + 'fps', Float32, record.on_end_to_end_fps)):
                self._node.create_subscription(
                    kind, topic, lambda msg, handler=handler, camera=camera: handler(
                        self.now(), msg.data, camera), qos_profile_sensor_data)
        self._switcher = ParameterClient(self._node, '/switcher')

    def _on_decision(self, t, text):
        self.record.on_decision(t, text)
        self.log(f'          switcher: {text}')

    def _start_nodes(self, env, first_model, switcher):
        """Start the nodes with their shipped parameter files and the demo's overrides."""
        config = share_dir() / 'config'
        logs = self.output / 'logs'
        logs.mkdir(exist_ok=True)
        self.record.on_target(0.0, switcher['min_fps'])
        self.record.on_active_model(0.0, first_model)
        source = 'jetson_classifier.nodes.image_source_node'
        for index, camera in enumerate(self.cameras or ('',), start=1):
            self.processes.append(DemoProcess(
                '_'.join(filter(None, ('image_source', camera))), source,
                config / 'image_source.yaml',
                {'rate_hz': self.rate_hz / index, 'frame_id': camera or 'camera'}, env, logs,
                namespace=camera))
        classifier = {'model': first_model}
        if self.cameras:
            classifier['cameras'] = list(self.cameras)
        for name, module, params in (
                ('classifier', 'jetson_classifier.nodes.classifier_node', classifier),
                ('switcher', 'jetson_classifier.nodes.switcher_node', switcher)):
            self.processes.append(DemoProcess(
                name, module, config / f'{name}.yaml', params, env, logs))
        self.log(f'started {", ".join(p.name for p in self.processes)} (logs in {logs}); '
                 f'min_fps {switcher["min_fps"]:g}, first model {first_model}')

    def _watch(self):
        """Wait for the first label, then print a status line a second until the end."""
        if not self._spin_until(lambda: self.record.label is not None, READY_TIMEOUT_S):
            raise ClassifierError(f'no label from the classifier in {READY_TIMEOUT_S:g} s')
        ready = self.now()
        self.log(f'first label after {ready:.1f} s')
        raise_at = ready + RAISE_AT_FRACTION * self.duration_s
        tick = ready
        while tick < ready + self.duration_s:
            tick += 1.0
            self._spin_until(lambda: False, tick - self.now())
            self.log(self.record.status_line(self.now()))
            if self.record.raised_at_s is None and self.now() >= raise_at:
                self._raise_target()

    def _spin_until(self, condition, timeout_s):
        """Spin the demo node until `condition()` or the timeout; fail if a node died."""
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            self._executor.spin_once(timeout_sec=0.05)
            for process in self.processes:
                if not process.running():
                    raise ClassifierError(
                        f'{process.name} exited with code {process.process.returncode}:\n'
                        f'{process.tail()}')
        return condition()

    def _raise_target(self):
        """Set the switcher's min_fps above the current target and what its model does here."""
        model = self.record.active_model
        measured = self.record.model_network_fps(model) if model else None
        if measured is None:
            return
        # A machine slower than the profile's can run the model under the current target.
        reference = max(measured, self.record.targets[-1]['min_fps'])
        target = float(round(RAISE_FACTOR * reference))
        self.log(f'raising min_fps to {target:g} ({RAISE_FACTOR:g} x {reference:.1f} fps, the '
                 f'larger of the target and what {model} does here): the switcher should '
                 'step down')
        result = call(lambda: self._switcher.set_parameters([Parameter('min_fps', value=target)]),
                      self._spin_until, SET_TIMEOUT_S)
        if result is None or not result.results[0].successful:
            reason = (result.results[0].reason if result is not None
                      else f'no answer in {SET_TIMEOUT_S:g} s')
            raise ClassifierError(f'switcher refused min_fps {target:g}: {reason}')
        self.record.on_target(self.now(), target, raised=True)

    def _stop_nodes(self):
        """Ctrl-C every node, the consumers first, and record how each ended."""
        for process in reversed(self.processes):
            self.record.on_exit(process.name, process.stop())

    def _stop_ros(self):
        if self._node is not None:
            self._executor.shutdown()
            self._node.destroy_node()
        if self._context is not None:
            self._context.try_shutdown()

    def _write_results(self, end_t, profile_path, profile):
        summary = self.record.summary(end_t)
        summary['finished'] = datetime.datetime.now().astimezone().isoformat(timespec='seconds')
        summary['profile'] = str(profile_path)
        chart = self.output / 'chart.png'
        draw_chart(profile, chart)
        summary['chart'] = str(chart)
        (self.output / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
        text = summary_text(summary)
        (self.output / 'summary.txt').write_text(text)
        self.log('\n' + text + f'\nwrote {self.output}/summary.json, summary.txt, chart.png')
        return summary


def main(argv=None):
    """Command line: python -m jetson_classifier.commands.demo [--duration S] [--output DIR]."""
    parser = argparse.ArgumentParser(prog='demo', description=__doc__.strip().split('\n')[0])
    parser.add_argument('--duration', type=float, default=60.0,
                        help='seconds to run after the first label (default: %(default)s)')
    parser.add_argument('--output', default='out/demo', help='folder for the summary and chart')
    parser.add_argument('--profile', help=f'benchmark profile JSON (default: {SHIPPED_PROFILE})')
    parser.add_argument('--rate', type=float, default=30.0, help='camera frames per second')
    parser.add_argument('--cameras', nargs='+', default=(), metavar='NAME',
                        help='several cameras in one classifier, e.g. --cameras front rear '
                             '(the k-th at 1/k of --rate)')
    args = parser.parse_args(argv)
    try:
        Demo(args.duration, args.output, args.profile, args.rate, cameras=args.cameras).run()
    except ClassifierError as error:
        print(f'demo: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
