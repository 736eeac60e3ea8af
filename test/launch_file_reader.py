"""Read ROS 2 Python launch files without the `launch` package: what they start and pass."""

import ast
import contextlib
import dataclasses
from pathlib import Path
import runpy
import sys
import types
from unittest import mock

import setuptools


def _name_of(func):
    """Return the called name of `Name(...)` or `module.Name(...)`."""
    return func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)


def _text(node):
    """Return a string constant's value, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _first_text(call):
    return _text(call.args[0]) if call.args else None


def _keyword(call, name):
    return next((k.value for k in call.keywords if k.arg == name), None)


@dataclasses.dataclass
class Argument:
    """A DeclareLaunchArgument: name, default (a string, or None when it is a substitution)."""

    name: str
    default: str
    choices: list


@dataclasses.dataclass
class Parameter:
    """One entry of a Node's parameter dict: a constant, or ParameterValue(LaunchConfiguration)."""

    name: str
    constant: object = None
    configuration: str = None
    value_type: str = None

    @classmethod
    def of(cls, name, value):
        """Return the Parameter that a built (stand-in) parameter dict gives `name`."""
        if not (isinstance(value, Recorded) and value.kind == 'ParameterValue'):
            return cls(name, constant=value)
        inner, value_type = value.args[0], value.kwargs.get('value_type')
        return cls(name, configuration=(inner.argument(0, 'variable_name')
                                        if isinstance(inner, Recorded) else None),
                   value_type=value_type and value_type.__name__)


@dataclasses.dataclass
class NodeAction:
    """A launch_ros Node or LifecycleNode: what it runs, its name and what it is given."""

    kind: str
    executable: str
    name: str
    parameter_files: list
    parameters: dict
    remappings: list

    @classmethod
    def of(cls, node):
        """Return the NodeAction of a built (stand-in) Node or LifecycleNode."""
        files, parameters = [], {}
        for item in node.kwargs.get('parameters', []):
            if isinstance(item, dict):
                parameters.update({k: Parameter.of(k, v) for k, v in item.items()})
            else:
                files.append(item)
        return cls(node.kind, node.kwargs['executable'], node.kwargs['name'], files, parameters,
                   list(node.kwargs.get('remappings', [])))


class LaunchFile:
    """
    What one launch file declares, uses, starts, includes and names.

    Read from its text, but for the nodes it starts itself (not those of the files it
    includes): those come from building it, since it may start them with another file's
    function (lifecycle_classifier.launch.py with classifier.launch.py's).
    """

    def __init__(self, path):
        self.path = Path(path)
        self.tree = ast.parse(self.path.read_text(), str(path))
        self.calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call)]
        self.arguments = {a.name: a for a in
                          map(self._argument, self._called('DeclareLaunchArgument'))}
        self.configurations = {_first_text(c) for c in self._called('LaunchConfiguration')}
        self.nodes = [NodeAction.of(node) for node in _started_here(build(self.path))]
        self.named_files = {c.value for c in ast.walk(self.tree) if _text(c)
                            and c.value.endswith(('.yaml', '.xml', '.launch.py'))}
        self.includes = {n for n in self.named_files if n.endswith('.launch.py')}
        self.environment = {_first_text(c) for c in self._called('SetEnvironmentVariable')}
        self.imports = {(node.module, alias.name) for node in ast.walk(self.tree)
                        if isinstance(node, ast.ImportFrom) for alias in node.names}

    def _called(self, name):
        return [c for c in self.calls if _name_of(c.func) == name]

    def constant(self, name):
        """Return the value of a module-level constant assignment (tuples as tuples)."""
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return ast.literal_eval(node.value)
        raise KeyError(f'{self.path.name} has no constant {name}')

    @staticmethod
    def _argument(call):
        choices = _keyword(call, 'choices')
        return Argument(_first_text(call), _text(_keyword(call, 'default_value')),
                        None if choices is None else ast.literal_eval(choices))


def setup_keywords(root):
    """Run setup.py with setuptools.setup() replaced, and return what it would be given."""
    captured = {}
    with contextlib.chdir(root), mock.patch.object(
            setuptools, 'setup', lambda **kwargs: captured.update(kwargs)):
        runpy.run_path('setup.py', run_name='__main__')
    return captured


def installed_files(root):
    """Map each file setup.py installs (relative to the source tree) to its install folder."""
    return {source: folder for folder, sources in setup_keywords(root)['data_files']
            for source in sources}


# Building a launch file with stand-ins of the launch API, to see what it returns.

