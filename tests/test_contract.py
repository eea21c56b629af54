"""The artifact contract: one typed self-description, written and read the same way by the
exporters and the runtime, and the recipes as the one source of export settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cea_edge.contract import (
    CHECKPOINT_CONTEXT_SIZE,
    CHECKPOINT_OVERLAP,
    CHECKPOINT_TILE,
    CONSTANT_METHOD_NAMES,
    CONTEXT_GRAPH,
    FORWARD_GRAPH,
    GLOBAL_GRAPH,
    GRAPH_KEY,
    ArtifactInfo,
    factor_names,
    sibling_path,
)
from cea_edge.errors import CeaError
from cea_edge.export.recipes import load_recipe, recipe_for
from cea_edge.targets import TARGETS

INFO = ArtifactInfo("edge", 256, 32, "int8", "ab" * 32, 512, (0.0, 1.0), source_sha256="cd" * 32)


def test_strings_round_trip_and_name_the_graph() -> None:
    strings = INFO.to_strings(CONTEXT_GRAPH)
    assert all(isinstance(value, str) for value in strings.values())
    assert strings[GRAPH_KEY] == CONTEXT_GRAPH
    # keys the artifacts already in users' hands carry (an ONNX model exported before this module)
    assert strings["cea_edge.tile"] == "256" and strings["cea_edge.context"] == "512"
    assert strings["cea_edge.value_range"] == "0,1" and strings["cea_edge.precision"] == "int8"
    assert ArtifactInfo.from_strings(strings, "x.onnx") == INFO


def test_constant_methods_round_trip_as_the_runtime_returns_them() -> None:
    constants = INFO.constant_methods()
    assert set(constants) == set(CONSTANT_METHOD_NAMES)
    assert constants["tile_size"] == 256 and constants["tile_overlap"] == 32 and constants["context_size"] == 512
    assert constants["value_range"] == [0.0, 1.0] and constants["precision"] == "int8"
    # ExecuTorch's Method.execute([]) returns a list per method: [256], [0.0, 1.0], ['int8']
    returned = {name: value if isinstance(value, list) else [value] for name, value in constants.items()}
    assert ArtifactInfo.from_constant_methods(returned, "x.pte") == INFO


def test_foreign_or_damaged_metadata_is_refused_with_the_file_named() -> None:
    with pytest.raises(CeaError, match="'other.onnx' is a model, but not one cea-edge exported"):
        ArtifactInfo.from_strings({"producer": "someone else"}, "other.onnx")
    with pytest.raises(CeaError, match="'other.pte' is an ExecuTorch program, but not one cea-edge exported"):
        ArtifactInfo.from_constant_methods({"forward": []}, "other.pte")
    with pytest.raises(CeaError, match="cea_edge.tile = 'big' is not valid"):
        ArtifactInfo.from_strings(INFO.to_strings() | {"cea_edge.tile": "big"}, "bad.onnx")


def test_older_artifacts_without_newer_fields_still_open() -> None:
    # A .pte exported before precision/preset/checkpoint were constant methods
    returned = {"tile_size": [128], "tile_overlap": [16], "value_range": [0.0, 1.0], "context_size": [0]}
    info = ArtifactInfo.from_constant_methods(returned, "old.pte")
    assert (info.tile, info.overlap, info.context_size, info.precision) == (128, 16, 0, "unknown")
    # one exported before the lineage field descends, as far as it can say, from its own checkpoint
    strings = {k: v for k, v in INFO.to_strings().items() if k != "cea_edge.source_sha256"}
    assert ArtifactInfo.from_strings(strings, "old.onnx").source_sha256 == "ab" * 32


@pytest.mark.parametrize("field,value", [("preset", "bogus"), ("preset", "unknown"), ("preset", "edge-static"),
                                         ("preset", "edge2\u202e"), ("preset", "x" * 10_000), ("precision", "int4"),
                                         ("precision", "FP32"), ("checkpoint_sha256", "zz"), ("source_sha256", "AB" * 32)])
@pytest.mark.parametrize("store", ["strings (.onnx, .mlpackage)", "constant methods (.pte)"])
def test_tampered_strings_are_refused_naming_the_file_and_the_field(store, field, value) -> None:
    """Issue 31: preset, precision and checksums are checked where each store is parsed; the message shows the
    value cut to 40 ASCII characters."""
    if store.startswith("strings"):
        key = {"preset": "preset", "precision": "precision"}.get(field, field)
        parse = lambda: ArtifactInfo.from_strings(INFO.to_strings() | {f"cea_edge.{key}": value}, "m.onnx")  # noqa: E731
        named = f"'m.onnx': its metadata cea_edge.{key} "
    else:
        returned = {name: v if isinstance(v, list) else [v] for name, v in INFO.constant_methods().items()}
        parse = lambda: ArtifactInfo.from_constant_methods(returned | {field: [value]}, "m.pte")  # noqa: E731
        named = f"'m.pte': its constant method {field} "
    with pytest.raises(CeaError) as error:
        parse()
    message = str(error.value)
    assert message.startswith(named) and "export it again" in message and len(message) < 330 and message.isascii(), message


def test_a_non_string_constant_method_is_refused() -> None:
    returned = {name: v if isinstance(v, list) else [v] for name, v in INFO.constant_methods().items()}
    with pytest.raises(CeaError, match="'m.pte': its constant method precision of type int is not a precision"):
        ArtifactInfo.from_constant_methods(returned | {"precision": [8]}, "m.pte")


@pytest.mark.parametrize("preset", ["tiny", "edge2", "edge3", "edge2-static", "edge-noadapter", "tiny2-noadapter"])
def test_every_preset_and_variant_an_export_can_name_is_accepted(preset) -> None:
    for precision in ("fp32", "fp16", "int8", "int8w"):
        strings = INFO.to_strings() | {"cea_edge.preset": preset, "cea_edge.precision": precision}
        assert (ArtifactInfo.from_strings(strings, "m.onnx").preset, precision) == (preset, precision)


def test_factor_names_are_checked_by_name_and_order() -> None:
    """forward_global's factor inputs must be the contract's names of the preset's design, in its order."""
    from cea_edge.contract import check_factor_names, routing_map_names

    v2 = factor_names(2, "v2")
    outputs = v2 + routing_map_names(2)
    info = ArtifactInfo("edge2", 256, 32, "fp32", "ab" * 32, 512)
    check_factor_names(info, Path("m.context.onnx"), outputs, Path("m.global.onnx"), v2)  # as exported
    old = ArtifactInfo.from_strings({"cea_edge.tile": "256", "cea_edge.context": "512"}, "old.onnx")  # no preset field
    check_factor_names(old, Path("m.context.onnx"), outputs, Path("m.global.onnx"), v2)
    for inputs, says in (([v2[1], v2[0], *v2[2:]], "takes 'direction_gains_0' as factor input 1"),
                         ([v2[0], "gains", *v2[2:]], "takes 'gains' as factor input 2"),
                         (v2[:3], "takes 3 factor inputs")):
        with pytest.raises(CeaError, match=says):
            check_factor_names(info, Path("m.context.onnx"), outputs, Path("m.global.onnx"), inputs)
    with pytest.raises(CeaError, match="'m.context.onnx' gives .* as the contract names them"):  # v1 names, v2 preset
        check_factor_names(info, Path("m.context.onnx"), factor_names(2) + routing_map_names(2), Path("m.global.onnx"),
                           factor_names(2))


