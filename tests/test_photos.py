"""The natural-photo corpus: container readers, preparation, manifest, split, folder API, CLI errors.

Offline and fast: containers and a tiny .deb are built here; the apt download is replaced by a function
that hands out the local .deb.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cea_edge.data import corpus, debian
from cea_edge.data.__main__ import main as data_main
from cea_edge.data.containers import ContainerError, read_eet, read_rcc
from cea_edge.data.photos import load_photo_folder, pixel_sha256, read_photo
from cea_edge.errors import CeaError, run_cli

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")


def scene(seed: int, height: int, width: int) -> np.ndarray:
    """A smooth random colour field: photo-like enough for the perceptual hash."""
    rng = np.random.default_rng(seed)
    small = ndimage.gaussian_filter(rng.uniform(0, 255, (height // 16, width // 16, 3)), sigma=(1.5, 1.5, 0))
    return np.array(Image.fromarray(small.astype(np.uint8)).resize((width, height), Image.Resampling.BILINEAR))


def jpeg(pixels: np.ndarray, quality: int = 92, orientation: int | None = None) -> bytes:
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    exif = None
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
    image.save(buffer, format="JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


# --- containers -----------------------------------------------------------------------------------------

def make_rcc(files: dict[str, tuple[bytes, bool]], version: int) -> bytes:
    """A Qt resource file: root dir -> "img" dir -> files (name -> (bytes, compressed))."""
    names, data = bytearray(), bytearray()

    def name(text: str) -> int:
        offset = len(names)
        names.extend(struct.pack(">HI", len(text), 0) + text.encode("utf-16-be"))
        return offset

    def node(name_offset: int, flags: int, a: int, b: int | None = None) -> bytes:
        body = struct.pack(">iH", name_offset, flags) + (struct.pack(">ii", a, b) if b is not None
                                                          else struct.pack(">hhi", 0, 0, a))
        return body + (b"\0" * 8 if version >= 2 else b"")

    children = []
    for file_name, (payload, compressed) in files.items():
        stored = struct.pack(">I", len(payload)) + zlib.compress(payload) if compressed else payload
        children.append(node(name(file_name), 1 if compressed else 0, len(data)))
        data.extend(struct.pack(">I", len(stored)) + stored)
    tree = node(0, 2, 1, 1) + node(name("img"), 2, len(files), 2) + b"".join(children)
    header = 20
    return (b"qres" + struct.pack(">iiii", version, header, header + len(tree), header + len(tree) + len(data))
            + tree + bytes(data) + bytes(names))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_reads_plain_and_zlib_entries(version):
    blob = make_rcc({"a.txt": (b"plain bytes", False), "b.bin": (b"squeezed " * 50, True)}, version)
    entries = {entry.path: entry.data for entry in read_rcc(blob)}
    assert entries == {"img/a.txt": b"plain bytes", "img/b.bin": b"squeezed " * 50}


def test_rcc_damage_is_a_container_error():
    blob = make_rcc({"a.txt": (b"x" * 100, True)}, 2)
    with pytest.raises(ContainerError):
        read_rcc(b"nope" + blob[4:])
    with pytest.raises(ContainerError):
        read_rcc(blob[:30])


def make_eet(entries: list[tuple[str, bytes, int]]) -> bytes:
    """An EET file: header, 24-byte directory entries, names, then data. (name, bytes, flags)."""
    directory_end = 12 + 24 * len(entries)
    names = b"".join(name.encode() + b"\0" for name, _, _ in entries)
    offset, name_offset, directory, blobs = directory_end + len(names), directory_end, b"", b""
    for name, payload, flags in entries:
        directory += struct.pack(">6i", offset + len(blobs), len(payload), len(payload), name_offset, len(name) + 1, flags)
        name_offset += len(name) + 1
        blobs += payload
    return struct.pack(">iii", 0x1EE70F42, len(entries), 0) + directory + names + blobs


def test_eet_keeps_the_largest_plain_jpeg():
    small, large = jpeg(scene(1, 64, 96)), jpeg(scene(1, 128, 192))
    blob = make_eet([("edje/images/1", small, 0), ("edje/images/0", large, 0), ("edje/file", b"zzz", 1)])
    entries = read_eet(blob)
    assert [entry.path for entry in entries] == ["edje/images/1", "edje/images/0"]  # the compressed one skipped
    assert corpus._largest_jpeg(entries)[0].data == large
    with pytest.raises(ContainerError):
        read_eet(b"\0" * 12 + blob[12:])


# --- a tiny package through the whole pipeline -----------------------------------------------------------

SOURCES = """
[packages.testpics]
files = ["usr/share/testpics/*"]
drop = ["*/render.png"]
[packages.testpics.tags]
"*/people.jpg" = ["people"]
"*/rotated.jpg" = ["night"]

