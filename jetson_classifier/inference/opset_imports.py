"""
The opset domains an ONNX file imports: those its nodes use, at their lowest versions.

Those are what the oldest runtimes we support accept. A model saved by ONNX Runtime's
optimizer imports every domain that runtime knows (ai.onnx.ml 5, com.microsoft,
ai.onnx.preview, ...); ONNX Runtime 1.16 refuses such a file ("Opset 5 is under
development" for ai.onnx.ml) even when no node uses the domain.
"""

from typing import Dict, List, Set

import onnx
from onnx import defs

DEFAULT_DOMAIN = 'ai.onnx'  # written '' in a file
# Domain -> (lowest, highest) version each runtime of JetPack 6's era takes, and the highest
# IR version. ONNX Runtime 1.16 implements ONNX 1.14 (ai.onnx 19, ai.onnx.ml 3, IR 9) and
# runs ai.onnx from opset 7 on (onnxruntime docs/Versioning.md); test/test_floor_stack.py
# loads these limits in ONNX Runtime 1.16.3 itself. TensorRT 10's ONNX parser takes ai.onnx
# 9 to 20 and other domains only through plugins (onnx-tensorrt docs/operators.md, branches
# 10.0-GA and 10.1-GA; its ONNX submodule moved past 1.16 only in 10.6).
ACCEPTED = {
    'ONNX Runtime 1.16': {DEFAULT_DOMAIN: (7, 19), 'ai.onnx.ml': (1, 3), 'com.microsoft': (1, 1)},
    'TensorRT 10.3': {DEFAULT_DOMAIN: (9, 20)},
}
MAX_IR_VERSION = 9


def _graphs(model):
    """Yield the main graph and every subgraph (If, Loop, Scan bodies)."""
    pending = [model.graph]
    while pending:
        graph = pending.pop()
        yield graph
        for node in graph.node:
            for attribute in node.attribute:
                pending.extend([attribute.g] if attribute.HasField('g') else attribute.graphs)


def used_ops(model: onnx.ModelProto) -> Dict[str, Set[str]]:
    """Return the op types the model's nodes use, by domain ('ai.onnx' for '')."""
    ops = {}
    for graph in _graphs(model):
        for node in graph.node:
            ops.setdefault(node.domain or DEFAULT_DOMAIN, set()).add(node.op_type)
    return ops


def imported(model: onnx.ModelProto) -> Dict[str, int]:
    """Return the model's opset imports, domain -> version."""
    return {entry.domain or DEFAULT_DOMAIN: entry.version for entry in model.opset_import}


def _floor(domain):
    """Return the lowest version every runtime in ACCEPTED takes for `domain`."""
    return max((limits[domain][0] for limits in ACCEPTED.values() if domain in limits),
               default=1)


def lowest_opset_imports(model: onnx.ModelProto) -> Dict[str, int]:
    """
    Return the imports that hold the model's nodes unchanged: domain -> lowest version.

    That is, per domain, the newest `since_version` of its ops' definitions at the imported
    version, raised to what every runtime takes. A domain ONNX has no definitions for (a
    custom one) keeps its version.
    """
    versions = imported(model)
    lowest = {}
    for domain, ops in used_ops(model).items():
        version = versions.get(domain)
        if version is None:
            raise ValueError(f'nodes use domain {domain}, which the model does not import')
        try:
            since = max(defs.get_schema(op, version, '' if domain == DEFAULT_DOMAIN else domain)
                        .since_version for op in ops)
        except defs.SchemaError:
            lowest[domain] = version
            continue
        lowest[domain] = max(since, _floor(domain))
    return lowest


def tidy_opset_imports(model: onnx.ModelProto) -> onnx.ModelProto:
    """Import only the domains the nodes use, at their lowest versions; IR version <= 9."""
    lowest = lowest_opset_imports(model)
    del model.opset_import[:]
    for domain, version in sorted(lowest.items()):
        model.opset_import.add(domain='' if domain == DEFAULT_DOMAIN else domain,
                               version=version)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    return model


def opset_problems(model: onnx.ModelProto) -> List[str]:
    """Return what keeps the model's imports from being lowest and accepted, in words."""
    versions, lowest = imported(model), lowest_opset_imports(model)
    problems = [f'imports {domain} {version}, which no node uses'
                for domain, version in sorted(versions.items()) if domain not in lowest]
    problems += [f'imports {domain} {versions[domain]} where {version} holds its nodes'
                 for domain, version in sorted(lowest.items()) if versions[domain] != version]
    for runtime, limits in ACCEPTED.items():
        for domain, version in sorted(versions.items()):
            low, high = limits.get(domain, (None, None))
            if low is None:
                problems.append(f'{runtime} does not take domain {domain}')
            elif not low <= version <= high:
                problems.append(f'{runtime} takes {domain} {low} to {high}, not {version}')
    if model.ir_version > MAX_IR_VERSION:
        problems.append(f'IR version {model.ir_version}: ONNX Runtime 1.16 reads up to '
                        f'{MAX_IR_VERSION}')
    return problems