class Recorded:
    """A stand-in for any launch API class: keeps what it was constructed with."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    @property
    def kind(self):
        return type(self).__name__

    def argument(self, index, name, default=None):
        """Return the constructor argument at `index` or called `name`."""
        return self.args[index] if len(self.args) > index else self.kwargs.get(name, default)


class _StandInModule(types.ModuleType):
    """A module whose every attribute is a Recorded subclass of that name."""

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        stand_in = type(name, (Recorded,), {})
        setattr(self, name, stand_in)
        return stand_in


_LAUNCH_MODULES = ('launch', 'launch.actions', 'launch.conditions', 'launch.events',
                   'launch.substitutions', 'launch.launch_description_sources', 'launch_ros',
                   'launch_ros.actions', 'launch_ros.event_handlers', 'launch_ros.events',
                   'launch_ros.events.lifecycle', 'launch_ros.parameter_descriptions')
NODE_KINDS = ('Node', 'LifecycleNode')


# Stand-ins to build launch descriptions with in tests: stand_ins.Node(...) and so on.
stand_ins = _StandInModule('stand_ins')


def build(path):
    """Return the stand-in LaunchDescription that `path`'s generate_launch_description() makes."""
    modules = {name: _StandInModule(name) for name in _LAUNCH_MODULES}
    with mock.patch.dict(sys.modules, modules):
        return runpy.run_path(str(path))['generate_launch_description']()


def _children(entity):
    """Return the entities a LaunchDescription or a GroupAction holds."""
    return entity.argument(
        0, 'initial_entities' if entity.kind == 'LaunchDescription' else 'actions', [])


def _started_here(entity):
    """Yield the nodes a built description starts itself, not through an include."""
    if entity.kind in NODE_KINDS:
        yield entity
    elif entity.kind in ('LaunchDescription', 'GroupAction'):
        for child in _children(entity):
            yield from _started_here(child)


def is_one_scoped_group(path):
    """Return True if the launch file returns one GroupAction, scoped (launch's default)."""
    entities = build(path).argument(0, 'initial_entities')
    return ([entity.kind for entity in entities] == ['GroupAction']
            and entities[0].kwargs.get('scoped', True) is True)


@dataclasses.dataclass
class Scope:
    """The launch configurations and environment variables that actions see."""

    configurations: dict
    environment: dict

    def resolve(self, value):
        """Return the text a substitution (or a list of them) performs to."""
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)):
            return ''.join(map(self.resolve, value))
        if value.kind == 'LaunchConfiguration':
            return self.configurations[value.argument(0, 'variable_name')]
        if value.kind == 'EnvironmentVariable':
            name = value.argument(0, 'name')
            if name in self.environment:
                return self.environment[name]
            return self.resolve(value.argument(1, 'default_value', ''))
        raise ValueError(f'cannot resolve {value.kind}')

    def holds(self, condition):
        """Return what an IfCondition evaluates to here: launch's 'true'/'1', 'false'/'0'."""
        if condition.kind != 'IfCondition':
            raise ValueError(f'no rule for {condition.kind}')
        text = self.resolve(condition.argument(0, 'predicate_expression')).strip().lower()
        if text not in ('true', '1', 'false', '0'):
            raise ValueError(f'{text!r} is not a condition launch evaluates')
        return text in ('true', '1')


def visit(entity, scope, executed, launch_dir):
    """
    Visit `entity` as launch does, appending (action, Scope it sees) to `executed`.

    The actions appended are the nodes it starts, the event handlers it registers and the
    events it emits, in the order launch executes them.

    The rules are launch's own (ros2/launch, launch/launch/actions, the same from Humble to
    Rolling): GroupAction(scoped=True), its default, pushes the launch configurations and
    the environment before its actions and pops them after (group_action.py, forwarding=True:
    the actions see what was there); IncludeLaunchDescription sets its launch_arguments in
    the current scope, then visits the included description (include_launch_description.py);
    DeclareLaunchArgument sets its default unless the configuration is set
    (declare_launch_argument.py); SetEnvironmentVariable sets the variable
    (set_environment_variable.py); an action whose condition is false is not executed
    (launch/action.py, Action.visit), and IfCondition is true for 'true' or '1', false for
    'false' or '0', stripped and in any case, an error otherwise
    (conditions/evaluate_condition_expression_impl.py). Files are included from `launch_dir`.
    """
    condition = entity.kwargs.get('condition')
    if condition is not None and not scope.holds(condition):
        return
    if entity.kind == 'LaunchDescription':
        for child in _children(entity):
            visit(child, scope, executed, launch_dir)
    elif entity.kind == 'GroupAction':
        inner = (Scope(dict(scope.configurations), dict(scope.environment))
                 if entity.kwargs.get('scoped', True) else scope)
        for child in _children(entity):
            visit(child, inner, executed, launch_dir)
    elif entity.kind == 'IncludeLaunchDescription':
        for name, value in entity.kwargs.get('launch_arguments', ()):
            scope.configurations[name] = scope.resolve(value)
        source = entity.argument(0, 'launch_description_source').argument(0, 'launch_file_path')
        visit(build(Path(launch_dir) / Path(source).name), scope, executed, launch_dir)
    elif entity.kind == 'DeclareLaunchArgument':
        name = entity.argument(0, 'name')
        if name not in scope.configurations:
            scope.configurations[name] = scope.resolve(entity.kwargs['default_value'])
    elif entity.kind == 'SetEnvironmentVariable':
        scope.environment[entity.argument(0, 'name')] = scope.resolve(entity.argument(1, 'value'))
    elif entity.kind in (*NODE_KINDS, 'RegisterEventHandler', 'EmitEvent'):
        executed.append((entity, Scope(dict(scope.configurations), dict(scope.environment))))
    else:
        raise ValueError(f'no rule for {entity.kind}')
