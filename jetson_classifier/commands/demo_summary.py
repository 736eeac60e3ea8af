"""
What the demo saw, and how it reads: the live status line and the final summary, no ROS.

Events come in with their time in seconds since the demo started. Every label, inference
time and fps sample counts for the model that was active when it arrived (the switcher's
~/active_model), so a switch in flight may lend a frame or two to its neighbour. Labels and
end-to-end fps also count for their camera ('' for a single-camera classifier).
"""

import collections
import statistics

STATUS_WINDOW_S = 1.0


def network_fps(inference_ms):
    """
    Return 1000 / median inference ms: the frames the network alone could do, None if none.

    The median, as the switcher and the profile's fps (1000 / p50) use: one slow frame (the
    first of a new model, a load spike) does not move it.
    """
    times = [ms for ms in inference_ms if ms > 0]
    return 1000.0 / statistics.median(times) if times else None


def _number(value, spec, width=0):
    """Format `value` with `spec`, or '-' when it is None, right-aligned in `width`."""
    return ('-' if value is None else format(value, spec)).rjust(width)


class DemoRecord:
    """Collects the demo's topics and targets; renders status lines and the summary."""

    def __init__(self):
        self.active_model = None
        self.label = None
        self.end_to_end_fps = None
        self.min_fps = None
        self.raised_at_s = None
        self.targets = []
        self.decisions = []
        self.switches = []
        self.exit_codes = {}
        self._model_since = []
        self._inference = collections.deque()
        self._per_model = collections.defaultdict(
            lambda: {'frames': 0, 'inference_ms': [], 'end_to_end_fps': [],
                     'labels': collections.Counter()})
        self._per_camera = collections.defaultdict(
            lambda: {'frames': 0, 'label': None, 'end_to_end_fps': []})

    def on_target(self, t, min_fps, raised=False):
        """Record a new min_fps target (raised: the one the demo sets to provoke a switch)."""
        self.min_fps = min_fps
        self.targets.append({'t_s': round(t, 2), 'min_fps': min_fps})
        if raised:
            self.raised_at_s = round(t, 2)

    def on_decision(self, t, text):
        """Record one line of the switcher's ~/decision."""
        self.decisions.append({'t_s': round(t, 2), 'decision': text})

    def on_active_model(self, t, model):
        """Record the model the classifier runs; a change of model is a switch."""
        if model == self.active_model:
            return
        if self.active_model is not None:
            self.switches.append({'t_s': round(t, 2), 'from': self.active_model, 'to': model})
        self.active_model = model
        self._model_since.append((t, model))
        self._inference.clear()

    def on_label(self, t, label, camera=''):
        """Record one classified frame's top label (of `camera`)."""
        self.label = label
        self._per_camera[camera]['frames'] += 1
        self._per_camera[camera]['label'] = label
        if self.active_model is not None:
            stats = self._per_model[self.active_model]
            stats['frames'] += 1
            stats['labels'][label] += 1

    def on_inference_ms(self, t, ms):
        """Record one frame's inference time (network only, no conversion or transport)."""
        self._inference.append((t, ms))
        if self.active_model is not None:
            self._per_model[self.active_model]['inference_ms'].append(ms)

    def on_end_to_end_fps(self, t, fps, camera=''):
        """Record the classifier's end-to-end fps (of `camera`: its frames classified a second)."""
        self.end_to_end_fps = fps
        self._per_camera[camera]['end_to_end_fps'].append(fps)
        if self.active_model is not None:
            self._per_model[self.active_model]['end_to_end_fps'].append(fps)

    def on_exit(self, name, code):
        """Record how a demo process ended (its exit code, None if it had to be killed)."""
        self.exit_codes[name] = code

    def model_network_fps(self, model):
        """Return the network fps `model` has shown so far in this demo, None if unseen."""
        return network_fps(self._per_model[model]['inference_ms'])

    def _recent_inference_ms(self, t):
        """Return the active model's inference times of the last STATUS_WINDOW_S seconds."""
        while self._inference and t - self._inference[0][0] > STATUS_WINDOW_S:
            self._inference.popleft()
        return [ms for _, ms in self._inference]

    def status_line(self, t):
        """Return the one-line status shown every second."""
        recent = self._recent_inference_ms(t)
        fps = network_fps(recent)
        inference = statistics.median(recent) if recent else None
        network = f'network {_number(fps, ".1f", 6)} fps ({_number(inference, ".1f", 5)} ms)'
        if any(self._per_camera):  # named cameras: each one's last label and fps
            seen = ' | '.join(f'{camera}: {(c["label"] or "-")[:16]:<16} '
                              f'{_number(_last(c["end_to_end_fps"]), ".1f", 5)} fps'
                              for camera, c in sorted(self._per_camera.items()))
            seen += f' {network}'
        else:
            label = self.label or '(waiting for a frame)'
            seen = (f'{label[:32]:<32} {network} '
                    f'end-to-end {_number(self.end_to_end_fps, ".1f", 5)} fps')
        return (f'[{t:5.1f} s] {self.active_model or "-":<12} {seen} '
                f'min_fps {_number(self.min_fps, "g")}')

    def summary(self, end_t):
        """Return the summary as a JSON-ready dict: models, switches, fps per model, labels."""
        models = []
        bounds = self._model_since + [(end_t, None)]
        seconds = collections.Counter()
        for (start, model), (end, _) in zip(bounds, bounds[1:]):
            seconds[model] += end - start
        for model in dict.fromkeys(m for _, m in self._model_since):
            stats = self._per_model[model]
            e2e = stats['end_to_end_fps']
            models.append({
                'model': model,
                'seconds': round(seconds[model], 2),
                'frames': stats['frames'],
                'network_fps': _rounded(network_fps(stats['inference_ms'])),
                'median_inference_ms': _rounded(
                    statistics.median(stats['inference_ms']) if stats['inference_ms'] else None),
                'end_to_end_fps': _rounded(statistics.fmean(e2e) if e2e else None),
                'top_labels': [label for label, _ in stats['labels'].most_common(3)],
            })
        labels = collections.Counter()
        for stats in self._per_model.values():
            labels.update(stats['labels'])
        raised = self.raised_at_s
        return {
            'duration_s': round(end_t, 2),
            'models_used': [m['model'] for m in models],
            'targets': self.targets,
            'raised_at_s': raised,
            'switches': self.switches,
            'switches_after_raise': sum(raised is not None and s['t_s'] >= raised
                                        for s in self.switches),
            'decisions': self.decisions,
            'models': models,
            'labels_seen': dict(labels.most_common()),
            'cameras': {camera: {'frames': c['frames'], 'end_to_end_fps': _rounded(
                statistics.fmean(c['end_to_end_fps']) if c['end_to_end_fps'] else None)}
                for camera, c in sorted(self._per_camera.items())},
            'exit_codes': self.exit_codes,
        }


