"""
Class grouping: answer a simpler question ("dog" instead of 118 breeds) by summing classes.

A group file (YAML) names groups and their member classes; members are synset ids
('n02085620'), exact model labels ('tabby'), class indices (151) or inclusive index ranges
('151-268'). Classes no group lists go to a group named 'other' (``unlisted: other``) or are
dropped (``unlisted: drop``).
"""

import dataclasses
import difflib
import re

import numpy as np
import yaml

from jetson_classifier.errors import ClassGroupError

OTHER = 'other'
UNLISTED_CHOICES = ('other', 'drop')
_FILE_KEYS = ('name', 'description', 'unlisted', 'groups')
_INDEX_RANGE = re.compile(r'(\d+)(?:-(\d+))?')


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses repeated mapping keys (PyYAML would keep only the last)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        for position, key in enumerate(keys):
            if key in keys[:position]:
                raise yaml.constructor.ConstructorError(
                    None, None, f'duplicate key {key!r}', node.start_mark)
        return super().construct_mapping(node, deep=deep)


@dataclasses.dataclass(frozen=True)
class ClassGroupSpec:
    """A validated group file, not yet tied to a model: bind() resolves it to class indices."""

    name: str
    description: str
    unlisted: str
    groups: tuple  # ((group name, (member, ...)), ...) in file order
    source: str

    def bind(self, labels, synsets=None):
        """Resolve the members against one model's labels and synset ids (index = class id)."""
        labels = list(labels)
        if synsets is not None and len(synsets) != len(labels):
            raise ClassGroupError(
                f'{self.source}: the model has {len(labels)} labels but {len(synsets)} '
                'synset ids')
        resolver = _MemberResolver(labels, synsets, self.source)
        names = [name for name, _ in self.groups]
        group_of = np.full(len(labels), -1, dtype=np.int64)
        for group, (name, members) in enumerate(self.groups):
            for member in members:
                for index in resolver.resolve(member, name):
                    if group_of[index] >= 0:
                        raise ClassGroupError(
                            f'{self.source}: class {index} ({labels[index]!r}, member '
                            f'{member!r}) is listed in group {names[group_of[index]]!r} and '
                            f'again in group {name!r}')
                    group_of[index] = group
        if self.unlisted == OTHER:
            if OTHER not in names:
                names.append(OTHER)
            group_of[group_of < 0] = names.index(OTHER)
        return ClassGrouping(self.name, names, group_of)


class ClassGrouping:
    """
    A group file bound to one model: sums (N, C) class probabilities into (N, G) groups.

    With ``unlisted: drop`` the dropped classes' probability is removed and each row is
    renormalised to sum to 1 over the kept groups, so the answer reads "which of these
    groups, given it is one of them"; a row with no kept probability stays all zeros.
    """

    def __init__(self, name, labels, group_of):
        self.name = name
        self.labels = tuple(labels)
        self._group_of = np.asarray(group_of, dtype=np.int64)
        kept = np.flatnonzero(self._group_of >= 0)
        self._matrix = np.zeros((len(self._group_of), len(self.labels)), dtype=np.float32)
        self._matrix[kept, self._group_of[kept]] = 1.0
        self._renormalise = len(kept) < len(self._group_of)

    @property
    def num_classes(self):
        """Return the number of model classes this grouping was bound to."""
        return len(self._group_of)

    def apply(self, probs):
        """Group softmax probabilities: (N, C) in, (N, G) out, G = len(labels)."""
        probs = np.asarray(probs)
        if probs.shape[-1:] != (self.num_classes,):
            raise ClassGroupError(
                f'class grouping {self.name!r} expects {self.num_classes} class scores per '
                f'row, got an array of shape {probs.shape}')
        grouped = probs @ self._matrix
        if not self._renormalise:
            return grouped
        kept_mass = grouped.sum(axis=-1, keepdims=True)
        return np.divide(grouped, kept_mass, out=np.zeros_like(grouped), where=kept_mass > 0)

    def group_of(self, class_index):
        """Index into labels of the group holding a model class, or None if it is dropped."""
        if not 0 <= class_index < self.num_classes:
            raise ClassGroupError(
                f'class grouping {self.name!r}: class index {class_index} is outside '
                f'0-{self.num_classes - 1}')
        group = int(self._group_of[class_index])
        return None if group < 0 else group


