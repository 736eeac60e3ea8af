#!/usr/bin/env python3
r"""
Write the Python API of rclpy, launch and launch_ros as ROS 2 Humble has it, for tests.

test/test_humble_api.py checks what the package uses against this file
(test/humble_api.json). Each package is read from its own git history with `ast`, never
imported: the modules of the `humble` branch with their top-level names, the classes with
their members (methods with their parameters, properties, attributes, `self.x`
assignments), and the members and modules that newer branches have and Humble lacks, so
that a failure can say where a name first appeared. Usage, with git checkouts of
ros2/rclpy, ros2/launch and ros2/launch_ros:

    python3 tools/ros_api_surface.py --output test/humble_api.json \
        --package rclpy ros2/rclpy RCLPY_GIT rclpy/rclpy \
        --package launch ros2/launch LAUNCH_GIT launch/launch \
        --package launch_ros ros2/launch_ros LAUNCH_ROS_GIT launch_ros/launch_ros
"""

import argparse
import ast
import json
from pathlib import PurePosixPath
import re
import subprocess
import sys

HUMBLE = 'humble'
NEWER = ('jazzy', 'rolling')
PROPERTY_DECORATORS = ('property', 'setter', 'getter', 'cached_property')
# Classes that describe keyword arguments or duck types for type checkers, not objects.
TYPING_BASES = ('TypedDict', 'Protocol')


def git(repo, *args):
    return subprocess.run(['git', '-C', repo, *args], check=True, capture_output=True,
                          text=True).stdout


def read_sources(repo, ref, folder):
    """Return {module name: source} for the Python files under `folder` at `ref`."""
    parent = PurePosixPath(folder).parent
    sources = {}
    for path in git(repo, 'ls-tree', '-r', '--name-only', ref, folder).split():
        if not path.endswith('.py'):
            continue
        parts = PurePosixPath(path).relative_to(parent).with_suffix('').parts
        module = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)
        sources[module] = (git(repo, 'show', f'{ref}:{path}'), path.endswith('__init__.py'))
    return sources


def package_version(repo, ref, folder):
    """Return the <version> of the package.xml beside `folder`, or None."""
    try:
        text = git(repo, 'show', f'{ref}:{PurePosixPath(folder).parent}/package.xml')
    except subprocess.CalledProcessError:
        return None
    match = re.search(r'<version>([^<]+)</version>', text)
    return match and match.group(1)


def parameters(function, method):
    """Return a function's parameter names as keywords can name them, with '*' and '**'."""
    args = function.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    static = any(isinstance(d, ast.Name) and d.id == 'staticmethod'
                 for d in function.decorator_list)
    if method and not static and positional:
        positional = positional[1:]
    names = positional[len(args.posonlyargs):] if args.posonlyargs else positional
    names = names + [a.arg for a in args.kwonlyargs]
    if args.vararg:
        names.append('*')
    if args.kwarg:
        names.append('**')
    return names


def is_property(function):
    for decorator in function.decorator_list:
        name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(
            decorator, 'id', None)
        if name in PROPERTY_DECORATORS:
            return True
    return False


def top_level(statements):
    """Yield the statements run at import time, through if/try/with blocks."""
    for statement in statements:
        if isinstance(statement, (ast.If, ast.Try, ast.With)):
            for block in ('body', 'orelse', 'finalbody'):
                yield from top_level(getattr(statement, block, []))
            for handler in getattr(statement, 'handlers', []):
                yield from top_level(handler.body)
        else:
            yield statement


def public(name):
    """Tell whether a name is API: not _private, though __init__ and other dunders are."""
    return not name.startswith('_') or (name.startswith('__') and name.endswith('__'))


def assigned_names(statement):
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                yield node.id


class ModuleReader:
    """Collects one module's top-level names and classes into a surface."""

    def __init__(self, module, is_package, surface):
        self.module = module
        self.package = module if is_package else module.rpartition('.')[0]
        self.surface = surface
        self.names = surface['modules'].setdefault(module, {})

    def absolute(self, node):
        if not node.level:
            return node.module
        base = self.package.split('.')
        base = base[:len(base) - node.level + 1]
        return '.'.join(base + ([node.module] if node.module else []))

    def read(self, tree):
        for statement in top_level(tree.body):
            self.read_statement(statement, self.names, self.module)

    def read_statement(self, statement, names, scope):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and not public(statement.name):
            return
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[statement.name] = {'function': parameters(statement, method=False)}
        elif isinstance(statement, ast.ClassDef):
            names[statement.name] = {'class': self.read_class(statement, scope)}
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            for name in filter(public, assigned_names(statement)):
                names[name] = self.alias(statement.value)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                local = alias.asname or alias.name.partition('.')[0]
                if public(local):
                    names[local] = {'import': alias.name if alias.asname else local}
        elif isinstance(statement, ast.ImportFrom):
            source = self.absolute(statement)
            for alias in statement.names:
                if alias.name != '*' and public(alias.asname or alias.name):
                    names[alias.asname or alias.name] = {'import': f'{source}.{alias.name}'}

    def alias(self, value):
        """Return what a name assigned `value` is: a name of this module (X = Y), else a value."""
        if isinstance(value, ast.Name) and value.id in self.names:
            return self.names[value.id]
        return {'value': None}

    def base_name(self, expression):
        """Return a class base as a dotted name, resolved through this module's imports."""
        parts = []
        while isinstance(expression, ast.Attribute):
            parts.insert(0, expression.attr)
            expression = expression.value
        if isinstance(expression, ast.Subscript):  # Generic[T]
            return self.base_name(expression.value)
        if not isinstance(expression, ast.Name):
            return None
        first = self.names.get(expression.id, {})
        head = first.get('import') or (first.get('class') if 'class' in first else None)
        return '.'.join([head or f'{self.module}.{expression.id}', *parts])

    def read_class(self, node, scope):
        qualified = f'{scope}.{node.name}'
        members = {}
        bases = [self.base_name(base) for base in node.bases
                 if not (isinstance(base, ast.Name) and base.id == 'object')]
        typing = self.surface['typing']
        if any(base and (base.rpartition('.')[2] in TYPING_BASES or base in typing)
               for base in bases):
            typing.add(qualified)
            return qualified
        self.surface['classes'][qualified] = {'bases': bases, 'members': members}
        for statement in top_level(node.body):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and not public(statement.name):
                continue
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                members[statement.name] = (None if is_property(statement)
                                           else parameters(statement, method=True))
            elif isinstance(statement, ast.ClassDef):
                members[statement.name] = {'class': self.read_class(statement, qualified)}
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                for name in filter(public, assigned_names(statement)):
                    members.setdefault(name, None)
        for child in ast.walk(node):
            if isinstance(child, ast.Attribute) and isinstance(child.ctx, ast.Store) \
                    and isinstance(child.value, ast.Name) and child.value.id == 'self' \
                    and public(child.attr):
                members.setdefault(child.attr, None)
        return qualified


