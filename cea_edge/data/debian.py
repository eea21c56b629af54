"""Fetching and unpacking Debian packages with the system's own tools (apt-get, dpkg-deb).

Packages of another suite (sid, trixie) come through a private sources.list in a temporary folder,
with the mirror read from apt's own configuration, so the system's apt setup is never changed and no
registry host is written anywhere in this project.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cea_edge.errors import CeaError

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class FetchError(Exception):
    """One package could not be had; the corpus goes on without it."""


def _run(command: list[str], cwd: Path | None = None, timeout: float = 1800) -> str:
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise CeaError(f"'{command[0]}' not found: gathering photos needs a Debian system with apt-get and dpkg-deb; "
                       "or pass --photos with a folder of your own photos to training") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"{command[0]} gave no answer in {timeout:.0f} s") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.startswith(("E:", "dpkg"))]
        raise FetchError((lines or (result.stderr or result.stdout).strip().splitlines() or ["failed"])[-1].strip())
    return result.stdout


def mirror_uri() -> str:
    """The Debian mirror the system's apt already uses (its first non-security repository)."""
    uris = _run(["apt-get", "indextargets", "--format", "$(REPO_URI)"]).split()
    uris = [uri for uri in uris if "security" not in uri] or uris
    if not uris:
        raise FetchError("apt knows no repository (run apt-get update first)")
    return uris[0]


def _private_apt_options(folder: Path, suite: str) -> list[str]:
    """apt options for a throw-away setup in ``folder`` that reads only ``suite`` of the system's mirror."""
    (folder / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (folder / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={KEYRING}] " if os.path.exists(KEYRING) else ""
    (folder / "sources.list").write_text(f"deb {signed}{mirror_uri()} {suite} main\n")
    return ["-o", f"Dir::Etc::SourceList={folder / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={folder / 'lists'}", "-o", f"Dir::Cache={folder / 'cache'}",
            "-o", "Dir::State::status=/dev/null"]


class AptFetcher:
    """``apt-get download`` into a cache folder; ``apt-get update`` at most once, only when needed."""

    def __init__(self) -> None:
        self._updated = False

    def __call__(self, package: str, suite: str, cache: Path) -> Path:
        cached = cached_deb(package, cache)
        if cached is not None:
            return cached
        with tempfile.TemporaryDirectory(prefix=f".{package}.{os.getpid()}.", dir=cache) as staging:
            staging_path = Path(staging)
            if suite:
                with tempfile.TemporaryDirectory(prefix="cea-apt-") as private:
                    options = _private_apt_options(Path(private), suite)
                    _run(["apt-get", *options, "update"])
                    _run(["apt-get", *options, "download", package], cwd=staging_path)
            else:
                try:
                    _run(["apt-get", "download", package], cwd=staging_path)
                except FetchError:
                    if self._updated:
                        raise
                    self._updated = True  # the package lists may be missing or stale: refresh once, retry
                    _run(["apt-get", "update"])
                    _run(["apt-get", "download", package], cwd=staging_path)
            debs = sorted(staging_path.glob(f"{package}_*.deb"))
            if not debs:
                raise FetchError("apt-get download wrote no .deb")
            final = cache / debs[0].name
            os.replace(debs[0], final)
        return final


def cached_deb(package: str, cache: Path) -> Path | None:
    debs = sorted(cache.glob(f"{package}_*.deb"))
    return debs[-1] if debs else None


def deb_version(deb: Path) -> str:
    return _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()


def extract_deb(deb: Path, cache: Path) -> Path:
    """``dpkg-deb -x`` into ``cache/<deb name without .deb>/`` (reused when there), atomically."""
    target = cache / deb.name.removesuffix(".deb")
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", dir=cache))
    try:
        _run(["dpkg-deb", "-x", str(deb), str(staging)])
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
