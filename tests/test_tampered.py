"""Issue 31, class 7: tampered or inconsistent files a user can hand the CLIs (the static-adapter ablation
checkpoint with --routing-maps, ONNX graphs whose input/output names were renamed, a global graph whose
factor inputs were renamed or reordered, metadata whose preset, precision or checksum strings were edited --
ONNX metadata_props, Core ML user metadata, ExecuTorch constant methods --, schema-valid but inconsistent
`profile --import` files) end in one `error:` line and exit 2 -- or, where the file is sound, a complete
output -- with no traceback and nothing half-written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from cea_edge.contract import CONTEXT_GRAPH, GLOBAL_GRAPH, sibling_path
from cea_edge.errors import run_cli
from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import save_checkpoint
from tests.helpers import error_lines, make_active


def photo(path):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(path)
    return path


def test_a_static_adapter_checkpoint_draws_its_routing_maps(tmp_path, capsys):
    """The shipped edge2-static.pt tracebacked here: a static adapter's factors are its parameters (grad on)."""
    from cea_edge.enhance import main

    torch.manual_seed(0)
    checkpoint = tmp_path / "static.pt"
    save_checkpoint(checkpoint, make_active(CEANet(get_preset("tiny2").with_static_adapters())), {"note": "test"})
    out = tmp_path / "out.png"
    argv = [str(photo(tmp_path / "p.png")), "--model", str(checkpoint), "--routing-maps", "-o", str(out),
            "--tile", "32", "--context-size", "64", "--quiet"]
    assert run_cli(main, argv) == 0, capsys.readouterr().err
    assert "Traceback" not in capsys.readouterr().err
    maps = list(tmp_path.glob("out_routing*.png"))
    assert out.is_file() and maps, sorted(p.name for p in tmp_path.iterdir())
    with Image.open(maps[0]) as image:
        image.load()


def _rename(model, position: int, new: str, output: bool = False) -> None:
    values = model.graph.output if output else model.graph.input
    old, values[position].name = values[position].name, new
    for node in model.graph.node:
        names = node.output if output else node.input
        for k, name in enumerate(names):
            if name == old:
                names[k] = new


@pytest.mark.parametrize("graph,position,output", [("forward", 0, False), ("forward", 0, True),
                                                   (CONTEXT_GRAPH, 0, False), (GLOBAL_GRAPH, 0, False),
                                                   (GLOBAL_GRAPH, 0, True)])
