"""
The classifier's model switches: which model serves, which one loads, how each switch ended.

A switch is checked at once (a name that the catalog lacks, a missing or unreadable file is
refused in the SetParameters answer), then built on the pipeline's loader thread while the
old model serves. Its outcome comes back to the executor through a guard condition and is
published on `~/active_model`; a model that fails to build is logged and counted, and the
model parameters return to the model that serves.
"""

import time

from rclpy.parameter import Parameter
from std_msgs.msg import String

from jetson_classifier.errors import ClassifierError
from jetson_classifier.nodes.parameters import LATCHED
from jetson_classifier.nodes.serving.classifier_parameters import (
    CAMERA, check_model, describe, make_classifier, MODEL_PARAMETERS)


class ModelSwitches:
    """
    The serving model's parameters and description, the model loading, the switch counts.

    `pipeline` is the FramePipeline whose model is switched (None while none is configured).
    """

    def __init__(self, node):
        self._node, self._log = node, node.get_logger()
        self.pipeline = None
        self.serving = self.loading = None
        self.fields = {'model': 'none (not configured)', 'device': ''}
        self.switches = self.refused = 0
        self.last_load_ms = None
        self.last_error = ''
        self._finished = []
        self._finished_guard = node.create_guard_condition(self._on_loads_finished)
        self._active_pub = node.create_publisher(String, '~/active_model', LATCHED)

    def apply(self, values, wanted):
        """Start the switch or class group change from `values` to `wanted`; raise to refuse."""
        asked = any(wanted[name] != values[name] for name in MODEL_PARAMETERS)
        regroup = wanted['class_groups'] != values['class_groups']
        if (asked or regroup) and self.loading is not None:
            model, since = self.loading
            raise ClassifierError(f'{model} is still loading ({time.monotonic() - since:.0f} s '
                                  'so far): ask again once ~/active_model names it')
        if asked and any(wanted[name] != self.serving[name] for name in MODEL_PARAMETERS):
            check_model(wanted)
            self.loading = wanted['model'], time.monotonic()
            self._log.info(f'loading {wanted["model"]} while {self.describe()} serves')
            self.pipeline.switch(lambda: make_classifier(wanted),
                                 lambda result: self._load_finished(result, wanted))
        elif regroup:
            self.pipeline.set_class_groups(wanted['class_groups'] or None)
            self._log.info(f'class groups now {wanted["class_groups"] or "off"}: '
                           f'{len(self.pipeline.classifier.labels)} labels')

    def now_serving(self, classifier, load_ms, values):
        """Record `classifier`, built from `values` in `load_ms`, as serving; announce it."""
        self.serving = {name: values[name] for name in MODEL_PARAMETERS}
        self.fields = describe(classifier)
        self.last_load_ms = load_ms
        self._active_pub.publish(String(data=values['model']))

    def released(self, why):
        """Record that no model serves any more, and `why` (' (cleaned up)')."""
        self.pipeline = self.serving = None
        self.fields = {'model': f'none ({why})', 'device': ''}

    def refuse(self, reason):
        """Count and log a refused change, keeping the model that serves."""
        self.refused += 1
        self.last_error = reason
        if self.pipeline is not None and CAMERA in self.pipeline.stats:
            self.pipeline.stats[CAMERA].error(reason)
        self._log.error(f'{reason}; still {self.describe()}')

    def describe(self):
        """Return the serving model in words: name, backend, device, precision, groups."""
        fields = self.fields
        groups = self._node.get_parameter('class_groups').value
        return (f'{fields["model"]} on {fields.get("backend")} ({fields["device"]}, '
                f'{fields.get("precision")})' + (f', groups {groups}' if groups else ''))

    def _load_finished(self, result, values):
        """Hand a finished load over to the executor thread (called on the loader thread)."""
        self._finished.append((result, values))
        self._finished_guard.trigger()

    def _on_loads_finished(self):
        while self._finished:
            result, values = self._finished.pop(0)
            self.loading = None
            if result.error is None:
                before = self.describe()
                self.switches += 1
                self.now_serving(result.classifier, result.load_ms, values)
                self._log.info(f'switched model: {before} -> {self.describe()}, loaded in '
                               f'{result.load_ms:.0f} ms')
            else:
                self._load_failed(result.error, values)

    def _load_failed(self, error, values):
        reason = str(error) if isinstance(error, ClassifierError) else repr(error)
        self.refuse(f'could not load {values["model"]}: {reason}')
        self._active_pub.publish(String(data=self.serving['model']))
        self._node.set_parameters([
            Parameter(name, value=self.serving[name]) for name in MODEL_PARAMETERS
            if self._node.get_parameter(name).value != self.serving[name]])
