"""Run ROS 2 nodes as real processes in tests, and listen to them from the test process."""

import contextlib
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data

from jetson_classifier.commands.demo import FAST_DDS_2_DISTROS
from jetson_classifier.nodes import parameter_client

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMERA_PROFILE = REPO_ROOT / 'config' / 'fastdds_camera_profile.xml'
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def domain_id():
    """Return ROS_DOMAIN_ID if set, else one derived from this process id to avoid cross-talk."""
    return int(os.environ.get('ROS_DOMAIN_ID') or 1 + os.getpid() % 100)


def ros_env(domain, profile=CAMERA_PROFILE):
    """
    Environment for a ROS process here: localhost discovery, `domain`, Fast DDS `profile`.

    `profile` None leaves Fast DDS at its defaults; else it goes in the variable this
    distribution's Fast DDS reads (ROS_DISTRO jazzy: 2.x; Kilted's wheels: 3.x). Every
    process that should talk to another needs the same settings.
    """
    env = dict(os.environ)
    env.setdefault('AMENT_PREFIX_PATH', sys.prefix)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_DOMAIN_ID'] = str(domain)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get('PYTHONPATH')]))
    env['PYTHONUNBUFFERED'] = '1'
    for name in PROFILE_VARIABLES:
        env.pop(name, None)
    if profile is not None:
        fast_dds_2 = env.get('ROS_DISTRO') in FAST_DDS_2_DISTROS
        env[PROFILE_VARIABLES[1] if fast_dds_2 else PROFILE_VARIABLES[0]] = str(profile)
    return env


def ros_params(**values):
    """Return `-p name:=value` arguments, with values written as ROS reads them (YAML)."""
    args = []
    for name, value in values.items():
        text = json.dumps(value) if isinstance(value, (bool, str)) else str(value)
        args += ['-p', f'{name}:={text}']
    return args


class NodeProcess:
    """A running node (`python -m module`, or an installed executable) logging to a file."""

    def __init__(self, module, args, ros_args, env, log_path, executable=None):
        self.module = module
        self._log_path = log_path
        self._final_output = None
        command = [executable] if executable else [sys.executable, '-m', module]
        with open(log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [*command, *args, '--ros-args', *ros_args],
                env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def output(self):
        """Return everything the process has printed so far."""
        if self._final_output is not None:
            return self._final_output
        return Path(self._log_path).read_text(errors='replace')

    def running(self):
        """Return True while the process has not exited."""
        return self.process.poll() is None

    def wait_for_output(self, text, timeout_s=20.0):
        """Wait until the process prints `text`; fail if it exits or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            if not self.running():
                raise AssertionError(f'{self.module} exited {self.process.returncode} '
                                     f'before printing {text!r}')
            if time.monotonic() > deadline:
                raise AssertionError(f'{self.module} did not print {text!r} in {timeout_s} s')
            time.sleep(0.05)

    def wait(self, timeout_s):
        """Wait for the process to exit on its own and return its exit code."""
        return self.process.wait(timeout=timeout_s)

    def stop(self, timeout_s=10.0):
        """Send SIGINT (Ctrl-C), wait, kill if it hangs; return the exit code."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._final_output = self.output()
        return self.process.returncode


@contextlib.contextmanager
def node_process(module, ros_args=(), env=None, ready_text=None, timeout_s=20.0,
                 expect_clean_exit=True, args=(), executable=None):
    """
    Run `python -m module *args --ros-args *ros_args` for the with-block, then Ctrl-C it.

    `executable` (an installed program) runs instead of `python -m module`.

    Waits for `ready_text` in its output first. When the block fails, or the process ends
    with a non-zero code or a traceback while `expect_clean_exit`, the error carries its
    output.
    """
    env = ros_env(domain_id()) if env is None else env
    with tempfile.TemporaryDirectory(prefix='ros_node_') as folder:
        node = NodeProcess(module, list(args), list(ros_args), env, Path(folder) / 'output.log',
                           executable)
        try:
            if ready_text is not None:
                node.wait_for_output(ready_text, timeout_s)
            yield node
        except BaseException as error:
            node.stop()
            error.add_note(f'--- output of {module} ---\n{node.output()}')
            raise
        returncode = node.stop()
        output = node.output()
        if expect_clean_exit and (returncode != 0 or 'Traceback' in output):
            raise AssertionError(f'{module} ended with code {returncode}:\n{output}')


@contextlib.contextmanager
def cpu_hog(processes):
    """Run `processes` busy-looping Python processes for the with-block."""
    hogs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


class Listener:
    """A node in the test process, on its own context, that records what topics carry."""

    def __init__(self, domain, name='test_listener'):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._subscriptions = []

    def subscribe(self, msg_type, topic, qos=qos_profile_sensor_data):
        """Return a list that gets (arrival monotonic time, message) for each message."""
        received = []
        self._subscriptions.append(self.node.create_subscription(
            msg_type, topic, lambda msg: received.append((time.monotonic(), msg)), qos))
        return received

    def unsubscribe_all(self):
        """Destroy every subscription made so far."""
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions.clear()

    def spin_until(self, condition, timeout_s):
        """Spin until `condition()` is true or `timeout_s` passes; return the last answer."""
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)
        return condition()

    def call(self, send, timeout_s=30.0):
        """
        Return the answer to the service request `send()` sends (it returns the future).

        A late answer is asked for again (parameter_client.call); fail after `timeout_s`.
        """
        response = parameter_client.call(send, self.spin_until, timeout_s)
        assert response is not None, f'no answer to {send} in {timeout_s} s'
        return response

    def parameter_client(self, node, timeout_s=10.0):
        """Return a ParameterClient of `node` once its services are discovered."""
        client = parameter_client.ParameterClient(self.node, node)
        assert self.spin_until(client.services_are_ready, timeout_s), \
            f'no parameter services of {node} in {timeout_s} s'
        return client

    def spin_for(self, duration_s):
        """Spin for `duration_s` seconds."""
        self.spin_until(lambda: False, duration_s)

    def close(self):
        """Destroy the node and shut its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@contextlib.contextmanager
def listener(domain, env=None):
    """
    Yield a Listener on `domain`, with this process's environment set from `env` meanwhile.

    Fast DDS reads its profile file once per process, at its first participant.
    """
    env = ros_env(domain) if env is None else env
    keys = ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID', *PROFILE_VARIABLES)
    saved = {key: os.environ.get(key) for key in keys}
    for key in keys:
        os.environ.pop(key, None)
        if key in env:
            os.environ[key] = env[key]
    node = Listener(domain)
    try:
        yield node
    finally:
        node.close()
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
