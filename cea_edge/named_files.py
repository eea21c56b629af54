"""Files that a data file names (a parity reference's record, an export manifest, a report's cell
record): always inside the folder that holds the naming file.

A record is data anyone can edit or hand over; ``../x``, an absolute path or a link leading out
of the folder would make a command read (or copy into its outputs) any file the user can read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError


def named_file(folder: str | Path, name: Any, what: str) -> Path:
    """``folder / name``, links resolved, when that stays inside ``folder``; else CeaError.

    ``what`` says which file named it, for the message ("reference set 'x': record.json").
    ``name`` must be a relative path (a plain file name, or one with sub-folders) of a file below
    the folder: not empty, not the folder itself, not absolute, not leaving it by ``..`` or a link.
    """
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise CeaError(f"{what} names {name!r} where a file name belongs; restore the file or make it again")
    root = Path(folder).resolve()
    outside = CeaError(f"{what} names '{name}', which is outside its folder '{folder}'; a record names files "
                       "inside its own folder only: make it again, or check who edited it")
    if Path(name).is_absolute():
        raise outside
    try:
        resolved = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a name the file system refuses
        raise outside from None
    if resolved == root or not resolved.is_relative_to(root):
        raise outside
    return resolved


def path_under(folder: str | Path, path: Any, what: str) -> Path:
    """A full path a record of ours stores (relative to the working folder, or absolute), checked
    as ``named_file`` checks a name: inside ``folder`` once links are resolved."""
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise CeaError(f"{what} names {path!r} where a file belongs; make it again")
    try:
        return named_file(folder, os.path.relpath(Path(path).absolute(), Path(folder).absolute()), what)
    except CeaError:
        raise CeaError(f"{what} names '{path}', which is outside '{folder}'; make it again, or check who "
                       "edited it") from None