[packages.testrcc]
files = ["usr/share/testrcc/*.rcc"]
container = "rcc"
members = ["*.jpg"]
readme = "README"
"""
COPYRIGHT = "Format: x\n\nFiles: *\nCopyright: someone\nLicense: CC0-1.0\n"


def make_deb(folder: Path, package: str, files: dict[str, bytes]) -> Path:
    root = folder / f"{package}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(f"Package: {package}\nVersion: 1.0-1\nArchitecture: all\n"
                                         "Maintainer: t <t@example.invalid>\nDescription: test pictures\n")
    for path, data in {**files, f"usr/share/doc/{package}/copyright": COPYRIGHT.encode()}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    deb = folder / f"{package}_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Znone", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture(scope="module")
def debs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("debs")
    marked = scene(3, 800, 1200)
    marked[:100, :100] = (255, 0, 0)  # red in the stored top-left corner
    alpha = np.dstack([scene(5, 600, 600), np.full((600, 600), 255, np.uint8)])
    alpha[:, :300, 3] = 0  # left half transparent
    alpha_png = io.BytesIO()
    Image.fromarray(alpha, "RGBA").save(alpha_png, format="PNG")
    base = scene(2, 1600, 2400)
    near = np.asarray(Image.fromarray(base).resize((2160, 1440), Image.Resampling.BILINEAR))
    pics = {"usr/share/testpics/big.jpg": jpeg(scene(1, 2200, 3000)),
            "usr/share/testpics/people.jpg": jpeg(base),
            "usr/share/testpics/people_copy.jpg": jpeg(near, quality=70),  # a near duplicate
            "usr/share/testpics/rotated.jpg": jpeg(marked, orientation=6),  # upright: 800 wide, 1200 tall
            "usr/share/testpics/small.jpg": jpeg(scene(4, 300, 400)),  # 150 px after the 2x downscale
            "usr/share/testpics/alpha.png": alpha_png.getvalue(),
            "usr/share/testpics/render.png": alpha_png.getvalue()}
    readme = b"Copyright: A Photographer\nLicense: CC-BY-SA-4.0\nSource: https://example.invalid/x\nFiles: img/x.jpg\n"
    rcc = make_rcc({"x.jpg": (jpeg(scene(6, 700, 1000)), False), "README": (readme, True)}, 3)
    return {"testpics": make_deb(folder, "testpics", pics),
            "testrcc": make_deb(folder, "testrcc", {"usr/share/testrcc/a.rcc": rcc})}


def build(tmp_path: Path, debs: dict[str, Path], reference: Path | None = None, out_name: str = "out") -> dict:
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES)
    return corpus.build_corpus(tmp_path / out_name, fetch=lambda package, suite, cache: debs[package],
                               reference=reference or tmp_path / "none.json", sources=sources, log=lambda line: None)


@needs_dpkg
def test_pipeline_prepares_dedups_and_writes_a_manifest(tmp_path, debs):
    manifest = build(tmp_path, debs)
    out = tmp_path / "out"
    photos = {entry["id"]: entry for entry in manifest["photos"]}
    assert set(photos) == {"testpics-big", "testpics-people", "testpics-rotated",
                           "testpics-alpha", "testrcc-a-img-x"}
    reasons = {item["id"]: item["reason"] for item in manifest["dropped"]}
    assert reasons == {"testpics-people-copy": "near duplicate", "testpics-small": "too small"}
    big = photos["testpics-big"]
    assert (big["width"], big["height"], big["factor"]) == (1396, 1024, round(2200 / 1024, 4))
    rotated = photos["testpics-rotated"]
    assert (rotated["width"], rotated["height"]) == (400, 600)
    pixels = read_photo(out / rotated["file"])
    assert pixels[5:40, -40:-5].mean(axis=(0, 1)) == pytest.approx((255, 0, 0), abs=25)  # top-left went top-right
    alpha = read_photo(out / photos["testpics-alpha"]["file"])
    assert np.abs(alpha[:, :140].astype(int) - 128).max() <= 2  # transparent half over grey 0.5
    assert photos["testrcc-a-img-x"]["licence"] == "CC-BY-SA-4.0" and photos["testrcc-a-img-x"]["member"] == "img/x.jpg"
    assert big["licence"] == "CC0-1.0" and big["version"] == "1.0-1" and big["package"] == "testpics"
    assert photos["testpics-people"]["tags"] == ["people"]
    for entry in photos.values():
        assert pixel_sha256(read_photo(out / entry["file"])) == entry["pixels_sha256"]
        assert Path(entry["file"]).parts[0] == entry["split"] and not Path(entry["file"]).is_absolute()
    assert json.loads((out / "manifest.json").read_text())["photos"] == manifest["photos"]
    heldout = {entry["id"] for entry in photos.values() if entry["split"] == "heldout"}
    assert heldout == {"testpics-people", "testpics-rotated"}  # people and night come first


@needs_dpkg
def test_rerun_reuses_and_the_reference_fixes_the_split(tmp_path, debs, monkeypatch):
    first = build(tmp_path, debs)
    reference = tmp_path / "reference.json"
    chosen = {"testpics-big", "testpics-people"}
    reference.write_text(json.dumps({"photos": [{**e, "split": "heldout" if e["id"] in chosen else "train"}
                                                for e in first["photos"]]}))

    def no_work(*args, **kwargs):
        raise AssertionError("a photo was prepared again")

    monkeypatch.setattr(corpus, "prepare", no_work)
    second = build(tmp_path, debs, reference=reference)
    assert {e["id"] for e in second["photos"] if e["split"] == "heldout"} == chosen
    assert [e["pixels_sha256"] for e in second["photos"]] == [e["pixels_sha256"] for e in first["photos"]]
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "heldout").iterdir()) == sorted(f"{i}.png" for i in chosen)
    assert load_photo_folder(out, "heldout") == sorted(out / "heldout" / f"{i}.png" for i in chosen)
    assert len(load_photo_folder(out)) == 3


def test_choose_heldout_is_diverse_and_fixed():
    entries = [{"id": f"p{k}-{i}", "package": f"p{k}", "tags": ["people"] if i % 7 == 0 else ["night"] if i % 11 == 0 else []}
               for k in range(6) for i in range(50)]
    chosen = corpus.choose_heldout(entries)
    assert len(chosen) >= 40 and chosen == corpus.choose_heldout(list(reversed(entries)))
    assert {entry["package"] for entry in entries if entry["id"] in chosen} == {f"p{k}" for k in range(6)}
    assert any("people" in e["tags"] and e["id"] in chosen for e in entries)
    assert any("night" in e["tags"] and e["id"] in chosen for e in entries)


def test_committed_manifest_is_consistent():
    if not corpus.COMMITTED_MANIFEST.is_file():
        pytest.skip("no committed manifest yet")
    manifest = json.loads(corpus.COMMITTED_MANIFEST.read_text())
    heldout = [e for e in manifest["photos"] if e["split"] == "heldout"]
    assert len(heldout) >= 40 and any("people" in e["tags"] for e in heldout) and any("night" in e["tags"] for e in heldout)
    assert len({e["id"] for e in manifest["photos"]}) == len(manifest["photos"])
    assert "/work" not in corpus.COMMITTED_MANIFEST.read_text()


# --- the folder API -------------------------------------------------------------------------------------

def test_plain_folder_is_all_train(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(scene(1, 64, 64)).save(tmp_path / "sub" / "a.PNG")
    (tmp_path / "b.jpg").write_bytes(jpeg(scene(2, 64, 64)))
    (tmp_path / "notes.txt").write_text("not a photo")
    assert load_photo_folder(tmp_path) == [tmp_path / "b.jpg", tmp_path / "sub" / "a.PNG"]
    assert load_photo_folder(tmp_path, "heldout") == []
    assert read_photo(tmp_path / "b.jpg").shape == (64, 64, 3)


def test_missing_or_empty_folder_says_how_to_get_one(tmp_path):
    for folder in (tmp_path / "absent", tmp_path):
        with pytest.raises(CeaError, match="python -m cea_edge.data photos --out DIR"):
            load_photo_folder(folder)
    with pytest.raises(CeaError, match="split"):
        load_photo_folder(tmp_path, "test")


# --- CLI errors: one line, exit 2, nothing half-written -----------------------------------------------------

def run_data_cli(args: list[str], capsys) -> tuple[int, str]:
    code = run_cli(data_main, ["photos", *args])
    return code, capsys.readouterr().err


def test_cli_out_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        code, err = run_data_cli(["--out", str(out)], capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "is a file" in err


def test_cli_without_apt_get(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, err = run_data_cli(["--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "apt-get" in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_cli_no_network(tmp_path, capsys, monkeypatch):
    def offline() -> corpus.Fetcher:
        def fetch(package, suite, cache):
            raise debian.FetchError("Temporary failure resolving the mirror")
        return fetch

    monkeypatch.setattr(debian, "AptFetcher", offline)
    code, err = run_data_cli(["--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "no package could be fetched" in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "manifest.json").exists()


@needs_dpkg
def test_cli_corrupt_container(tmp_path, capsys, monkeypatch):
    deb = make_deb(tmp_path, "testrcc", {"usr/share/testrcc/a.rcc": b"qres" + b"\xff" * 40})
    sources = tmp_path / "sources.toml"
    sources.write_text("[packages.testrcc]\nfiles = ['usr/share/testrcc/*.rcc']\ncontainer = 'rcc'\n")
    monkeypatch.setattr(corpus, "SOURCES", sources)
    monkeypatch.setattr(debian, "AptFetcher", lambda: (lambda package, suite, cache: deb))
    code, err = run_data_cli(["--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "damaged rcc container" in err and err.count("\n") == 1
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert list((tmp_path / "out" / "train").iterdir()) == []


@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "heldout/../../outside.png"])
def test_a_manifest_naming_a_photo_outside_its_folder_is_refused(tmp_path, name):
    import json

    from cea_edge.data.photos import load_photo_folder
    from cea_edge.errors import CeaError

    folder = tmp_path / "corpus"
    folder.mkdir()
    (tmp_path / "outside.png").write_bytes(b"not read")
    (folder / "manifest.json").write_text(json.dumps({"photos": [{"file": name, "split": "train"}]}))
    with pytest.raises(CeaError, match="outside its folder"):
        load_photo_folder(folder, "train")
