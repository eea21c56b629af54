"""The natural-photo corpus: gather photos from Debian packages, keep the real ones, prepare, split.

``build_corpus`` runs the steps in order: fetch each package of photo_sources.toml (``apt-get
download``, cached), unpack it (``dpkg-deb -x``), pick the files (and container members) its rules
keep, prepare each photo (photos.prepare), drop exact and near duplicates (64-bit DCT hash, Hamming
distance <= NEAR_DUPLICATE_BITS) and photos under 256 px, then write DIR/{train,heldout}/ID.png and
DIR/manifest.json. The held-out ids are those of the manifest committed beside this module.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from PIL import Image

from cea_edge.atomic import atomic_write, atomic_write_json, prepare_output_dir
from cea_edge.data import debian
from cea_edge.data.containers import ContainerError, read_eet, read_rcc
from cea_edge.data.photos import MANIFEST_NAME, MIN_SHORT_SIDE, decode_source, hamming, perceptual_hash, pixel_sha256, prepare
from cea_edge.errors import CeaError

SOURCES = Path(__file__).with_name("photo_sources.toml")
COMMITTED_MANIFEST = Path(__file__).with_name("photos_manifest.json")
NEAR_DUPLICATE_BITS = 6
HELDOUT_FRACTION = 0.15
GENERIC_PARTS = {"usr", "share", "lib", "python3", "dist-packages", "doc", "contents", "images", "resource", "src",
                 "activities", "gcompris", "backgrounds", "wallpapers", "data", "edje", "rcc", "demo", "templates"}
Fetcher = Callable[[str, str, Path], Path]  # (package, suite, cache) -> .deb path; raises debian.FetchError


@dataclass
class Candidate:
    package: str
    version: str
    path: str  # inside the package
    member: str | None  # inside the container, if any
    data: bytes
    tags: list[str]
    licence: dict[str, str]
    id: str = ""


@dataclass
class Report:
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def load_sources(path: Path = SOURCES) -> dict[str, dict]:
    with open(path, "rb") as stream:
        return tomllib.load(stream)["packages"]


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _matches_file(path: str, patterns: list[str]) -> bool:
    """Like a shell glob: "*" stays within one folder."""
    return any(path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def photo_id(package: str, path: str, member: str | None) -> str:
    """A stable, file-name-safe id: the package and the telling parts of the path (and member): not
    generic folder names, the package's own name, size folders ("2560x1600") or index names ("0")."""
    known = {_slug(package), _slug(package.split("-")[0])}

    def telling(value: str) -> list[str]:
        parts = [part.rsplit(".", 1)[0] if "." in part else part for part in value.split("/")]
        return [part for part in parts if part and part.lower() not in GENERIC_PARTS and _slug(part) not in known
                and not re.fullmatch(r"[0-9]+(x[0-9]+)?", part)]

    container = telling(path)[-1:]
    parts = telling(path)[-2:] if member is None else container + [p for p in telling(member) if p not in container][-2:]
    return _slug(f"{package}-{'-'.join(parts)}")


