"""The model catalog (config/models.yaml): short names a user can type, mapped to files."""

import dataclasses
import os
from pathlib import Path

import yaml

from jetson_classifier import PACKAGE_PARENT
from jetson_classifier.atomic_file import write_atomically
from jetson_classifier.errors import CatalogError

PACKAGE = 'jetson_classifier'
MODEL_DIR_ENV = 'JETSON_CLASSIFIER_MODEL_DIR'
# The user's own catalog in the model directory: writable where the shipped one is not.
USER_CATALOG = 'user_models.yaml'
_PREPROCESSING_KEYS = ('mean', 'std', 'crop_fraction', 'color_order', 'input_size')


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One named model: its file and what is known about it before loading."""

    name: str
    file: str
    precision: str = 'fp32'
    notes: str = ''
    published_top1: float = None
    labels: str = None
    export: dict = None
    int8_of: str = None
    base: str = None  # the catalog model a fine-tuned entry was trained from
    preprocessing: dict = dataclasses.field(default_factory=dict)


def default_model_dir():
    """Return $JETSON_CLASSIFIER_MODEL_DIR, else the user's cache dir."""
    if os.environ.get(MODEL_DIR_ENV):
        return Path(os.environ[MODEL_DIR_ENV]).expanduser()
    cache = Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache')
    return cache / PACKAGE / 'models'


def share_dir():
    """Return the package's data directory: the source tree when run from it, else installed."""
    if (PACKAGE_PARENT / 'package.xml').is_file():
        return PACKAGE_PARENT
    from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
    try:
        return Path(get_package_share_directory(PACKAGE))
    except (OSError, PackageNotFoundError) as error:  # AMENT_PREFIX_PATH unset / without us
        raise CatalogError(f'cannot find the installed {PACKAGE} files ({error}); source the '
                           'setup script of the ROS 2 workspace it is installed in') from error


def default_catalog_path():
    """Return the catalog shipped with the package."""
    return share_dir() / 'config' / 'models.yaml'


class Catalog:
    """Named models and the directory their relative files live in."""

    def __init__(self, entries, model_dir=None, source='<memory>'):
        """Wrap `entries` (name -> CatalogEntry); `source` names the file in errors."""
        self.entries = entries
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.source = source

    @classmethod
    def load(cls, path=None, model_dir=None):
        """Read a catalog YAML file (default: the shipped one), then the user's catalog over it."""
        path = Path(path) if path else default_catalog_path()
        catalog = cls(_read_entries(path), model_dir, source=str(path))
        user_path = catalog.user_catalog_path
        if user_path.is_file():
            catalog.entries.update(_read_entries(user_path))
            catalog.source = f'{path} + {user_path}'
        return catalog

    @property
    def user_catalog_path(self):
        """Return <model_dir>/user_models.yaml: its entries add to or override the others."""
        return self.model_dir / USER_CATALOG

    def save_user_entry(self, name, fields):
        """Add or replace `name` in the user's catalog file, keeping its other entries."""
        entry = _entry(name, fields, self.user_catalog_path)
        document = {'models': {}}
        if self.user_catalog_path.is_file():
            document = _read_document(self.user_catalog_path)
        document['models'][name] = dict(fields)
        write_atomically(self.user_catalog_path,
                         '# Models you made (finetune); they add to or override the shipped '
                         'catalog.\n' + yaml.safe_dump(document, sort_keys=False))
        self.entries[name] = entry

    @property
    def names(self):
        """Catalog names in file order."""
        return list(self.entries)

    def entry(self, name):
        """Return the entry called `name`, or raise CatalogError listing the known names."""
        try:
            return self.entries[name]
        except KeyError:
            raise CatalogError(f'unknown model {name!r} in catalog {self.source}; '
                               f'known: {", ".join(self.entries)}') from None

    def path_of(self, entry):
        """Return the absolute ONNX path of `entry`."""
        return self._resolve(entry.file)

    def labels_path_of(self, entry):
        """Return the labels file of `entry`, or None when the model carries its labels."""
        return self._resolve(entry.labels) if entry.labels else None

    def resolve(self, model):
        """Map a catalog name or a path to an ONNX file to (path, entry or None)."""
        if model.endswith('.onnx') or os.sep in model:
            return Path(model).expanduser(), None
        entry = self.entry(model)
        return self.path_of(entry), entry

    def _resolve(self, file):
        file = Path(file).expanduser()
        return file if file.is_absolute() else self.model_dir / file


def _read_document(path):
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as error:
        raise CatalogError(f'cannot read model catalog {path}: {error}') from error
    if not isinstance(document, dict) or not isinstance(document.get('models'), dict):
        raise CatalogError(f'model catalog {path} has no "models" mapping')
    return document


def _read_entries(path):
    models = _read_document(path)['models']
    return {name: _entry(name, fields, path) for name, fields in models.items()}


def _entry(name, fields, path):
    if not isinstance(fields, dict) or 'file' not in fields:
        raise CatalogError(f'catalog {path}: model {name!r} needs a "file"')
    known = {f.name for f in dataclasses.fields(CatalogEntry)} | set(_PREPROCESSING_KEYS)
    unknown = set(fields) - known
    if unknown:
        raise CatalogError(f'catalog {path}: model {name!r} has unknown keys {sorted(unknown)}')
    preprocessing = {k: fields[k] for k in _PREPROCESSING_KEYS if k in fields}
    plain = {k: v for k, v in fields.items() if k not in _PREPROCESSING_KEYS}
    return CatalogEntry(name=name, preprocessing=preprocessing, **plain)
