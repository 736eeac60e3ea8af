"""
The package uses only the rclpy, launch and launch_ros API that ROS 2 Humble has.

Humble's API is test/humble_api.json, made by tools/ros_api_surface.py from the packages' own
git history (its "sources" name each branch, commit and version): the `humble` branches of
ros2/rclpy (3.3.15, commit b488272b, 2024-11-25), ros2/launch (1.0.7, f31c1ff1) and
ros2/launch_ros (0.19.8, 25a207ca), and what their `jazzy` and `rolling` branches added.
The package's sources (jetson_classifier/, launch/, scripts/) are read with ast, not run:
every import from those packages, every attribute of an imported module or class, the keyword
arguments of every call to them, every `self.x` and `super().x` of a class derived from one
of theirs, and any attribute named like a member that only newer branches have.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API = json.loads((Path(__file__).parent / 'humble_api.json').read_text())
PACKAGES = tuple(API['sources'])
UNKNOWN = object()  # an object whose API this test cannot tell (ours, numpy's, a result's)
MISSING = object()  # a name Humble's API lacks


def package_sources():
    """Return {path relative to the repository: source} of everything the package installs."""
    paths = [*sorted((ROOT / 'jetson_classifier').rglob('*.py')),
             *sorted((ROOT / 'launch').glob('*.py')), *sorted((ROOT / 'scripts').iterdir())]
    return {str(path.relative_to(ROOT)): path.read_text() for path in paths}


def class_member(qualified, name, seen=()):
    """Return a member of a Humble class, through its bases: its kind, MISSING or UNKNOWN."""
    data = API['classes'].get(qualified)
    if data is None or qualified in seen:
        return UNKNOWN
    if name in data['members']:
        return data['members'][name]
    found = [class_member(base, name, (*seen, qualified)) if base else UNKNOWN
             for base in data['bases']]
    return next((kind for kind in found if kind is not MISSING), MISSING)


def init_parameters(qualified):
    """Return the keywords a Humble class takes, following **kwargs into its bases."""
    data = API['classes'].get(qualified, {'members': {}, 'bases': []})
    own = data['members'].get('__init__')
    if own is None:
        bases = [base for base in data['bases'] if base]
        return init_parameters(bases[0]) if bases else ['*', '**']
    if '**' not in own or not data['bases'] or None in data['bases']:
        return own
    return [name for name in own if name != '**'] + init_parameters(data['bases'][0])


def defined_names(sources):
    """Return every function, class and attribute name the package defines itself."""
    names = set()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)  # NamedTuple and dataclass fields
    return names


class HumbleApiChecker(ast.NodeVisitor):
    """Collects the uses of rclpy, launch and launch_ros in one module that Humble lacks."""

    def __init__(self, filename, own_names=frozenset()):
        self.filename = filename
        self.own_names = own_names
        self.symbols = {}
        self.classes = []  # (Humble base classes, member names) of the classes being read
        self.problems = set()
        self.uses_packages = False

    def check(self, source):
        """Return the problems found in `source`, sorted."""
        tree = ast.parse(source)
        self.uses_packages = any(
            isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (name or '').partition('.')[0] in PACKAGES
                for name in ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module]))
            for node in ast.walk(tree))
        self.visit(tree)
        return sorted(self.problems)

    def report(self, node, text):
        self.problems.add(f'{self.filename}:{node.lineno}: {text}')

    def missing_module(self, node, module):
        first = API['modules_after_humble'].get(module)
        self.report(node, f'module {module} is not in Humble'
                          + (f' (first in {first})' if first else ''))

    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.partition('.')[0]
            if top not in PACKAGES:
                continue
            if alias.name not in API['modules']:
                self.missing_module(node, alias.name)
            self.symbols[alias.asname or top] = f'module {alias.name if alias.asname else top}'

    def visit_ImportFrom(self, node):
        if node.level or (node.module or '').partition('.')[0] not in PACKAGES:
            return
        if node.module not in API['modules']:
            self.missing_module(node, node.module)
            return
        for alias in node.names:
            kind = self.module_member(node, node.module, alias.name)
            self.symbols[alias.asname or alias.name] = kind

    def module_member(self, node, module, name):
        names = API['modules'][module]
        if name in names:
            return names[name]
        if f'{module}.{name}' in API['modules']:
            return f'module {module}.{name}'
        self.report(node, f'{module}.{name} is not in Humble')
        return UNKNOWN

    def visit_ClassDef(self, node):
        bases = [self.kind_of(base) for base in node.bases]
        humble_bases = [kind[len('class '):] for kind in bases
                        if isinstance(kind, str) and kind.startswith('class ')]
        members = {child.name for child in node.body
                   if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))}
        members |= {child.attr for child in ast.walk(node) if isinstance(child, ast.Attribute)
                    and isinstance(child.ctx, ast.Store) and isinstance(child.value, ast.Name)
                    and child.value.id == 'self'}
        self.classes.append((humble_bases, members))
        self.generic_visit(node)
        self.classes.pop()

    def inherited(self, node, name):
        """Return what `self.name` is in the class being read (UNKNOWN where it is ours)."""
        bases, members = self.classes[-1] if self.classes else ([], set())
        if not bases or name in members:
            return UNKNOWN
        for base in bases:
            kind = class_member(base, name)
            if kind is not MISSING:
                return kind
        self.report(node, f'{name} is not a member of {" or ".join(bases)} in Humble')
        return UNKNOWN

    def kind_of(self, node):
        """Return what an expression is in Humble's API: 'module Q', 'class Q', [parameters]."""
        if isinstance(node, ast.Name):
            return self.symbols.get(node.id, UNKNOWN)
        if isinstance(node, ast.Attribute):
            value = node.value
            if isinstance(value, ast.Name) and value.id == 'self' or (
                    isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                    and value.func.id == 'super'):
                return self.inherited(node, node.attr)
            owner = self.kind_of(value)
            if isinstance(owner, str) and owner.startswith('module '):
                return self.module_member(node, owner[len('module '):], node.attr)
            if isinstance(owner, str) and owner.startswith('class '):
                kind = class_member(owner[len('class '):], node.attr)
                if kind is MISSING:
                    self.report(node, f'{owner[len("class "):]}.{node.attr} is not in Humble')
                    return UNKNOWN
                return kind
        return UNKNOWN

    def visit_Attribute(self, node):
        self.kind_of(node)
        added = API['added_after_humble'].get(node.attr)
        if added and self.uses_packages and node.attr not in self.own_names:
            self.report(node, f'{node.attr}: a member of {added}, not in Humble')
        self.generic_visit(node)

    def visit_Call(self, node):
        callee = self.kind_of(node.func)
        if isinstance(callee, str) and callee.startswith('class '):
            callee = init_parameters(callee[len('class '):])
        if isinstance(callee, list) and '**' not in callee:
            for keyword in node.keywords:
                if keyword.arg is not None and keyword.arg not in callee:
                    self.report(node, f'keyword {keyword.arg}= is not taken by '
                                      f'{ast.unparse(node.func)} in Humble')
        self.generic_visit(node)