def _dep5_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Stanzas of a Debian copyright file (or GCompris README): field -> first line, Files -> all lines."""
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            match = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if match:
                key = match[1].lower()
                fields[key] = match[2].strip()
            elif key and line.strip() and (key == "files" or not fields[key]):  # continued, or given on the next line
                fields[key] = f"{fields[key]} {line.strip()}".strip()
        if "license" in fields:
            yield fields


def licence_for(path: str, text: str) -> dict[str, str] | None:
    """The licence (and credit, source) that a DEP-5 text gives ``path``: the last stanza that names its
    file (by file name: source-tree and installed paths differ), else the one for "*"; None without either.
    Other wildcards are not followed: a source-tree glob says nothing reliable about an installed path."""
    found = None
    for stanza in _dep5_stanzas(text):
        patterns = stanza.get("files", "*").split()
        for pattern in patterns:
            name = pattern.rsplit("/", 1)[-1]
            if (pattern == "*" and found is None) or (not any(c in name for c in "*?[")
                                                      and path.rsplit("/", 1)[-1] == name):
                found = {"licence": stanza["license"]}
                found.update({k: stanza[k] for k in ("copyright", "source") if stanza.get(k)})
                break
    return found


def package_licence(root: Path, package: str) -> str:
    copyright_file = root / "usr/share/doc" / package / "copyright"
    try:
        text = copyright_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "see the package's copyright file"
    for stanza in _dep5_stanzas(text):
        if stanza.get("files", "*").split()[0] == "*":
            return stanza["license"]
    first = next(_dep5_stanzas(text), None)
    return first["license"] if first else "see the package's copyright file"


def _largest_jpeg(entries: list) -> list:
    def pixels(entry) -> int:
        try:
            with Image.open(io.BytesIO(entry.data)) as image:
                return image.size[0] * image.size[1]
        except Exception:  # noqa: BLE001 -- not a picture Pillow knows: never the largest
            return 0

    jpegs = [entry for entry in entries if entry.data[:3] == b"\xff\xd8\xff"]
    return [max(jpegs, key=pixels)] if jpegs else []


def package_candidates(package: str, rules: dict, root: Path, version: str, report: Report) -> list[Candidate]:
    """The photos that ``rules`` keep in an unpacked package at ``root`` (containers opened)."""
    copyright_text = ""
    try:
        copyright_text = (root / "usr/share/doc" / package / "copyright").read_text(encoding="utf-8", errors="replace")
    except OSError:
        pass
    default_licence = {"licence": package_licence(root, package) or rules.get("licence", "")}
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    files = [path for path in files if _matches_file(path, rules["files"])]
    drop, tag_rules = rules.get("drop", []), rules.get("tags", {})
    found = []
    for path in files:
        data = (root / path).read_bytes()
        container = rules.get("container")
        if container:
            try:
                entries = read_rcc(data) if container == "rcc" else read_eet(data)
            except ContainerError as error:
                raise CeaError(f"{package}: '{path}' is a damaged {container} container ({error}); delete the "
                               "package's files from the cache folder and run again") from None
            readmes = {entry.path.rsplit("/", 1)[0]: entry.data.decode("utf-8", "replace") for entry in entries
                       if rules.get("readme") and entry.path.rsplit("/", 1)[-1] == rules["readme"]}
            entries = [entry for entry in entries if _matches(entry.path, rules.get("members", ["*"]))]
            if container == "eet":
                entries = _largest_jpeg(entries)
            members = [(entry.path, entry.data) for entry in entries]
        else:
            readmes, members = {}, [(None, data)]
        for member, payload in members:
            key = path if member is None else f"{path}!{member}"
            if _matches(key, drop):
                report.dropped["not a photo"] = report.dropped.get("not a photo", 0) + 1
                continue
            tags = sorted({tag for pattern, values in tag_rules.items() if fnmatch.fnmatchcase(key, pattern) for tag in values})
            folders = [member.rsplit("/", depth)[0] for depth in range(1, member.count("/") + 1)] if member else []
            readme = next((readmes[folder] for folder in folders if folder in readmes), None)  # nearest README above
            given = ((licence_for(member, readme) if readme else None), licence_for(path, copyright_text))
            licence = next((found for found in given if found and found["licence"]), default_licence)
            found.append(Candidate(package, version, path, member, payload, tags, licence, photo_id(package, path, member)))
    return found


def choose_heldout(entries: list[dict], fraction: float = HELDOUT_FRACTION, minimum: int = 40) -> set[str]:
    """A fixed, diverse held-out set: a pseudo-random (sha256 of the id) share of every package, with
    people and night photos over-represented; deterministic for the same kept photos."""
    order = sorted(entries, key=lambda entry: hashlib.sha256(entry["id"].encode()).hexdigest())
    target = max(min(minimum, len(order) // 4), round(fraction * len(order)))
    chosen: list[str] = []
    for tag, share in (("people", 0.3), ("night", 0.3)):
        tagged = [entry["id"] for entry in order if tag in entry["tags"] and entry["id"] not in chosen]
        chosen += tagged[:max(1, round(share * len(tagged)))] if tagged else []
    by_package: dict[str, list[str]] = {}
    for entry in order:
        if entry["id"] not in chosen:
            by_package.setdefault(entry["package"], []).append(entry["id"])
    while len(chosen) < target and any(by_package.values()):
        for package in sorted(by_package, key=lambda name: -len(by_package[name])):  # round robin, biggest first
            if by_package[package] and len(chosen) < target:
                chosen.append(by_package[package].pop(0))
    return set(chosen)


def _previous_entries(out: Path) -> dict[str, dict]:
    """What an earlier run prepared: its kept photos and the ones it dropped after preparing them."""
    try:
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        return {entry["id"]: entry for entry in manifest["photos"] + manifest.get("dropped", []) if "phash" in entry}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _prepared_entry(candidate: Candidate, source_sha: str) -> dict:
    """Decode and prepare a candidate: its manifest entry, with the pixels under "_pixels"."""
    prepared = prepare(decode_source(candidate.data, candidate.member or candidate.path))
    pixels = prepared.pixels
    height, width = pixels.shape[:2]
    return {"id": candidate.id, "package": candidate.package, "version": candidate.version, "path": candidate.path,
            **({"member": candidate.member} if candidate.member else {}), **candidate.licence,
            "source_sha256": source_sha, "source_width": prepared.source_size[0], "source_height": prepared.source_size[1],
            "factor": round(prepared.factor, 4), "pixels_sha256": pixel_sha256(pixels), "width": width, "height": height,
            "phash": f"{perceptual_hash(pixels):016x}", "_pixels": pixels}


def _without_pixels(entry: dict) -> dict:
    return {key: value for key, value in entry.items() if key != "_pixels"}


def _write_png(path: Path, pixels) -> None:
    def write(stream) -> None:
        Image.fromarray(pixels).save(stream, format="PNG", compress_level=6)

    atomic_write(path, write)


def build_corpus(out: Path, cache: Path | None = None, fetch: Fetcher | None = None,
                 reference: Path | None = None, sources: Path | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Build (or complete) the corpus in ``out``; returns the manifest written to out/manifest.json.

    fetch: how a package's .deb is had (default: apt-get download); reference: the manifest whose
    held-out ids are used (default: the committed one; a missing file: choose them afresh); sources:
    the package rules (default: photo_sources.toml).
    """
    started = time.monotonic()
    out = prepare_output_dir(out, "--out")
    cache = prepare_output_dir(cache if cache is not None else out / ".packages", "--cache")
    for split in ("train", "heldout"):
        prepare_output_dir(out / split, "--out")
    fetch = fetch or debian.AptFetcher()
    rules_by_package = load_sources(sources or SOURCES)
    reference = COMMITTED_MANIFEST if reference is None else reference
    previous = _previous_entries(out)
    report = Report()
    packages: dict[str, dict] = {}
    candidates: list[Candidate] = []
    for package, rules in rules_by_package.items():
        try:
            deb = fetch(package, rules.get("suite", ""), cache)
            version = debian.deb_version(deb)
            root = debian.extract_deb(deb, cache)
        except debian.FetchError as error:
            report.failed[package] = str(error)
            log(f"skipped {package}: {error}")
            continue
        report.fetched.append(package)
        packages[package] = {"version": version, "suite": rules.get("suite") or "default",
                             "licence": package_licence(root, package) or rules.get("licence", "")}
        candidates += package_candidates(package, rules, root, version, report)
    if not report.fetched:
        raise CeaError("no package could be fetched (" + "; ".join(f"{k}: {v}" for k, v in report.failed.items())[:300]
                       + "); check the network and apt-get, then run again")
    ids = [candidate.id for candidate in candidates]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"photo ids collide: {sorted({i for i in ids if ids.count(i) > 1})}")

    kept: list[dict] = []
    dropped: list[dict] = []
    hashes: list[tuple[int, str]] = []
    seen_sources: dict[str, str] = {}
    candidate_of: dict[str, Candidate] = {}
    for candidate in candidates:
        source_sha = hashlib.sha256(candidate.data).hexdigest()
        if source_sha in seen_sources:
            dropped.append({"id": candidate.id, "reason": "duplicate", "of": seen_sources[source_sha]})
            continue
        seen_sources[source_sha] = candidate.id
        old = previous.get(candidate.id)
        if old and old.get("source_sha256") == source_sha and "phash" in old:
            # prepared by an earlier run: reuse its figures (its file, when kept, is checked below)
            skip = ("reason", "of", "split", "file", "licence", "copyright", "source")
            entry = {key: value for key, value in old.items() if key not in skip}
            entry.update(version=candidate.version, **candidate.licence, _pixels=None)  # metadata as the rules say now
        else:
            try:
                entry = _prepared_entry(candidate, source_sha)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                dropped.append({"id": candidate.id, "reason": f"unreadable ({error})"[:120]})
                continue
        entry["tags"] = candidate.tags
        if min(entry["width"], entry["height"]) < MIN_SHORT_SIDE:
            dropped.append({"reason": "too small", **_without_pixels(entry)})
            continue
        phash = int(entry["phash"], 16)
        twin = next((other for value, other in hashes if hamming(value, phash) <= NEAR_DUPLICATE_BITS), None)
        if twin is not None:
            dropped.append({"reason": "near duplicate", "of": twin, **_without_pixels(entry)})
            continue
        hashes.append((phash, candidate.id))
        kept.append(entry)
        candidate_of[candidate.id] = candidate

    reference_entries = _read_reference(reference)
    if reference_entries:
        heldout = {i for i, entry in reference_entries.items() if entry.get("split") == "heldout"}
    else:
        heldout = choose_heldout(kept)
    for entry in kept:
        entry["split"] = "heldout" if entry["id"] in heldout else "train"
        entry["file"] = f"{entry['split']}/{entry['id']}.png"
        pixels = entry.pop("_pixels")
        target = out / entry["file"]
        earlier = out / previous[entry["id"]]["file"] if "file" in previous.get(entry["id"], {}) else None
        if pixels is None and not target.is_file() and earlier is not None and earlier.is_file():
            os.replace(earlier, target)  # written by an earlier run under the other split
        elif pixels is None and not target.is_file():
            pixels = _prepared_entry(candidate_of[entry["id"]], entry["source_sha256"])["_pixels"]
        if pixels is not None:
            _write_png(target, pixels)
        report.kept[entry["package"]] = report.kept.get(entry["package"], 0) + 1
    for item in dropped:
        reason = item["reason"].split(" (")[0]
        report.dropped[reason] = report.dropped.get(reason, 0) + 1
    manifest = {"format": 1, "made_by": "python -m cea_edge.data photos", "packages": packages,
                "photos": sorted(kept, key=lambda entry: entry["id"]), "dropped": dropped}
    atomic_write_json(out / MANIFEST_NAME, manifest)
    _summarise(manifest, report, reference_entries, time.monotonic() - started, log)
    return manifest


