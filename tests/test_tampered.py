"""Issue 31, class 7: tampered or inconsistent files a user can hand the CLIs (the static-adapter ablation
checkpoint with --routing-maps, ONNX graphs whose input/output names were renamed, schema-valid but
inconsistent `profile --import` files) end in one `error:` line and exit 2 -- or, where the file is sound,
a complete output -- with no traceback and nothing half-written."""

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
