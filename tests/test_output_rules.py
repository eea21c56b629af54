"""No file is lost: the output rules of cea_edge/atomic.py, for every CLI and kind of output.

- never written through a link nor over a device, FIFO or socket (one error line, the thing untouched);
- created exclusively without --overwrite (--json/--markdown of evaluate, profile, parity check;
  train/quantize run folders);
- --overwrite on a folder replaces only a folder the command wrote (parity reference: its record.json
  and the files it lists), never unknown files;
- never an input of the same run (train/quantize --out holding their own checkpoint);
- a full disk (ENOSPC/EDQUOT) is one error line, and nothing half-written is left.

Every case fails before any model is loaded or step trained, so these run in seconds.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat

import pytest

from cea_edge import atomic
from cea_edge.atomic import (
    atomic_write,
    atomic_write_json,
    check_output_file,
    check_own_folder,
    check_run_outputs,
    refuse_special,
)
from cea_edge.errors import CeaError, run_cli

# ---------------------------------------------------------------- special files, made in tmp_path


def make_link(path):
    target = path.with_name(path.name + ".target")
    target.write_bytes(b"the link's target")
    path.symlink_to(target)
    return target


def make_fifo(path):
    os.mkfifo(path)


def make_socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()


def make_device(path):
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root, or no CAP_MKNOD)")


SPECIALS = {"link": make_link, "fifo": make_fifo, "socket": make_socket, "device": make_device}


def snapshot(path):
    """What a path is now (lstat kind, link target, bytes of a regular file), to prove it untouched."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return "link", os.readlink(path)
    if stat.S_ISREG(info.st_mode):
        return "file", path.read_bytes()
    return stat.S_IFMT(info.st_mode), info.st_ino


@pytest.mark.parametrize("kind", SPECIALS)
@pytest.mark.parametrize("replace", [True, False])
def test_atomic_write_never_writes_through_a_link_or_over_a_special_file(tmp_path, kind, replace):
    path = tmp_path / "out.json"
    target = SPECIALS[kind](path)
    before = snapshot(path)
    with pytest.raises(CeaError, match=f"is a {'symbolic link' if kind == 'link' else kind.upper() if kind == 'fifo' else kind}"):
        atomic_write_json(path, {"a": 1}, replace=replace)
    assert snapshot(path) == before
    if target is not None:
        assert target.read_bytes() == b"the link's target"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("kind", SPECIALS)
def test_publish_never_replaces_a_link(tmp_path, kind):
    destination = tmp_path / "model.onnx"
    SPECIALS[kind](destination)
    before = snapshot(destination)
    staged = atomic.staging_path(destination)
    staged.write_bytes(b"new")
    with pytest.raises(CeaError, match="never written through a link"):
        atomic.publish(staged, destination)
    assert snapshot(destination) == before