def test_an_onnx_export_with_renamed_inputs_is_refused(graph, position, output, session_checkpoint, export_once,
                                                       tmp_path, capsys):
    import onnx

    from cea_edge.enhance import main

    source = export_once(session_checkpoint, "onnx", "fp32").artifact
    for sibling in source.parent.glob(source.stem + ".*"):
        shutil.copy(sibling, tmp_path / sibling.name)
    main_file = tmp_path / source.name
    target = main_file if graph == "forward" else sibling_path(main_file, graph)
    model = onnx.load(str(target))
    _rename(model, position, "pixels", output)
    onnx.save(model, str(target))
    out = tmp_path / "out.png"
    assert run_cli(main, [str(photo(tmp_path / "p.png")), "--model", str(main_file), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "Traceback" not in err and target.name in line and "export it again" in line, line
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("key,value", [("cea_edge.tile", "nan"), ("cea_edge.tile", "[1,2]"), ("cea_edge.overlap", "-5"),
                                       ("cea_edge.context", "3.5"), ("cea_edge.value_range", "true")])
def test_an_onnx_export_with_tampered_metadata_is_refused(key, value, session_checkpoint, export_once, tmp_path, capsys):
    import onnx

    from cea_edge.enhance import main

    source = export_once(session_checkpoint, "onnx", "fp32").artifact
    for sibling in source.parent.glob(source.stem + ".*"):
        shutil.copy(sibling, tmp_path / sibling.name)
    main_file = tmp_path / source.name
    model = onnx.load(str(main_file))
    (prop,) = [p for p in model.metadata_props if p.key == key]
    prop.value = value
    onnx.save(model, str(main_file))
    out = tmp_path / "out.png"
    assert run_cli(main, [str(photo(tmp_path / "p.png")), "--model", str(main_file), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "Traceback" not in err and main_file.name in line and not out.exists(), line


def _copied_export(export_once, checkpoint, folder):
    """The session's ONNX export (tiny, global context) copied into ``folder``: its main file."""
    source = export_once(checkpoint, "onnx", "fp32").artifact
    for sibling in source.parent.glob(source.stem + ".*"):
        shutil.copy(sibling, folder / sibling.name)
    return folder / source.name


def _enhance_refuses(main_file, folder, capsys, *extra: str) -> str:
    """enhance a photo with ``main_file``: exit 2, one error line (returned), no traceback, nothing written."""
    from cea_edge.enhance import main

    out = folder / "out.png"
    assert run_cli(main, [str(photo(folder / "p.png")), "--model", str(main_file), "-o", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "Traceback" not in err and not out.exists() and not list(folder.glob(".*tmp*")), err
    return line


def _swap(values, first: int, second: int) -> None:
    import onnx

    a, b = onnx.ValueInfoProto(), onnx.ValueInfoProto()
    a.CopyFrom(values[first])
    b.CopyFrom(values[second])
    values[first].CopyFrom(b)
    values[second].CopyFrom(a)


@pytest.mark.parametrize("case", ["renamed", "pair-swapped", "adapters-swapped", "context-reordered"])
def test_a_global_graph_whose_factor_inputs_are_renamed_or_reordered_is_refused(case, session_checkpoint, export_once,
                                                                                tmp_path, capsys):
    """The runner hands the context graph's factors to forward_global's inputs by position: a renamed input, or
    two swapped (the graph still valid ONNX), would feed a factor to the wrong input (a traceback from
    onnxruntime on a shape mismatch, a wrong photo otherwise). Refused at open, naming the file."""
    import onnx

    main_file = _copied_export(export_once, session_checkpoint, tmp_path)
    target = sibling_path(main_file, CONTEXT_GRAPH if case == "context-reordered" else GLOBAL_GRAPH)
    model = onnx.load(str(target))
    if case == "renamed":  # the names the contract gives, position kept
        _rename(model, 1, "factor_a")
    elif case == "pair-swapped":  # routing_bases_0 <-> residual_directions_0
        _swap(model.graph.input, 1, 2)
    elif case == "adapters-swapped":  # routing_bases_0 <-> routing_bases_1
        _swap(model.graph.input, 1, 3)
    else:  # the context graph gives a routing map first
        _swap(model.graph.output, 0, len(model.graph.output) - 1)
    onnx.save(model, str(target))
    line = _enhance_refuses(main_file, tmp_path, capsys)
    assert target.name in line and "export it again" in line, line
    assert ("renamed or reordered" in line) if target.name.endswith(".global.onnx") else ("as the contract names" in line)


LONG = "edge2" + "x" * 10_000


@pytest.mark.parametrize("graph,key,value", [
    ("forward", "cea_edge.preset", "bogus"), ("forward", "cea_edge.preset", "unknown"),
    ("forward", "cea_edge.preset", "edge-static"), ("forward", "cea_edge.preset", "tïny\u202e"),
    ("forward", "cea_edge.preset", LONG), ("forward", "cea_edge.precision", "int4"),
    ("forward", "cea_edge.precision", ""), ("forward", "cea_edge.precision", "fp32; rm -rf /"),
    ("forward", "cea_edge.checkpoint_sha256", "not-a-digest"), ("forward", "cea_edge.source_sha256", "AB" * 32),
    (GLOBAL_GRAPH, "cea_edge.preset", "bogus"), (CONTEXT_GRAPH, "cea_edge.precision", "int4")])
def test_onnx_metadata_with_a_tampered_preset_or_precision_is_refused(graph, key, value, session_checkpoint, export_once,
                                                                     tmp_path, capsys):
    """Every file of the export states preset, precision and checksums; each is checked where it is parsed
    (ArtifactInfo.from_strings): one line naming the file and the field, the value cut short and ASCII."""
    import onnx

    main_file = _copied_export(export_once, session_checkpoint, tmp_path)
    target = main_file if graph == "forward" else sibling_path(main_file, graph)
    model = onnx.load(str(target))
    (prop,) = [p for p in model.metadata_props if p.key == key]
    prop.value = value
    onnx.save(model, str(target))
    line = _enhance_refuses(main_file, tmp_path, capsys)
    assert f"'{target}': its metadata {key} " in line and "export it again" in line, line
    assert len(line) < 400 and line.isascii(), line


def _edit_coreml_spec(package, edit) -> None:
    """Rewrite a package's model spec (Data/com.apple.CoreML/model.mlmodel) with ``edit(spec)`` applied."""
    from coremltools.proto import Model_pb2

    (spec_file,) = package.glob("Data/*/model.mlmodel")
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_file.read_bytes())
    edit(spec)
    spec_file.write_bytes(spec.SerializeToString())


@pytest.mark.parametrize("case", ["preset", "precision", "factor-inputs-swapped"])
def test_a_core_ml_package_with_tampered_strings_or_factor_inputs_is_refused_on_every_platform(
        case, session_checkpoint, export_once, tmp_path, capsys):
    """Core ML user metadata is parsed by the same ArtifactInfo.from_strings, and the packages' factor names by
    the same check, before the platform refuses to predict (so on Linux too)."""
    pytest.importorskip("coremltools")
    from tests.helpers import COREML_FLAGS

    source = export_once(session_checkpoint, "coreml", "fp16", *COREML_FLAGS).artifact
    for item in source.parent.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    main_package = tmp_path / source.name
    if case == "factor-inputs-swapped":
        target = sibling_path(main_package, GLOBAL_GRAPH)

        def edit(spec):
            first, second = spec.description.input[1].name, spec.description.input[3].name
            spec.description.input[1].name, spec.description.input[3].name = second, first
    else:
        target = main_package

        def edit(spec):
            spec.description.metadata.userDefined[f"cea_edge.{case}"] = {"preset": "bogus", "precision": "int4"}[case]
    _edit_coreml_spec(target, edit)
    line = _enhance_refuses(main_package, tmp_path, capsys)
    assert f"'{target}'" in line and "export it again" in line and "macOS" not in line, line
    if case != "factor-inputs-swapped":
        assert f"its metadata cea_edge.{case} " in line, line


def _pte_with_constants(path, **constants):
    """A trivial ExecuTorch program (x * 2 + 1, tile 32) whose constant methods say what an export would,
    with ``constants`` in place of some: a crafted program, the cheap way to tamper with them."""
    import torch
    from executorch.exir import to_edge

    from cea_edge.contract import ArtifactInfo

    class Affine(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2 + 1

    methods = ArtifactInfo("tiny", 32, 8, "fp32", "ab" * 32).constant_methods() | constants
    program = to_edge(torch.export.export(Affine(), (torch.ones(1, 3, 32, 32),)), constant_methods=methods)
    path.write_bytes(program.to_executorch().buffer)
    return path


@pytest.mark.parametrize("method,value", [("preset", "bogus"), ("preset", "é" * 300), ("preset", 7), ("precision", "int4"),
                                          ("checkpoint_sha256", "x" * 64)])
def test_an_executorch_program_with_tampered_constant_methods_is_refused(method, value, tmp_path, capsys):
    pytest.importorskip("executorch")
    program = _pte_with_constants(tmp_path / "crafted.pte", **{method: value})
    line = _enhance_refuses(program, tmp_path, capsys, "--context", "tile")
    assert f"'{program}': its constant method {method} " in line and "export it again" in line, line
    assert len(line) < 400 and line.isascii(), line


def test_an_executorch_program_with_sound_constant_methods_opens(tmp_path):
    """The crafted program above, untampered, is accepted: the refusals come from the values alone."""
    pytest.importorskip("executorch")
    from cea_edge.runtime.backends import open_backend

    backend = open_backend(_pte_with_constants(tmp_path / "sound.pte"))
    assert (backend.info.preset, backend.info.precision, backend.tile) == ("tiny", "fp32", 32)


def _inconsistent(doc: dict, case: str) -> str:
    """Edit a valid profile document in place; the words the error must name."""
    profile = doc["profiles"][0]
    row = profile["latency"][0]
    if case == "unknown-graph":
        row["graph"] = "bogus"
        return "latency[0].graph is 'bogus'"
    if case == "negative":
        row["p10_ms"] = -5.0
        return "latency[0].p10_ms is -5.0"
    if case == "nan":
        row["median_ms"] = float("nan")  # json.dumps writes NaN, which json.loads reads back
        return "latency[0].median_ms is nan"
    if case == "zero-runs":
        profile["ops"][0]["runs"] = 0
        return "ops[0].runs is 0"
    if case == "machine-isa":
        profile["machine"]["isa"] = ["asimd"]
        return "machine.isa is list"
    if case == "machine-runtimes":
        profile["machine"]["runtimes"] = 3
        return "machine.runtimes is int"
    if case == "end-to-end":
        profile["end_to_end"] = {"megapixels": 1.0, "runs": [{}]}
        return "end_to_end.runs[0] has no 'mode'"
    if case == "row-gflops":
        row["gflops"] = "fast"
        return "latency[0].gflops is str"
    assert case == "census"
    profile["census"] = {"methods": {"forward": {}}}
    return "does not fit the tables"


@pytest.mark.parametrize("case", ["unknown-graph", "negative", "nan", "zero-runs", "machine-isa", "machine-runtimes",
                                  "end-to-end", "row-gflops", "census"])
def test_an_inconsistent_profile_import_is_one_error(case, tmp_path, capsys):
    from cea_edge.profile.__main__ import main
    from tests.test_profile import foreign_document

    doc = foreign_document()
    expected = _inconsistent(doc, case)
    source = tmp_path / "phone.json"
    source.write_text(json.dumps(doc))
    out, markdown = tmp_path / "p.json", tmp_path / "p.md"
    argv = ["--import", str(source), "--json", str(out), "--markdown", str(markdown), "--quiet"]
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert expected in line and "Traceback" not in err, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phone.json"]