def humble_problems(sources):
    own = defined_names(sources)
    return [problem for name, source in sources.items()
            for problem in HumbleApiChecker(name, own).check(source)]


def test_the_api_list_comes_from_the_humble_branches():
    branches = {name: source['branches']['humble'] for name, source in API['sources'].items()}
    assert branches['rclpy']['version'].startswith('3.3.')
    assert branches['launch']['version'].startswith('1.0.')
    assert branches['launch_ros']['version'].startswith('0.19.')
    assert 'add_post_set_parameters_callback' in API['added_after_humble']
    assert 'rclpy.parameter_client' in API['modules_after_humble']


def test_package_uses_only_humble_api():
    sources = package_sources()
    assert 'jetson_classifier/nodes/switcher_node.py' in sources
    assert 'launch/classifier.launch.py' in sources
    assert humble_problems(sources) == []


@pytest.mark.parametrize('source, problem', [
    ('from rclpy.parameter_client import AsyncParameterClient\n',
     'module rclpy.parameter_client is not in Humble (first in jazzy)'),
    ('import rclpy.event_handler\n',
     'module rclpy.event_handler is not in Humble (first in jazzy)'),
    ('from rclpy.node import Node\n\n\nclass N(Node):\n    def __init__(self):\n'
     '        super().__init__("n")\n        self.add_post_set_parameters_callback(print)\n',
     'add_post_set_parameters_callback is not a member of rclpy.node.Node in Humble'),
    ('from rclpy.node import Node\n\n\nclass N(Node):\n    def __init__(self):\n'
     '        super().__init__("n")\n        self.create_timer(1.0, print, autostart=False)\n',
     'keyword autostart= is not taken by self.create_timer in Humble'),
    ('import rclpy\n\n\ndef count(subscription):\n    return subscription.get_publisher_count()\n',
     'get_publisher_count: a member of rclpy.subscription.Subscription (jazzy), not in Humble'),
    ('from rclpy.qos import ReliabilityPolicy\nPOLICY = ReliabilityPolicy.BEST_AVAILABLE\n',
     'BEST_AVAILABLE: a member of rclpy.qos.ReliabilityPolicy (jazzy), not in Humble'),
    ('from launch.substitutions import IfElseSubstitution\n',
     'launch.substitutions.IfElseSubstitution is not in Humble'),
])
def test_checker_finds_api_newer_than_humble(source, problem):
    assert any(found.endswith(problem) for found in humble_problems({'x.py': source})), problem


def test_checker_accepts_humble_api():
    source = ('import rclpy\nfrom rclpy.executors import SingleThreadedExecutor\n'
              'from rclpy.node import Node\n\n\nclass N(Node):\n    def __init__(self):\n'
              '        super().__init__("n", namespace="x")\n'
              '        self.add_on_set_parameters_callback(print)\n'
              '        self.timer = self.create_timer(1.0, print, callback_group=None)\n'
              '        self.timer.timer_period_ns = 10\n\n\n'
              'rclpy.init(args=None, domain_id=3)\nSingleThreadedExecutor(context=None)\n')
    assert humble_problems({'x.py': source}) == []
