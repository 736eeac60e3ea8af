"""What the benchmarks that run nodes share: the repository root, process helpers, CPU time."""

import os
from pathlib import Path
import sys

REPO_ROOT = Path(__file__).resolve().parents[1]


def ros_processes():
    """Import test/ros_processes.py: nodes as processes, a listener, a CPU hog."""
    sys.path.insert(0, str(REPO_ROOT / 'test'))
    import ros_processes as helpers
    return helpers


def process_tree(pid):
    """Return `pid` and the ids of all its descendants."""
    found, pending = [], [pid]
    while pending:
        pid = pending.pop()
        found.append(pid)
        for task in Path(f'/proc/{pid}/task').glob('*/children'):
            pending += [int(child) for child in task.read_text().split()]
    return found


def cpu_s(pids):
    """Return user + system CPU seconds spent so far by `pids` and their descendants."""
    ticks = 0
    for pid in (p for parent in pids for p in process_tree(parent)):
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf('SC_CLK_TCK')
