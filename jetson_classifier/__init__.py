"""
Image classification for robots: fast enough to act on, measured on the target.

    from jetson_classifier import Classifier
    Classifier('lite0_int8').classify('cat.jpg')

The folders are the layers, each importing only those listed before it: inference (models,
backends, Classifier), pipeline (camera frames through the model, measured), switching (which
model holds a target), benchmark (measure every model here), nodes (the ROS 2 glue) and
commands (the command-line tools).
"""

from pathlib import Path

# The folder holding this package: a source checkout, or site-packages when installed.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def __getattr__(name):
    """Import Classifier on first use, so that importing a light module stays light."""
    if name == 'Classifier':
        from jetson_classifier.inference.classifier import Classifier
        return Classifier
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
