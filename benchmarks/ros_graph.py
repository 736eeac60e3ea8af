"""What the benchmarks that run nodes share: the repository root, the tests' process helpers."""

from pathlib import Path
import sys

REPO_ROOT = Path(__file__).resolve().parents[1]


def ros_processes():
    """Import test/ros_processes.py: nodes as processes, a listener, a CPU hog."""
    sys.path.insert(0, str(REPO_ROOT / 'test'))
    import ros_processes as helpers
    return helpers
