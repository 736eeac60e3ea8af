"""Exceptions the core raises: each names the file, encoding or value at fault."""


class ClassifierError(Exception):
    """Base of every error this package raises on purpose."""


class ModelLoadError(ClassifierError):
    """A model file is missing, corrupt, or cannot be loaded by a backend."""


class CatalogError(ClassifierError):
    """A model name is unknown or the catalog file is malformed."""


class ImageError(ClassifierError):
    """An image cannot be read, decoded or converted."""


class BackendUnavailableError(ClassifierError):
    """The requested inference backend cannot run on this machine."""


class ClassGroupError(ClassifierError):
    """A class group file is malformed or names a class the model does not have."""
