"""
What the classifier says on /diagnostics: the node's status and one per named camera.

The node's status names the model, its calls and switches, and holds the single camera of a
single-camera node; each named camera has a status of its own, as diagnostic_updater has one
per topic, so a monitor shows which camera is silent or sends bad frames while the others
stay OK. Levels hold while their cause does (pipeline.health).
"""

import time

from jetson_classifier.nodes.diagnostics import Status
from jetson_classifier.nodes.serving.classifier_parameters import CAMERA
from jetson_classifier.pipeline.health import Health, Level

# A camera's counters that hold its status at WARN while they grow.
CAMERA_PROBLEMS = ('frames rejected', 'frames lost upstream', 'regions rejected',
                   'detections without frame')


class ClassifierStatus:
    """The statuses of a serving.ClassifierServing, read from it at each report."""

    def __init__(self, serving):
        self._serving = serving
        self._health = {camera: Health(serving.values['stale_after_s'])
                        for camera in ('node', *serving.cameras)}

    def hold(self, stale_after_s):
        """Hold each WARN, and call a camera silent, after `stale_after_s`."""
        for health in self._health.values():
            health.hold_s = stale_after_s

    def report(self):
        """Return (level, message, hardware id, values) of the node's status."""
        serving, models, now = self._serving, self._serving.models, time.monotonic()
        values = {**models.fields, 'class groups': serving.values['class_groups']}
        if models.pipeline is not None:
            values.update(models.pipeline.model_calls.snapshot())
        values.update({'model switches': models.switches, 'refused switches': models.refused,
                       'last load ms': models.last_load_ms or 0.0,
                       'loading': models.loading[0] if models.loading else '',
                       'last error': models.last_error})
        level, reasons = self._health['node'].assess(now, {'refused switches': models.refused})
        state = models.fields['model']
        if CAMERA in serving.cameras:
            camera_level, camera_reasons, snapshot = self._assess_camera(CAMERA, now)
            values.update(snapshot)
            level, reasons = max(level, camera_level), camera_reasons + reasons
            if snapshot:
                state += f' at {snapshot["fps"]:.1f} fps'
        named = len(serving.cameras) - (CAMERA in serving.cameras)
        if named:
            state += f', {named} named camera{"s" * (named > 1)}'
        state += self._inactive()
        if models.loading:
            state += f', loading {models.loading[0]} for {now - models.loading[1]:.0f} s'
        return level, '; '.join([state, *reasons]), values['device'], values

    def camera_statuses(self):
        """Return a Status for each named camera: '<node>: camera <c>'."""
        now, statuses = time.monotonic(), []
        for camera in self._serving.cameras:
            if camera != CAMERA:
                level, reasons, snapshot = self._assess_camera(camera, now)
                state = (f'{snapshot["fps"]:.1f} fps' if snapshot else 'not configured')
                statuses.append(Status(f'camera {camera}', level, '; '.join(
                    [state + self._inactive(), *reasons]),
                    self._serving.models.fields['device'], snapshot))
        return statuses

    def _assess_camera(self, camera, now):
        """Return the level, its reasons and the measurements of `camera` now."""
        pipeline = self._serving.models.pipeline
        if pipeline is None:
            return Level.OK, [], {}
        snapshot = pipeline.snapshot(camera)
        level, reasons = self._health[camera].assess(
            now, {name: snapshot.get(name, 0) for name in CAMERA_PROBLEMS},
            self._serving.listening_since, pipeline.stats[camera].last_received_s)
        return level, reasons, snapshot

    def _inactive(self):
        configured = self._serving.models.pipeline is not None
        return ', inactive' if configured and self._serving.listening_since is None else ''
