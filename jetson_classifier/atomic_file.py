"""Files written so that a reader, or a crash, never sees half of one."""

import os
from pathlib import Path
import tempfile


def write_atomically(path, data):
    """
    Write `data` (bytes or str) to `path`: a temporary file beside it, fsync'd, then renamed.

    The file is readable by everyone (0644); the temporary file is removed on any failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(data.encode('utf-8') if isinstance(data, str) else data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
