"""Atomic file writes: a temporary name in the destination folder, then a rename.

An interrupted or failed write never leaves a half-written file under the final name:
single files through ``atomic_write``; several outputs that must appear together (an
export's artifact, its siblings and manifest) through ``staged_outputs`` and ``publish``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

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


def prepare_output_dir(folder: Path) -> Path:
    """Create the output folder if needed and prove it writable (root ignores mode bits)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CeaError(f"output folder '{folder}' is a file; pass --out with a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise CeaError(f"output folder '{folder}' is not writable ({error.strerror or error}); "
                       "pass --out with a folder you can write to") from None
    return folder


def remove_staged(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def staging_path(destination: Path) -> Path:
    """A hidden temporary name beside ``destination`` with the same suffix (tools check it)."""
    return destination.with_name(f".{destination.stem}.{uuid.uuid4().hex[:8]}.tmp{destination.suffix}")


def publish(staged: Path, destination: Path) -> None:
    """Rename a staged file or directory over ``destination`` (os.replace cannot replace a
    non-empty directory, so an old .mlpackage is moved aside first and deleted after)."""
    if destination.is_dir() and not destination.is_symlink():
        retired = staging_path(destination)
        os.replace(destination, retired)
        os.replace(staged, destination)
        remove_staged(retired)
    else:
        os.replace(staged, destination)


@contextmanager
def staged_outputs(*destinations: Path) -> Iterator[list[Path]]:
    """Yield temporary paths for ``destinations``; on success rename them into place in
    order (artifact first, manifest last), on any error or interrupt delete them all."""
    staged = [staging_path(Path(d)) for d in destinations]
    try:
        yield staged
        for temporary, destination in zip(staged, destinations):
            publish(temporary, Path(destination))
    finally:
        for temporary in staged:
            if temporary.exists():
                remove_staged(temporary)