def _read_reference(reference: Path | None) -> dict[str, dict]:
    if reference is None or not reference.is_file():
        return {}
    return {entry["id"]: entry for entry in json.loads(reference.read_text(encoding="utf-8"))["photos"]}


def _summarise(manifest: dict, report: Report, reference: dict[str, dict], seconds: float, log) -> None:
    photos = manifest["photos"]
    heldout = [entry for entry in photos if entry["split"] == "heldout"]
    log(f"packages: {len(report.fetched)} fetched, {len(report.failed)} failed"
        + (f" ({', '.join(report.failed)})" if report.failed else ""))
    log("kept per package: " + ", ".join(f"{name} {count}" for name, count in report.kept.items()))
    log("dropped: " + (", ".join(f"{count} {reason}" for reason, count in sorted(report.dropped.items())) or "none"))
    log(f"photos: {len(photos)} ({len(photos) - len(heldout)} train, {len(heldout)} held out: "
        f"{sum('people' in e['tags'] for e in heldout)} people, {sum('night' in e['tags'] for e in heldout)} night)")
    if reference:
        mine = {entry["id"]: entry for entry in photos}
        same = sum(1 for i, entry in reference.items() if mine.get(i, {}).get("pixels_sha256") == entry["pixels_sha256"])
        missing = sorted(set(reference) - set(mine))
        log(f"committed manifest: {same} of {len(reference)} photos identical"
            + (f"; missing here: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else ""))
    log(f"done in {seconds:.0f} s")