def test_check_output_file_refuses_an_existing_file_without_overwrite(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("kept")
    with pytest.raises(CeaError, match=r"--json '.*r.json' exists; pass --overwrite"):
        check_output_file(path, "--json")
    assert check_output_file(path, "--json", overwrite=True) == path
    with pytest.raises(CeaError, match="is a symbolic link"):
        (tmp_path / "l.json").symlink_to(path)
        check_output_file(tmp_path / "l.json", "--json", overwrite=True)
    assert path.read_text() == "kept"


# ---------------------------------------------------------------- --json / --markdown of every CLI


def evaluate_argv(tmp_path, flag, path):
    from cea_edge.evaluate import main

    return main, ["--suite", "aio-synth-mini", "--checkpoint", str(tmp_path / "model.pt"), flag, str(path)]


def profile_argv(tmp_path, flag, path):
    from cea_edge.profile.__main__ import main

    return main, [str(tmp_path / "model.pt"), "--threads", "1", flag, str(path)]


def parity_argv(tmp_path, flag, path):
    from cea_edge.parity.__main__ import main

    return main, ["check", str(tmp_path / "model.pt"), flag, str(path)]


REPORT_CLIS = {"evaluate": (evaluate_argv, ["--json"]), "profile": (profile_argv, ["--json", "--markdown"]),
               "parity-check": (parity_argv, ["--json", "--markdown"])}
REPORT_CASES = [(cli, flag) for cli, (_, flags) in REPORT_CLIS.items() for flag in flags]


def run_refused(main, argv, capsys, must_say):
    code = run_cli(main, argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert must_say in err, err
    return err


@pytest.fixture
def model_file(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"not loaded: the output is refused first")
    return tmp_path / "model.pt"


@pytest.mark.parametrize("cli, flag", REPORT_CASES)
def test_report_outputs_are_created_exclusively(tmp_path, capsys, model_file, cli, flag):
    path = tmp_path / "earlier.out"
    path.write_text("an earlier result")
    make_argv = REPORT_CLIS[cli][0]
    main, argv = make_argv(tmp_path, flag, path)
    run_refused(main, argv, capsys, "exists; pass --overwrite")
    assert path.read_text() == "an earlier result"


@pytest.mark.parametrize("kind", SPECIALS)
@pytest.mark.parametrize("cli, flag", REPORT_CASES)
def test_report_outputs_never_links_or_special_files(tmp_path, capsys, model_file, cli, flag, kind):
    path = tmp_path / "out.json"
    SPECIALS[kind](path)
    before = snapshot(path)
    main, argv = REPORT_CLIS[cli][0](tmp_path, flag, path)
    run_refused(main, [*argv, "--overwrite"], capsys, "outputs are never written through a link")
    assert snapshot(path) == before


def test_parity_check_never_writes_over_its_reference(tmp_path, capsys, model_file):
    from cea_edge.parity.__main__ import main

    reference = tmp_path / "ref"
    reference.mkdir()
    (reference / "record.json").write_text("{}")
    run_refused(main, ["check", str(model_file), "--reference", str(reference), "--json",
                       str(reference / "record.json"), "--overwrite"], capsys, "an output never replaces an input")
    assert (reference / "record.json").read_text() == "{}"


# ---------------------------------------------------------------- train / quantize run folders


def train_argv(out, *extra):
    from cea_edge.train.__main__ import main

    return main, ["--preset", "tiny", "--steps", "1", "--batch", "1", "--patch", "16", "--no-progress",
                  "--out", str(out), *extra]


def quantize_argv(out, *extra):
    from cea_edge.quantize.__main__ import main

    return main, ["--ptq", "--no-progress", "--no-eval", "--out", str(out), *extra]


RUN_INPUT_CASES = {
    "train --init OUT/final.pt": (train_argv, "--init", "final.pt"),
    "train --init OUT/last.pt": (train_argv, "--init", "last.pt"),
    "train --resume OUT/final.pt": (train_argv, "--resume", "final.pt"),
    "quantize --checkpoint OUT/final.pt": (quantize_argv, "--checkpoint", "final.pt"),
    "quantize --checkpoint OUT/last.pt": (quantize_argv, "--checkpoint", "last.pt"),
}


@pytest.mark.parametrize("case", RUN_INPUT_CASES)
@pytest.mark.parametrize("overwrite", [False, True])
def test_run_out_never_replaces_its_own_input(tmp_path, capsys, case, overwrite):
    make_argv, flag, name = RUN_INPUT_CASES[case]
    out = tmp_path / "run"
    out.mkdir()
    checkpoint = out / name
    checkpoint.write_bytes(b"the input checkpoint")
    main, argv = make_argv(out, flag, str(checkpoint), *(["--overwrite"] if overwrite else []))
    run_refused(main, argv, capsys, f"which is its input {flag}")
    assert checkpoint.read_bytes() == b"the input checkpoint"


@pytest.mark.parametrize("make_argv", [train_argv, quantize_argv], ids=["train", "quantize"])
@pytest.mark.parametrize("name", ["last.pt", "final.pt", "quality.json"])
def test_run_out_of_an_earlier_run_needs_overwrite(tmp_path, capsys, make_argv, name):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_bytes(b"an earlier run's")
    run_refused(*make_argv(out), capsys, f"holds '{name}' of an earlier run; pass --overwrite")
    assert (out / name).read_bytes() == b"an earlier run's"


@pytest.mark.parametrize("make_argv", [train_argv, quantize_argv], ids=["train", "quantize"])
@pytest.mark.parametrize("kind", SPECIALS)
def test_run_outputs_never_links_or_special_files(tmp_path, capsys, make_argv, kind):
    out = tmp_path / "run"
    out.mkdir()
    SPECIALS[kind](out / "final.pt")
    before = snapshot(out / "final.pt")
    run_refused(*make_argv(out, "--overwrite"), capsys, "outputs are never written through a link")
    assert snapshot(out / "final.pt") == before


def test_resume_in_place_continues_its_own_run(tmp_path):
    """--resume OUT/last.pt --out OUT is how a run continues: its own last.pt and final.pt are its own."""
    out = tmp_path / "run"
    out.mkdir()
    for name in ("last.pt", "final.pt"):
        (out / name).write_bytes(b"x")
    check_run_outputs(out, ("last.pt", "final.pt"), "--out", inputs={"--resume": out / "last.pt"}, overwrite=False,
                      continued="--resume")
    elsewhere = tmp_path / "other"  # resuming someone's last.pt into a folder of another run: not its own
    elsewhere.mkdir()
    (elsewhere / "final.pt").write_bytes(b"y")
    with pytest.raises(CeaError, match="of an earlier run"):
        check_run_outputs(elsewhere, ("last.pt", "final.pt"), "--out", inputs={"--resume": out / "last.pt"},
                          overwrite=False, continued="--resume")


# ---------------------------------------------------------------- folders replaced whole: parity reference


def reference_argv(checkpoint, out, *extra):
    from cea_edge.parity.__main__ import main

    return main, ["reference", "--device", "cpu", "--checkpoint", str(checkpoint), "--out", str(out), *extra]


def listing(folder):
    return sorted((p.relative_to(folder).as_posix(), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_reference_overwrite_keeps_a_folder_it_did_not_write(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    checkpoint = folder / "edge.pt"
    checkpoint.write_bytes(b"the checkpoint it reads")
    (folder / "notes.txt").write_text("mine")
    before = listing(folder)
    run_refused(*reference_argv(checkpoint, folder, "--overwrite"), capsys, "holds the input")
    other = tmp_path / "model.pt"
    other.write_bytes(b"x")
    run_refused(*reference_argv(other, folder, "--overwrite"), capsys, "was not written by parity reference")
    assert listing(folder) == before


def test_reference_overwrite_keeps_unknown_files_beside_its_own(tmp_path, capsys):
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "record.json").write_text(json.dumps({
        "schema": __import__("cea_edge.parity.reference", fromlist=["SCHEMA"]).SCHEMA,
        "cases": [{"input": "a.input.png", "clean": "a.clean.png", "output": "a.output.png"}]}))
    for part in ("input", "clean", "output"):
        (folder / f"a.{part}.png").write_bytes(part.encode())
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"x")
    (folder / "notes.txt").write_text("mine")
    before = listing(folder)
    run_refused(*reference_argv(checkpoint, folder, "--overwrite"), capsys, "did not write (notes.txt)")
    assert listing(folder) == before
    (folder / "notes.txt").unlink()  # only its own files: this folder may be replaced
    from cea_edge.parity.reference import check_reference_out

    check_reference_out(folder, True, checkpoint)
    link = tmp_path / "link"
    link.symlink_to(folder)
    with pytest.raises(CeaError, match="is a symbolic link"):
        check_reference_out(link, True, checkpoint)


def test_own_folder_without_overwrite_is_refused(tmp_path):
    (tmp_path / "f").mkdir()
    with pytest.raises(CeaError, match="exists; pass --overwrite"):
        check_own_folder(tmp_path / "f", "--out", overwrite=False, marker="m.json", listed=lambda p: [], command="x")
    check_own_folder(tmp_path / "new", "--out", overwrite=False, marker="m.json", listed=lambda p: [], command="x")


# ---------------------------------------------------------------- a full disk


class FullDisk:
    """A stream that takes ``room`` bytes, then fails as a full disk (or quota) does."""

    def __init__(self, stream, code, room=10):
        self.stream, self.code, self.room = stream, code, room

    def write(self, data):
        if len(data) > self.room:
            raise OSError(self.code, os.strerror(self.code))
        self.room -= len(data)
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()


@pytest.fixture(params=[errno.ENOSPC, errno.EDQUOT])
def full_disk(request, monkeypatch):
    real = os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda *a, **k: FullDisk(real(*a, **k), request.param))
    return request.param


def test_atomic_write_on_a_full_disk_is_one_error_and_leaves_nothing(tmp_path, full_disk):
    (tmp_path / "kept.json").write_text("the earlier result")
    for name in ("new.json", "kept.json"):
        with pytest.raises(CeaError, match=f"cannot write '.*{name}': {os.strerror(full_disk)}"):
            atomic_write_json(tmp_path / name, {"values": list(range(100))})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]
    assert (tmp_path / "kept.json").read_text() == "the earlier result"


def test_checkpoint_save_on_a_full_disk(tmp_path, tiny_model, full_disk):
    from cea_edge.model.checkpoint import save_checkpoint

    with pytest.raises(CeaError, match="free some space"):
        save_checkpoint(tmp_path / "final.pt", tiny_model, {})
    assert list(tmp_path.iterdir()) == []


def test_a_rename_failing_on_a_full_disk(tmp_path, monkeypatch):
    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(CeaError, match="No space left"):
        atomic_write(tmp_path / "a.bin", lambda stream: stream.write(b"data"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_run_cli_turns_a_third_party_full_disk_into_one_line(tmp_path, capsys, code):
    def main(argv):  # an exporter's own writer (onnx.save) failing inside a staged output
        with atomic.staged_outputs(tmp_path / "m.onnx") as (staged,):
            staged.write_bytes(b"half")
            raise OSError(code, os.strerror(code), str(staged))

    assert run_cli(main, []) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "free some space" in err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_json_on_a_full_disk(tmp_path, capsys, tiny_checkpoint, full_disk, monkeypatch):
    from cea_edge import evaluate

    real = evaluate.build_suite
    monkeypatch.setattr(evaluate, "build_suite", lambda *args: real(*args)[:1])  # one crop is enough here
    out = tmp_path / "report.json"
    run_refused(evaluate.main, ["--checkpoint", str(tiny_checkpoint), "--suite", "aio-synth-mini", "--no-ssim",
                                "--json", str(out)], capsys, "free some space")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_refuse_special_names_the_flag(tmp_path):
    make_fifo(tmp_path / "p")
    with pytest.raises(CeaError, match=r"^--json '.*p' is a FIFO; .* pass --json with another name$"):
        refuse_special(tmp_path / "p", "--json")
