"""
The package's layout: small modules, small folders, imports that point down and never loop.

The layers, bottom up: the core (inference, pipeline, switching, benchmark and the modules
beside them) knows nothing of ROS; nodes is the ROS glue; commands are the programs.
"""

import ast
from pathlib import Path

import jetson_classifier

PACKAGE = Path(jetson_classifier.__file__).parent
MAX_MODULE_LINES = 400
MAX_FOLDER_MODULES = 12
# A module imports only from its own layer and those under it; the package's own modules
# (errors, atomic_file, cpu_features) are under them all.
RANKS = {'inference': 1, 'pipeline': 2, 'switching': 2, 'benchmark': 3, 'nodes': 4,
         'commands': 5}


def modules():
    return sorted(PACKAGE.rglob('*.py'))


def name_of(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def top_level_imports(path):
    """Return the package modules `path` imports as it loads (imports in functions wait)."""
    imported, pending = set(), list(ast.parse(path.read_text()).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # 'from a.b import c' loads a.b, and a.b.c too where c is a module.
            imported.add(node.module)
            imported.update(f'{node.module}.{alias.name}' for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(ast.iter_child_nodes(node))
    return imported


def module_graph():
    """Return {module: the package modules it imports as it loads}."""
    known = {name_of(path) for path in modules()}
    return {name_of(path): top_level_imports(path) & known - {name_of(path)}
            for path in modules()}


def rank(module):
    """Return the layer of `module`: 0 beside the folders, then RANKS by its folder."""
    parts = module.split('.')
    return RANKS.get(parts[1], 0) if len(parts) > 1 else 0


def test_no_module_is_over_400_lines():
    long = {name_of(path): n for path in modules()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, long


def test_no_folder_holds_more_than_12_modules():
    folders = {path.parent for path in modules()}
    crowded = {str(folder.relative_to(PACKAGE.parent)): n for folder in folders
               if (n := len(list(folder.glob('*.py')))) > MAX_FOLDER_MODULES}
    assert not crowded, crowded


def test_imports_point_down_the_layers():
    upward = [(module, imported) for module, imports in module_graph().items()
              for imported in imports if rank(imported) > rank(module)]
    assert not upward, upward


def test_no_import_cycle():
    graph = module_graph()
    cycles = []

    def visit(module, path):
        for imported in graph[module]:
            if imported in path:
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in done:
                visit(imported, path + [imported])
        done.add(module)
    done = set()
    for module in graph:
        if module not in done:
            visit(module, [module])
    assert not cycles, cycles


def test_the_checks_see_the_package():
    graph = module_graph()
    assert len(graph) > 50
    assert 'jetson_classifier.inference.classifier' in graph[
        'jetson_classifier.nodes.serving.classifier_parameters']
