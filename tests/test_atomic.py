"""Atomic writes: all or nothing, with ordinary permissions."""

from __future__ import annotations

import os

import pytest

from cea_edge.atomic import atomic_write
from cea_edge.errors import CeaError


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
