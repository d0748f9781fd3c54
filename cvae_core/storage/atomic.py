"""Checkpoint bytes written to a file atomically, and the debris of killed writes swept, without torch: a reader sees
the old file or the whole new one, never half of one. `checkpoint.save` writes through here; so does the model store."""

import os
import tempfile
import time
from pathlib import Path

from ..errors import CheckpointError
from ..text import N_
from .checkpoint_header import SUFFIX

ALREADY_EXISTS = N_("{file_name} already exists")  # store.py says this one in its own words


def write_bytes(data: bytes, path: str | Path, overwrite: bool = True) -> Path:
    """Checkpoint bytes to a file, atomically: a reader sees the old file or the whole new one. With
    overwrite=False an existing file is never replaced, even by a writer racing this one."""
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes private files; a checkpoint is meant to be shared
        if overwrite:
            os.replace(tmp_name, path)
        else:
            try:
                os.link(tmp_name, path)  # fails if the name exists: no check-then-write race
            except FileExistsError:
                raise CheckpointError(ALREADY_EXISTS, file_name=path.name) from None
            os.unlink(tmp_name)
        tmp_name = None
    except OSError as e:
        raise CheckpointError(N_("could not save {file_name}: {reason}"), file_name=path.name, reason=str(e.strerror or e)) from None
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
    return path


def remove_stale_partials(folder: str | Path, older_than_s: float = 60.0) -> int:
    """Delete temporary files left by saves that were killed mid-write (ours only: .<name>.safetensors.*.tmp)."""
    removed = 0
    for path in Path(folder).glob("." + "*" + SUFFIX + ".*.tmp"):
        try:
            if time.time() - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed
