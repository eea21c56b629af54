"""Atomic writes: all or nothing, with ordinary permissions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pytest

from cea_edge.atomic import (
    TEMPORARY_NAME,
    InputGuard,
    atomic_write,
    atomic_write_json,
    check_output_dir,
    check_output_file,
    prepare_output_dir,
    process_alive,
    remove_stale_temporaries,
    staging_path,
)
from cea_edge.contract import CONTEXT_GRAPH, sibling_path
from cea_edge.errors import EXIT_TERMINATED, CeaError, run_cli
from cea_edge.photo_io import check_output


def test_success_renames_with_umask_permissions(tmp_path):
    target = atomic_write(tmp_path / "a.bin", lambda stream: stream.write(b"data"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["a.bin"]


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def explode(stream):
        stream.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(CeaError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "a.bin", lambda stream: None)


# --- exclusive creation, temporaries named by pid, stale ones swept -------------------------


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_exclusive_write_refuses_an_existing_file_and_names_the_flag(tmp_path):
    target = atomic_write(tmp_path / "a.bin", lambda stream: stream.write(b"first"), replace=False)
    with pytest.raises(CeaError, match="exists; pass --overwrite"):
        atomic_write(target, lambda stream: stream.write(b"second"), replace=False)
    assert target.read_bytes() == b"first" and os.listdir(tmp_path) == ["a.bin"]


def test_exclusive_write_loses_a_race_cleanly(tmp_path):
    """Another process creates the name while we write: it keeps it, we fail and leave nothing."""
    target = tmp_path / "a.json"

    def slow_write(stream):
        target.write_text("theirs")  # the other writer finishes first
        stream.write(b"ours")

    with pytest.raises(CeaError, match="exists"):
        atomic_write(target, slow_write, replace=False)
    assert target.read_text() == "theirs" and os.listdir(tmp_path) == ["a.json"]


def test_replace_is_still_the_default(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    atomic_write_json(target, {"x": 1})
    assert json.loads(target.read_text()) == {"x": 1}


def test_temporaries_carry_the_writers_pid(tmp_path):
    seen = []
    atomic_write(tmp_path / "a.bin", lambda stream: seen.extend(os.listdir(tmp_path)))
    (temporary,) = seen
    match = TEMPORARY_NAME.match(temporary)
    assert match and match["base"] == "a.bin" and int(match["pid"]) == os.getpid()
    staged = staging_path(tmp_path / "edge-fp32-256.onnx")
    match = TEMPORARY_NAME.match(staged.name)
    assert staged.suffix == ".onnx" and match and int(match["pid"]) == os.getpid()
    sibling = sibling_path(staged, CONTEXT_GRAPH)  # what a half-built export leaves
    assert int(TEMPORARY_NAME.match(sibling.name)["pid"]) == os.getpid()


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead, live = dead_pid(), os.getpid()
    stale_file = tmp_path / f".a.bin.{dead}.0123abcd.tmp"
    stale_staged = tmp_path / f".edge-fp32-256.{dead}.0123abcd.tmp.onnx"
    stale_package = tmp_path / f".edge-fp16-256.{dead}.89abcdef.tmp.mlpackage"
    stale_package.mkdir()
    (stale_package / "Manifest.json").write_text("{}")
    keep = [f".a.bin.{live}.0123abcd.tmp", f".edge-fp32-256.{live}.0123abcd.tmp.onnx",  # this process: writing now
            ".a.bin.0123abcd.tmp", ".notes.tmp", f"a.bin.{dead}.0123abcd.tmp",  # not our pattern
            "edge-fp32-256.onnx"]
    for name in keep + [stale_file.name, stale_staged.name]:
        (tmp_path / name).write_bytes(b"x")
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_staged, stale_package])
    assert sorted(os.listdir(tmp_path)) == sorted(keep)


def test_another_users_live_process_counts_as_alive():
    assert process_alive(os.getpid()) and not process_alive(dead_pid())
    assert process_alive(1)  # init: signalling it is not permitted (or is), but it is alive either way


def test_writing_and_preparing_a_folder_sweep_it(tmp_path):
    for folder, act in ((tmp_path / "w", lambda f: atomic_write(f / "x", lambda s: None)),
                        (tmp_path / "p", lambda f: prepare_output_dir(f, "--out"))):
        folder.mkdir()
        stale = folder / f".x.{dead_pid()}.0123abcd.tmp"
        stale.write_bytes(b"half")
        act(folder)
        assert not stale.exists()


# --- output locations checked before the work --------------------------------------------------


def test_output_folder_problems_name_the_callers_flag(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CeaError, match="is a file; pass --run-dir with a folder"):
        prepare_output_dir(blocker, "--run-dir")
    with pytest.raises(CeaError, match="not writable: .* is a file; pass --out"):
        check_output_dir(blocker / "sub" / "deeper", "--out")
    assert blocker.read_text() == "x"


def test_checking_an_output_folder_creates_nothing(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert os.listdir(tmp_path) == []


NOBODY = 65534


def _unprivileged(check: Callable[[], object]) -> str:
    """Run ``check`` in a forked child without root (root ignores permission bits, and CI may run
    as root); return its CeaError message, or '' when it passed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only os._exit, never pytest's teardown
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            check()
            message = "passed"
        except CeaError as error:
            message = f"CeaError: {error}"
        except BaseException as error:  # noqa: BLE001 -- reported to the parent, which fails
            message = f"unexpected {error!r}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        message = stream.read().decode()
    os.waitpid(pid, 0)
    return message


@pytest.fixture
def read_only_folder():
    """A folder the test process (root or not, once unprivileged) may read but not write."""
    top = Path(tempfile.mkdtemp(prefix="cea-ro-"))
    top.chmod(0o755)
    folder = top / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(top)


def test_read_only_folder_is_refused_before_any_work(read_only_folder):
    outcomes = [_unprivileged(lambda: check_output_file(read_only_folder / "r.json", "--json")),
                _unprivileged(lambda: check_output_dir(read_only_folder / "run", "--out")),
                _unprivileged(lambda: check_output(read_only_folder / "photo.png"))]
    assert outcomes[0].startswith("CeaError: folder") and "not writable" in outcomes[0] and "pass --json" in outcomes[0]
    assert "output folder" in outcomes[1] and "not writable" in outcomes[1] and "pass --out" in outcomes[1]
    assert "not writable" in outcomes[2] and "pass -o" in outcomes[2]
    assert sorted(os.listdir(read_only_folder)) == []
    # the same checks pass on a folder the child may write: the refusal is about permissions
    read_only_folder.chmod(0o777)
    assert _unprivileged(lambda: check_output_file(read_only_folder / "r.json", "--json")) == "passed"
    assert os.listdir(read_only_folder) == []


def test_output_file_checks(tmp_path):
    with pytest.raises(CeaError, match="--json .* is a folder"):
        check_output_file(tmp_path, "--json")
    with pytest.raises(CeaError, match="folder .* does not exist"):
        check_output_file(tmp_path / "nope" / "r.json", "--json")
    assert check_output_file(tmp_path / "nope" / "r.json", "--json", create_folder=True)
    assert os.listdir(tmp_path) == []


def test_an_output_is_never_one_of_the_inputs_however_it_is_spelled(tmp_path):
    source = tmp_path / "in.pt"
    source.write_bytes(b"weights")
    (tmp_path / "link.pt").symlink_to(source)
    os.link(source, tmp_path / "hard.pt")
    (tmp_path / "sub").mkdir()
    for spelling in (source, tmp_path / "link.pt", tmp_path / "hard.pt", tmp_path / "sub" / ".." / "in.pt"):
        with pytest.raises(CeaError, match=f"--json '{spelling}' is the input '{source}'"):
            check_output_file(spelling, "--json", inputs=[source])
    assert check_output_file(tmp_path / "other.json", "--json", inputs=[source])
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)  # resolving it must not raise: the write reports the loop
    assert InputGuard([source]).input_at(loop) is None


# --- SIGTERM is unwound like Ctrl-C --------------------------------------------------------------


def test_sigterm_unwinds_cleanups_and_exits_143(tmp_path, capsys):
    previous = signal.getsignal(signal.SIGTERM)
    target = tmp_path / "a.bin"

    after_signal = []

    def main(argv):
        def write(stream):
            stream.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
            after_signal.append("slept")

        atomic_write(target, write)

    assert run_cli(main, []) == EXIT_TERMINATED == 143
    assert after_signal == [], "the handler must unwind the write, not let it finish"
    assert capsys.readouterr().err == "terminated\n"
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is previous  # restored


def test_ctrl_c_still_exits_130(capsys):
    def main(argv):
        raise KeyboardInterrupt

    assert run_cli(main, []) == 130 and capsys.readouterr().err == "interrupted\n"


def test_the_writability_probe_never_names_a_file_in_the_users_folder(tmp_path, monkeypatch):
    """check_output_dir proves a folder writable with an unnamed file (Linux O_TMPFILE): a SIGTERM
    mid-probe once left a named probe behind (a flaky export test found it). Where unnamed files
    do not exist, a named probe is made and removed."""
    import cea_edge.atomic as atomic

    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, *rest: opened.append((str(path), flags)) or
                        real_open(path, flags, *rest))
    atomic.check_output_dir(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    if hasattr(os, "O_TMPFILE"):
        assert opened and all(path == str(tmp_path) and flags & os.O_TMPFILE == os.O_TMPFILE for path, flags in opened), \
            "a named file was created in the user's folder"
    # The fallback: a named probe, removed again.
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    opened.clear()
    atomic.check_output_dir(tmp_path / "out")
    assert list(tmp_path.iterdir()) == [] and any(".write-check." in path for path, _ in opened)