def _last(values):
    return values[-1] if values else None


def _rounded(value, digits=2):
    return None if value is None else round(value, digits)


def summary_text(summary):
    """Render a summary dict as the plain text a person reads first."""
    lines = [f'Demo of {summary["duration_s"]:.0f} s: '
             f'{len(summary["switches"])} switch(es), models used: '
             f'{", ".join(summary["models_used"]) or "none"}', '']
    lines.append('Targets:')
    lines += [f'  at {t["t_s"]:5.1f} s  min_fps {t["min_fps"]:g}' for t in summary['targets']]
    lines += ['', 'Switches (the model the classifier runs, as the switcher reports it):']
    lines += [f'  at {s["t_s"]:5.1f} s  {s["from"]} -> {s["to"]}' for s in summary['switches']]
    lines += ['', 'Switcher decisions:']
    lines += [f'  at {d["t_s"]:5.1f} s  {d["decision"]}' for d in summary['decisions']]
    lines += ['', 'Per model (network fps = 1000 / median inference ms; end-to-end fps = '
                  'frames classified per second, capped by the camera):']
    for m in summary['models']:
        lines.append(
            f'  {m["model"]:<12} {m["seconds"]:6.1f} s  {m["frames"]:5d} frames  '
            f'network {_number(m["network_fps"], ".1f", 6)} fps  '
            f'({_number(m["median_inference_ms"], ".1f")} ms)  '
            f'end-to-end {_number(m["end_to_end_fps"], ".1f", 5)} fps  '
            f'labels: {"; ".join(m["top_labels"])}')
    if any(summary.get('cameras', {})):
        lines += ['', 'Per camera (one classifier, one model; end-to-end fps averaged):']
        lines += [f'  {camera:<12} {c["frames"]:5d} frames  end-to-end '
                  f'{_number(c["end_to_end_fps"], ".1f", 5)} fps'
                  for camera, c in summary['cameras'].items()]
    lines += ['', 'Labels seen (frames):']
    lines += [f'  {count:6d}  {label}' for label, count in summary['labels_seen'].items()]
    lines += ['', 'Processes (exit code; None: killed after not stopping):']
    lines += [f'  {name:<14} {code}' for name, code in summary['exit_codes'].items()]
    return '\n'.join(lines) + '\n'
