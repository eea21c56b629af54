"""Atomic file writes: a temporary name in the destination folder, then a rename.

An interrupted or failed write never leaves a half-written file under the final name:
single files through ``atomic_write``; several outputs that must appear together (an
export's artifact, its siblings and manifest) through ``staged_outputs`` and ``publish``.

Every temporary of ours carries the writing process's id in its name
(``.{name}.{pid}.{random}.tmp``, staged outputs ``.{stem}.{pid}.{random}.tmp{suffix}``), so
``remove_stale_temporaries`` can delete those a killed process (SIGKILL, power loss) left
behind without ever touching the files of a process that is still writing.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from cea_edge.errors import DISK_FULL, CeaError

# .{base}.{pid}.{8 hex}.tmp{suffix}: what _temporary_name makes (suffix: a staged output keeps its own,
# a staged sibling graph adds its own: .x.PID.TOKEN.tmp.context.onnx).
TEMPORARY_NAME = re.compile(r"^\.(?P<base>.+)\.(?P<pid>[0-9]+)\.(?P<token>[0-9a-f]{8})\.tmp(?P<suffix>(?:\.[^.]+)*)$")
_CLEANED: set[Path] = set()  # folders already swept by this process (atomic_write runs once per file)


def _default_mode() -> int:
    # Exclusive creation makes files 0600 here; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temporary_name(base: str, suffix: str = "") -> str:
    return f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}"


def write_failure(path: str | Path, error: OSError) -> str:
    """The one-line message for an OSError while writing ``path`` (nothing was left under its name)."""
    advice = "free some space and run again" if error.errno in DISK_FULL else "nothing was written there"
    return f"cannot write '{path}': {error.strerror or error}; {advice}"


def _special_kind(path: Path) -> str | None:
    """What ``path`` is when it is a link, device, FIFO or socket (never written through or over), else None."""
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def refuse_special(path: str | Path, flag: str | None = None) -> None:
    """CeaError when the output name ``path`` is a link, device, FIFO or socket: an output is never
    written through a link (it would land elsewhere, or the link be replaced) nor over a special file
    (``--json /dev/null`` as root would replace the system's)."""
    kind = _special_kind(Path(path))
    if kind is not None:
        named = f"{flag} '{path}'" if flag else f"output '{path}'"
        raise CeaError(f"{named} is {kind}; outputs are never written through a link or over a device, FIFO or "
                       f"socket: {f'pass {flag} with' if flag else 'choose'} another name")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts: we may not signal it, it is alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def remove_stale_temporaries(folder: str | Path, *, alive: Callable[[int], bool] = process_alive) -> list[Path]:
    """Delete the temporaries of ours in ``folder`` whose writing process is gone; return them.

    Only names of our pattern are considered, and one whose pid is alive (this process, or
    another one writing there now) is never touched. Errors are ignored: this is tidying.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = TEMPORARY_NAME.match(name)
        if match is None or alive(int(match["pid"])):
            continue
        path = Path(folder) / name
        try:
            remove_staged(path)
        except OSError:
            continue
        removed.append(path)
    return removed


def _sweep_once(folder: Path) -> None:
    key = folder.resolve()
    if key not in _CLEANED:
        _CLEANED.add(key)
        remove_stale_temporaries(folder)


def _create_temporary(folder: Path, base: str, path: Path) -> tuple[int, Path]:
    for _ in range(16):
        temporary = folder / _temporary_name(base)
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), temporary
        except FileExistsError:
            continue
        except OSError as error:
            raise CeaError(f"cannot write '{path}': {error.strerror}") from None
    raise CeaError(f"cannot write '{path}': no free temporary name in '{folder}'")


def _publish_exclusive(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` only if nothing has it: two writers cannot both win."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise CeaError(f"'{path}' exists; pass --overwrite to replace it") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # No hard links here (FAT, some network shares): claim the name exclusively, then rename over it.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _default_mode()))
        except FileExistsError:
            raise CeaError(f"'{path}' exists; pass --overwrite to replace it") from None
        try:
            os.replace(temporary, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    else:
        temporary.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], *, replace: bool = True) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, then give it the name ``path``.

    replace False: ``path`` is created exclusively -- if it exists (also when another process
    made it while we were writing) raise CeaError and leave it as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CeaError(f"cannot write '{path}': folder '{folder}' does not exist")
    refuse_special(path)
    if not replace and os.path.lexists(path):  # fail before the work; the link below is the real check
        raise CeaError(f"'{path}' exists; pass --overwrite to replace it")
    _sweep_once(folder)
    handle, temporary = _create_temporary(folder, path.name, path)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.chmod(temporary, _default_mode())
        if replace:
            refuse_special(path)  # again: a link made while we wrote is not replaced either
            os.replace(temporary, path)
        else:
            _publish_exclusive(temporary, path)
    except OSError as error:  # a full disk or quota on write, flush or rename: one line, nothing left
        temporary.unlink(missing_ok=True)
        raise CeaError(write_failure(path, error)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, data: Any, *, replace: bool = True) -> Path:
    """``data`` as indented JSON (non-JSON values as their str), written atomically."""
    text = json.dumps(data, indent=2, default=str) + "\n"
    return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")), replace=replace)


def _probe_writable(folder: Path) -> None:
    """Prove ``folder`` writable by creating a file in it (root ignores mode bits, so they prove nothing).

    On Linux the file is unnamed (O_TMPFILE): nothing ever appears in the user's folder, even when
    SIGTERM lands mid-probe (a named probe was once left behind that way). Where the filesystem
    has no unnamed files, a named probe, removed at once.
    """
    unnamed = getattr(os, "O_TMPFILE", None)
    if unnamed is not None:
        try:
            os.close(os.open(folder, unnamed | os.O_WRONLY, 0o600))
            return
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL):
                raise
    handle, probe = _create_temporary(folder, "write-check", folder)
    try:
        os.close(handle)
    finally:
        probe.unlink(missing_ok=True)


def _check_writable(folder: Path, what: str, flag: str) -> None:
    try:
        _probe_writable(folder)
    except (OSError, CeaError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise CeaError(f"{what} '{folder}' is not writable ({reason}); pass {flag} with a folder you can write to") from None


def check_output_dir(folder: str | Path, flag: str = "--out") -> Path:
    """Fail now, before any work, unless ``folder`` is (or can be created as) a writable folder.

    Creates nothing: a missing folder is judged by its nearest existing parent, which must be
    a folder we can write to (proven by a probe file: root ignores mode bits). ``flag`` is the
    option that named the folder, for the message.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():  # a dangling link: mkdir would fail on it
            raise CeaError(f"output folder '{folder}': '{existing}' is a broken link; pass {flag} with a folder")
        existing = existing.parent
    if not existing.is_dir():
        if existing == folder:
            raise CeaError(f"output folder '{folder}' is a file; pass {flag} with a folder")
        raise CeaError(f"output folder '{folder}' is not writable: '{existing}' is a file; pass {flag} with a folder")
    _check_writable(existing, "output folder" if existing == folder else f"output folder '{folder}': parent", flag)
    return folder


def prepare_output_dir(folder: str | Path, flag: str = "--out") -> Path:
    """Create the output folder if needed, prove it writable and remove the temporaries dead
    processes left there; ``flag`` is the option that named it, for the messages."""
    folder = check_output_dir(folder, flag)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CeaError(f"cannot create output folder '{folder}' ({error.strerror or error}); "
                       f"pass {flag} with a folder you can write to") from None
    _check_writable(folder, "output folder", flag)
    remove_stale_temporaries(folder)
    return folder


def file_identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """A path's resolved spelling and, when it exists, its (device, inode): one of the two is
    equal for one file reached through symlinks, hard links or different spellings. Never
    raises (os.path.realpath leaves a symlink loop unresolved; the open reports it)."""
    try:
        info = path.stat()
        inode = (info.st_dev, info.st_ino)
    except OSError:
        inode = None
    return os.path.normcase(os.path.realpath(path)), inode


class InputGuard:
    """The files a run reads; an output that is one of them is refused whatever the flags
    (``--overwrite`` replaces outputs, never inputs)."""

    def __init__(self, inputs: Iterable[Path]) -> None:
        self._kept: dict[object, Path] = {}
        for path in inputs:
            spelled, inode = file_identity(Path(path))
            self._kept[spelled] = Path(path)
            if inode is not None:
                self._kept[inode] = Path(path)

    def input_at(self, output: Path) -> Path | None:
        """The input that ``output`` would replace, or None."""
        spelled, inode = file_identity(Path(output))
        return self._kept.get(spelled) or (self._kept.get(inode) if inode is not None else None)


def check_output_file(path: str | Path, flag: str, *, create_folder: bool = False,
                      inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Fail before any work unless ``path`` can be written later: not a folder, a link, a device,
    FIFO or socket, not one of the run's ``inputs``, not an existing file unless ``overwrite``,
    and its folder exists (or, create_folder, can be made later) and is writable. Creates nothing."""
    path = Path(path)
    original = InputGuard(inputs).input_at(path)
    if original is not None:
        raise CeaError(f"{flag} '{path}' is the input '{original}' itself; an output never replaces an input: "
                       f"pass {flag} with another name")
    refuse_special(path, flag)
    if path.is_file() and not overwrite:
        raise CeaError(f"{flag} '{path}' exists; pass --overwrite to replace it")
    if path.is_dir():
        raise CeaError(f"{flag} '{path}' is a folder; pass {flag} with a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if create_folder:
        check_output_dir(folder, flag)
    elif not folder.is_dir():
        what = "is a file;" if folder.exists() else "does not exist; create it or"
        raise CeaError(f"{flag} '{path}': folder '{folder}' {what} pass {flag} elsewhere")
    else:
        _check_writable(folder, "folder", flag)
    return path


def check_run_outputs(folder: Path, names: Iterable[str], flag: str, *, inputs: dict[str, Path | None],
                      overwrite: bool, continued: str | None = None) -> None:
    """Fail before any work unless a run may write ``names`` into ``folder``: none of them a link,
    device, FIFO or socket, none one of the run's ``inputs`` ({flag: path}), none an existing file
    unless ``overwrite``. ``continued``: the input flag (--resume) that may name this folder's own
    last.pt, a run continued in place -- its earlier outputs there are its own, not another's."""
    guard = InputGuard([path for path in inputs.values() if path is not None])
    flags = {file_identity(Path(path)): input_flag for input_flag, path in inputs.items() if path is not None}

    def input_flag_at(target: Path) -> tuple[Path | None, str | None]:
        kept = guard.input_at(target)
        return kept, (flags.get(file_identity(kept)) if kept is not None else None)

    in_place = continued is not None and input_flag_at(folder / "last.pt")[1] == continued
    for name in names:
        target = folder / name
        refuse_special(target, flag)
        if target.is_dir():
            raise CeaError(f"{flag} '{folder}': '{target}' is a folder, where the run writes a file; "
                           f"remove it or pass {flag} with another folder")
        kept, input_flag = input_flag_at(target)
        if kept is not None and not (in_place and name == "last.pt"):
            raise CeaError(f"{flag} '{folder}': the run writes '{target}', which is its input {input_flag} '{kept}'; "
                           f"an output never replaces an input: pass {flag} with another folder")
        if target.exists() and not in_place and not overwrite:
            raise CeaError(f"{flag} '{folder}' holds '{name}' of an earlier run; pass --overwrite to replace it, "
                           f"or {flag} with another folder")


def check_own_folder(folder: Path, flag: str, *, overwrite: bool, marker: str, listed: Callable[[Path], Iterable[str]],
                     command: str, inputs: Iterable[Path] = ()) -> None:
    """Fail before any work unless ``command`` may write the folder ``folder`` whole: it is new, or
    ``overwrite`` was given and it is the command's own -- it holds ``marker``, and nothing but the
    files ``listed(marker path)`` names (--overwrite never deletes a file the command did not write).
    Never a link, never a folder holding one of the run's ``inputs``."""
    folder = Path(folder)
    refuse_special(folder, flag)
    if not os.path.lexists(folder):
        return
    if not folder.is_dir():
        raise CeaError(f"{flag} '{folder}' is a file; pass {flag} with a folder")
    guard = InputGuard(inputs)
    for root, folders, files in os.walk(folder):
        for name in files + folders:
            kept = guard.input_at(Path(root) / name)
            if kept is not None:
                raise CeaError(f"{flag} '{folder}' holds the input '{kept}'; an output never replaces an input: "
                               f"pass {flag} with another folder")
    if not overwrite:
        raise CeaError(f"{flag} '{folder}' exists; pass --overwrite to replace it")
    try:
        own = set(listed(folder / marker)) | {marker}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, CeaError):
        raise CeaError(f"{flag} '{folder}' was not written by {command} (no readable {marker}); --overwrite replaces "
                       f"only a folder {command} wrote: remove it yourself or pass {flag} with another folder") from None
    unknown = sorted(set(os.listdir(folder)) - own)
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise CeaError(f"{flag} '{folder}' holds files {command} did not write ({shown}); --overwrite never deletes "
                       f"them: move them out or pass {flag} with another folder")


def remove_staged(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def staging_path(destination: Path) -> Path:
    """A hidden temporary name beside ``destination`` with the same suffix (tools check it)."""
    destination = Path(destination)
    return destination.with_name(_temporary_name(destination.stem, destination.suffix))


def publish(staged: Path, destination: Path, replace: bool = True) -> None:
    """Rename a staged file or directory over ``destination`` (os.replace cannot replace a
    non-empty directory, so an old .mlpackage is moved aside first and deleted after).
    replace False: only if nothing has the name (CeaError otherwise)."""
    refuse_special(destination)
    if not replace:
        if staged.is_dir():
            # A folder has no exclusive rename; rename would silently take an empty folder's place.
            if os.path.lexists(destination):
                raise CeaError(f"'{destination}' exists; pass --overwrite to replace it")
            os.rename(staged, destination)
        else:
            _publish_exclusive(staged, destination)
        return
    if destination.is_dir():
        retired = staging_path(destination)
        os.replace(destination, retired)
        os.replace(staged, destination)
        remove_staged(retired)
    else:
        os.replace(staged, destination)


@contextmanager
def staged_outputs(*destinations: Path, replace: bool = True) -> Iterator[list[Path]]:
    """Yield temporary paths for ``destinations``; on success rename them into place in
    order (artifact first, manifest last), on any error or interrupt delete them all.
    replace False: each final name is taken only if nothing has it."""
    staged = [staging_path(Path(d)) for d in destinations]
    try:
        yield staged
        for temporary, destination in zip(staged, destinations):
            publish(temporary, Path(destination), replace)
    finally:
        for temporary in staged:
            if temporary.exists():
                remove_staged(temporary)