class _MemberResolver:
    """Turns one group-file member into the class indices it names for one model."""

    def __init__(self, labels, synsets, source):
        self._labels = labels
        self._source = source
        self._by_label = {}
        for index, label in enumerate(labels):
            self._by_label.setdefault(label, []).append(index)
        self._by_synset = {} if synsets is None else {s: i for i, s in enumerate(synsets)}

    def resolve(self, member, group):
        """Return the class indices for member; ClassGroupError names member and file."""
        if isinstance(member, int):
            return self._index_range(member, member, member, group)
        index_range = _INDEX_RANGE.fullmatch(member)
        if index_range:
            first, last = index_range.groups()
            return self._index_range(member, int(first), int(last or first), group)
        if member in self._by_label:
            matches = self._by_label[member]
            if len(matches) > 1:
                raise ClassGroupError(
                    f'{self._source}: group {group!r} member {member!r} matches classes '
                    f'{matches}; name one by synset id or index')
            return matches
        if member in self._by_synset:
            return [self._by_synset[member]]
        close = difflib.get_close_matches(member, list(self._by_label) + list(self._by_synset),
                                          n=1)
        hint = f'; did you mean {close[0]!r}?' if close else ''
        raise ClassGroupError(
            f'{self._source}: group {group!r} member {member!r} is not a label, synset id or '
            f'class index of this model ({len(self._labels)} classes){hint}')

    def _index_range(self, member, first, last, group):
        if not 0 <= first <= last < len(self._labels):
            raise ClassGroupError(
                f'{self._source}: group {group!r} member {member!r} is not a class index range '
                f'within 0-{len(self._labels) - 1}')
        return range(first, last + 1)


def load_class_groups(path):
    """Read and validate a group file; ClassGroupError names the file and what is wrong."""
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.load(stream, Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise ClassGroupError(f'cannot read class group file {path}: {exc.strerror}') from exc
    except yaml.YAMLError as exc:
        raise ClassGroupError(f'{path}: not valid YAML: {exc}') from exc
    if not isinstance(data, dict):
        raise ClassGroupError(f'{path}: expected a mapping with keys {", ".join(_FILE_KEYS)}')
    unknown = sorted(str(key) for key in data if key not in _FILE_KEYS)
    if unknown:
        raise ClassGroupError(f'{path}: unknown keys {unknown}; allowed: {list(_FILE_KEYS)}')
    name = data.get('name')
    if not isinstance(name, str) or not name:
        raise ClassGroupError(f'{path}: name must be a non-empty string')
    description = data.get('description', '')
    if not isinstance(description, str):
        raise ClassGroupError(f'{path}: description must be a string')
    unlisted = data.get('unlisted', OTHER)
    if unlisted not in UNLISTED_CHOICES:
        raise ClassGroupError(
            f'{path}: unlisted must be one of {list(UNLISTED_CHOICES)}, got {unlisted!r}')
    return ClassGroupSpec(name, description, unlisted, _read_groups(data.get('groups'), path),
                          str(path))


def _read_groups(groups, path):
    if not isinstance(groups, dict) or not groups:
        raise ClassGroupError(f'{path}: groups must be a non-empty mapping of name to members')
    checked = []
    for name, members in groups.items():
        if not isinstance(name, str) or not name:
            raise ClassGroupError(f'{path}: group name {name!r} must be a non-empty string')
        if not isinstance(members, list) or not members:
            raise ClassGroupError(f'{path}: group {name!r} must list at least one member')
        for member in members:
            if isinstance(member, bool) or not isinstance(member, (str, int)) or member == '':
                raise ClassGroupError(
                    f'{path}: group {name!r} member {member!r} must be a label, synset id or '
                    'class index (quote labels YAML reads as other types)')
        checked.append((name, tuple(members)))
    return tuple(checked)
