"""Atomic file writes: a temporary name in the destination folder, then a rename.

An interrupted or failed write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from cea_edge.errors import CeaError


def _default_mode() -> int:
    # mkstemp creates files 0600; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CeaError(f"cannot write '{path}': folder '{folder}' does not exist")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise CeaError(f"cannot write '{path}': {error.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """``data`` as indented JSON (non-JSON values as their str), written atomically."""
    text = json.dumps(data, indent=2, default=str) + "\n"
    return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