def test_graph_files_and_factor_names() -> None:
    assert sibling_path(Path("a/edge-int8-256.onnx"), CONTEXT_GRAPH) == Path("a/edge-int8-256.context.onnx")
    assert sibling_path(Path("m.mlpackage"), GLOBAL_GRAPH) == Path("m.global.mlpackage")
    assert factor_names(2) == ["routing_bases_0", "residual_directions_0", "routing_bases_1", "residual_directions_1"]
    assert FORWARD_GRAPH == "forward"  # the ExecuTorch method every runtime calls by default


@pytest.mark.parametrize("target", TARGETS)
def test_bundled_recipes_agree_with_the_checkpoint_tiling(target: str) -> None:
    # A checkpoint carries no tiling; the runtime then uses the values every export recipe ships with.
    recipe = recipe_for(target)
    assert (recipe.tile, recipe.overlap, recipe.context_size) == (CHECKPOINT_TILE, CHECKPOINT_OVERLAP,
                                                                  CHECKPOINT_CONTEXT_SIZE)


def test_recipe_missing_a_setting_names_it(tmp_path: Path) -> None:
    # The recipe files are the one source of export settings: no silent dataclass default stands in.
    text = Path(recipe_for("onnx").source).read_text()
    edited = tmp_path / "onnx.toml"
    edited.write_text("\n".join(line for line in text.splitlines() if not line.startswith(("overlap", "int8_min"))))
    with pytest.raises(CeaError, match=r"missing key\(s\) \[.overlap., .int8_min_psnr_db.\]; the recipe is the one source"):
        load_recipe(edited)