def surface_of(sources):
    surface = {'modules': {}, 'classes': {}, 'typing': set()}
    for module, (source, is_package) in sorted(sources.items()):
        ModuleReader(module, is_package, surface).read(ast.parse(source))
    return surface


def resolve_imports(surface, packages):
    """Replace imports of names inside `packages` by what they name; others become values."""
    modules = surface['modules']

    def resolve(target, depth=0):
        if target in modules:
            return {'module': target}
        if target in surface['classes']:
            return {'class': target}
        module, _, name = target.rpartition('.')
        if module in modules and name in modules[module] and depth < 20:
            kind = modules[module][name]
            return resolve(kind['import'], depth + 1) if 'import' in kind else kind
        return {'value': None}

    def resolve_base(base):
        kind = resolve(base) if base else {}
        return kind.get('class') if kind.get('class') in surface['classes'] else None

    for data in surface['classes'].values():
        data['bases'] = [resolve_base(base) for base in data['bases']]
    for names in modules.values():
        for name, kind in names.items():
            if 'import' in kind:
                inside = kind['import'].partition('.')[0] in packages
                names[name] = resolve(kind['import']) if inside else {'value': None}


def encoded(kind):
    """Return a name as the JSON has it: parameters, 'class Q', 'module Q' or null (a value)."""
    if isinstance(kind, dict) and 'function' in kind:
        return kind['function']
    if isinstance(kind, dict) and ('class' in kind or 'module' in kind):
        return ' '.join(next(iter(kind.items())))
    return kind if isinstance(kind, list) else None


def compact_json(result):
    """JSON with one line per module and per class, so that a regenerated file diffs well."""
    lines = []
    for key, value in result.items():
        if key in ('modules', 'classes'):
            entries = [f'  {json.dumps(name)}: {json.dumps(data)}' for name, data in value.items()]
            lines.append(f' {json.dumps(key)}: {{\n' + ',\n'.join(entries) + '\n }')
        else:
            lines.append(f' {json.dumps(key)}: {json.dumps(value, indent=2)}')
    return '{\n' + ',\n'.join(lines) + '\n}\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--package', nargs=4, action='append', required=True,
                        metavar=('NAME', 'REPOSITORY', 'GIT_DIR', 'FOLDER'),
                        help='a package, its GitHub repository, a git checkout of it and the '
                             'folder of its sources there')
    parser.add_argument('--output', required=True, help='JSON file to write')
    args = parser.parse_args(argv)
    result = {'generated_by': 'tools/ros_api_surface.py', 'sources': {}}
    sources = {ref: {} for ref in (HUMBLE, *NEWER)}
    for name, repository, repo, folder in args.package:
        branches = {}
        for ref, modules in sources.items():
            branches[ref] = {'commit': git(repo, 'rev-parse', ref).strip(),
                             'date': git(repo, 'log', '-1', '--format=%cs', ref).strip(),
                             'version': package_version(repo, ref, folder)}
            modules.update(read_sources(repo, ref, folder))
        result['sources'][name] = {'repository': repository, 'folder': folder,
                                   'branches': branches}
    humble = surface_of(sources[HUMBLE])
    resolve_imports(humble, [name for name, _, _, _ in args.package])
    result['modules'] = {module: {n: encoded(k) for n, k in names.items()}
                         for module, names in humble['modules'].items()}
    result['classes'] = {
        qualified: {'bases': data['bases'],
                    'members': {n: encoded(k) for n, k in data['members'].items()}}
        for qualified, data in humble['classes'].items()}
    humble_members = {member for data in humble['classes'].values()
                      for member in data['members']}
    result['modules_after_humble'], added = {}, {}
    for ref in NEWER:
        later = surface_of(sources[ref])
        for module in later['modules']:
            if module not in humble['modules']:
                result['modules_after_humble'].setdefault(module, ref)
        for qualified, data in later['classes'].items():
            for member in data['members']:
                if member not in humble_members and not member.startswith('_'):
                    added.setdefault(member, f'{qualified} ({ref})')
    result['added_after_humble'] = dict(sorted(added.items()))
    for key in ('modules', 'classes'):
        result[key] = dict(sorted(result[key].items()))
    with open(args.output, 'w') as output:
        output.write(compact_json(result))
    print(f'wrote {args.output}: {len(result["modules"])} modules, '
          f'{len(result["classes"])} classes, {len(result["added_after_humble"])} members '
          f'added after Humble', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
