"""The artifact contract: the graphs an exported artifact carries, their I/O names, and how
it describes itself -- written by the exporters, read by the runtime (and by apps).

Both sides import this module; no literal of the contract appears anywhere else. It sits below
every stage that touches artifacts (export, runtime, profile, report) and above only the
torch-free model config and memory estimate, which bound the sizes an artifact states.

    forward        (image)             -> restored       each tile makes its own factors
    context        (context image)     -> factors + routing maps, once per photo
    forward_global (image, *factors)   -> restored       every tile uses the photo's factors

ExecuTorch keeps them as methods of one program; ONNX and Core ML as the main file and
two siblings beside it (x.onnx, x.context.onnx, x.global.onnx). Factors are flat, two per
adapter, adapter by adapter: v1 models routing_bases_0 (1, r, C0), residual_directions_0,
routing_bases_1, ...; v2 models routing_gains_0 (1, r, 1, 1), direction_gains_0 (1, C0, 1, 1),
... Apps take them in order, whatever their names and shapes.

Every artifact describes itself (``ArtifactInfo``) so that an app needs no side file:
ONNX ``metadata_props`` and Core ML user metadata hold it as strings under ``cea_edge.*``
keys; an ExecuTorch program holds it as constant methods, each returning one value:

    tile_size (int)   tile_overlap (int)   context_size (int, 0: tile mode only)
    value_range (float, float)   precision (str)   preset (str)   checkpoint_sha256 (str)

A file is data anyone can edit: the reader checks every value where it is parsed (sizes, a known
preset, a recipe's precision, sha256 hex) and the global-context graphs' factor names and order
(check_factor_names), each failure one CeaError naming the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from cea_edge.errors import CeaError
from cea_edge.model.config import PRESETS, preset_named
from cea_edge.model.memory import activation_bytes, check_fits
from cea_edge.targets import PRECISIONS  # what an artifact's precision may say: the targets' choices

FORWARD_GRAPH, CONTEXT_GRAPH, GLOBAL_GRAPH = "forward", "context", "forward_global"
GRAPHS = (FORWARD_GRAPH, CONTEXT_GRAPH, GLOBAL_GRAPH)
SIBLING_SUFFIXES = {CONTEXT_GRAPH: ".context", GLOBAL_GRAPH: ".global"}
INPUT_NAME, OUTPUT_NAME = "image", "restored"  # every graph's image input; the tile graphs' output
VALUE_RANGE = (0.0, 1.0)
LAYOUT = "NCHW RGB float32"

# Tiling of a checkpoint, which carries none (exported artifacts carry their own): the values
# the bundled export recipes use (tests/test_contract.py pins that they agree). Overlap 32 is
# the smallest that hides seams, context 512 the measured trade-off (docs/runtime.md).
CHECKPOINT_TILE, CHECKPOINT_OVERLAP, CHECKPOINT_CONTEXT_SIZE = 256, 32, 512

METADATA_PREFIX = "cea_edge."
GRAPH_KEY = METADATA_PREFIX + "graph"  # string stores only: which graph a file holds


# The two factors of one adapter, by model design (cea_edge.model.config.DESIGNS).
FACTOR_KINDS = {"v1": ("routing_bases", "residual_directions"), "v2": ("routing_gains", "direction_gains")}


def factor_names(adapters: int, design: str = "v1") -> list[str]:
    return [f"{kind}_{index}" for index in range(adapters) for kind in FACTOR_KINDS[design]]


def factor_layouts(adapters: int, preset: str) -> list[list[str]]:
    """The factor names (in order) a global-context graph pair of ``preset`` may carry: its design's,
    or either design's for an artifact that names no preset (exported before the field existed)."""

    config = preset_named(preset)
    return [factor_names(adapters, design) for design in ([config.design] if config else FACTOR_KINDS)]


def routing_map_names(adapters: int) -> list[str]:
    return [f"routing_map_{index}" for index in range(adapters)]


def check_factor_names(info: ArtifactInfo, context_file: Path, context_outputs: list[str], global_file: Path,
                       factor_inputs: list[str]) -> None:
    """CeaError unless the context graph gives, and the global graph takes, the factors under the names and
    in the order above (factor_names of the preset's design, then the routing maps). The runner hands the
    context graph's outputs to the global graph's inputs by position: a renamed or reordered factor input
    would receive another factor (a wrong photo, or a shape error deep in the runtime)."""
    adapters = len(context_outputs) // 3
    layouts = factor_layouts(adapters, info.preset)
    if not any(context_outputs == names + routing_map_names(adapters) for names in layouts):
        wanted = layouts[0] + routing_map_names(adapters)
        raise CeaError(f"'{context_file}' gives {context_outputs[:7]}{'...' if len(context_outputs) > 7 else ''}, not "
                       f"the factors and routing maps of {adapters} adapters as the contract names them "
                       f"({', '.join(wanted[:3])}{', ...' if len(wanted) > 3 else ''}); the file is damaged: "
                       "export it again")
    expected = context_outputs[:2 * adapters]
    if len(factor_inputs) != len(expected):
        raise CeaError(f"'{global_file}' takes {len(factor_inputs)} factor inputs, but '{context_file.name}' gives "
                       f"{len(expected)} factors; the files are not one export: export it again")
    if factor_inputs != expected:
        wrong = next(k for k, (got, want) in enumerate(zip(factor_inputs, expected)) if got != want)
        raise CeaError(f"'{global_file}' takes '{factor_inputs[wrong]}' as factor input {wrong + 1}, where the contract "
                       f"(and '{context_file.name}') puts '{expected[wrong]}': its factor inputs are renamed or "
                       "reordered, so the factors would reach the wrong inputs; the file is damaged: export it again")


def sibling_path(artifact: Path, graph: str) -> Path:
    """Where a file-per-graph target keeps ``graph`` beside ``artifact`` (x.onnx -> x.context.onnx)."""
    return artifact.with_name(artifact.stem + SIBLING_SUFFIXES[graph] + artifact.suffix)


@dataclass(frozen=True)
class ArtifactInfo:
    """What every artifact says about itself."""

    preset: str
    tile: int
    overlap: int
    precision: str
    checkpoint_sha256: str
    context_size: int = 0  # side of the context graph's input; 0: tile mode only
    value_range: tuple[float, float] = VALUE_RANGE
    # The fp32 checkpoint the weights descend from (a QAT checkpoint's source; else the checkpoint
    # itself): what the parity stage matches against a reference set's checkpoint.
    source_sha256: str = ""

    # ---- string stores (ONNX metadata_props, Core ML user metadata) ----
    def to_strings(self, graph: str = FORWARD_GRAPH) -> dict[str, str]:
        strings = {METADATA_PREFIX + _STRING_KEYS[f.name]: _to_string(getattr(self, f.name)) for f in fields(self)}
        return strings | {METADATA_PREFIX + "layout": LAYOUT, GRAPH_KEY: graph}

    @classmethod
    def from_strings(cls, strings: dict[str, str], source: str) -> ArtifactInfo:
        """Parse the metadata of ``source``; CeaError when it is not a cea-edge artifact."""
        key = METADATA_PREFIX + _STRING_KEYS["tile"]
        if key not in strings:
            raise CeaError(f"'{source}' is a model, but not one cea-edge exported (no {key} metadata)")
        values = {}
        for f in fields(cls):
            text = strings.get(METADATA_PREFIX + _STRING_KEYS[f.name])
            if text is not None:
                values[f.name] = _from_string(f.name, text, source)
        _check_strings(values, source, lambda name: f"metadata {METADATA_PREFIX}{_STRING_KEYS[name]}")
        return check_artifact_sizes(cls(**_with_fallbacks(values)), source)

    # ---- ExecuTorch constant methods ----
    def constant_methods(self) -> dict[str, Any]:
        return {_CONSTANT_METHODS[f.name]: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}

    @classmethod
    def from_constant_methods(cls, returned: dict[str, list[Any]], source: str) -> ArtifactInfo:
        """From what a program's constant methods return (a list of values each)."""
        if _CONSTANT_METHODS["tile"] not in returned:
            raise CeaError(f"'{source}' is an ExecuTorch program, but not one cea-edge exported "
                           f"(no {_CONSTANT_METHODS['tile']} method)")
        values = {}
        for f in fields(cls):
            value = returned.get(_CONSTANT_METHODS[f.name])
            if value is not None:
                values[f.name] = (float(value[0]), float(value[1])) if f.name == "value_range" else value[0]
        _check_strings(values, source, lambda name: f"constant method {_CONSTANT_METHODS[name]}")
        return check_artifact_sizes(cls(**_with_fallbacks(values)), source)


_STRING_KEYS = {"preset": "preset", "tile": "tile", "overlap": "overlap", "precision": "precision",
                "checkpoint_sha256": "checkpoint_sha256", "context_size": "context", "value_range": "value_range",
                "source_sha256": "source_sha256"}
_CONSTANT_METHODS = {"preset": "preset", "tile": "tile_size", "overlap": "tile_overlap", "precision": "precision",
                     "checkpoint_sha256": "checkpoint_sha256", "context_size": "context_size",
                     "value_range": "value_range", "source_sha256": "source_sha256"}
CONSTANT_METHOD_NAMES = tuple(_CONSTANT_METHODS.values())


def _to_string(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return str(value)


def _from_string(name: str, text: str, source: str) -> Any:
    try:
        if name == "value_range":
            low, high = (float(v) for v in text.split(","))
            return (low, high)
        return int(text) if name in ("tile", "overlap", "context_size") else text
    except ValueError:
        raise CeaError(f"'{source}': metadata {METADATA_PREFIX}{_STRING_KEYS[name]} = {_shown(text)} is not valid") from None


def _shown(value: Any) -> str:
    """A value a file states, for a message: quoted, ASCII (escapes) and cut to 40 characters; else its type."""
    if not isinstance(value, str):
        return f"of type {type(value).__name__}"
    escaped = ascii(value)[1:-1]
    return f"'{escaped[:40]}'" + (f"... ({len(value)} characters)" if len(escaped) > 40 else "")


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _check_strings(values: dict[str, Any], source: str, field: Callable[[str], str]) -> None:
    """The strings a file states -- preset, precision, checksums -- are what an exporter writes, or CeaError
    naming the file and the field (``field(name)``: where the store keeps it). They reach messages, reports
    and the preset's memory estimate: an unknown name, a 10 kB or non-ASCII string is refused here, once."""

    wanted = {"preset": (lambda text: preset_named(text) is not None,
                         f"a preset cea-edge knows ({', '.join(PRESETS)}, or their -noadapter/-static variants)"),
              "precision": (lambda text: text in PRECISIONS, f"a precision of the export recipes ({', '.join(PRECISIONS)})"),
              **{name: (lambda text: not text or SHA256_HEX.fullmatch(text), "a sha256 (64 lowercase hex digits)")
                 for name in ("checkpoint_sha256", "source_sha256")}}
    for name, (valid, expected) in wanted.items():
        if name not in values:
            continue  # an older artifact without the field: _with_fallbacks says so
        value = values[name]
        if not isinstance(value, str) or not valid(value):
            raise CeaError(f"'{source}': its {field(name)} {_shown(value)} is not {expected}; the file is damaged or was "
                           "not exported by cea-edge: export it again")


def check_artifact_sizes(info: ArtifactInfo, source: str) -> ArtifactInfo:
    """``info`` when the sizes it states are sane and one tile (and the context input) fits the memory
    here by model/memory.py's estimate; else CeaError naming the largest that fits. A file states these
    sizes: they are bounded before the runtime allocates a single tile (metadata saying 10^9 would ask
    for exabytes)."""
    for name, value, low in (("tile", info.tile, 1), ("overlap", info.overlap, 0), ("context", info.context_size, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise CeaError(f"'{source}': its metadata {name} {value!r} is not valid (an integer >= {low}); "
                           "the file is damaged or was not exported by cea-edge: export it again")
    if info.overlap >= info.tile:
        raise CeaError(f"'{source}': its metadata overlap {info.overlap} is not below its tile {info.tile}; "
                       "the file is damaged: export it again")
    # The artifact's preset (a variant, edge2-static, by its base name); unknown (an artifact exported before
    # the field existed): the lightest preset, so only what surely cannot fit is refused.
    config = preset_named(str(info.preset)) or min(PRESETS.values(), key=lambda preset: activation_bytes(preset, info.tile))
    for what, side in (("tile", info.tile), ("context size", info.context_size)):
        if side:
            try:
                check_fits(config, side, what=what)
            except CeaError as error:
                raise CeaError(f"'{source}' (its metadata): {error} (export it again with a smaller "
                               f"--{what.replace(' ', '-')})") from None
    return info


def _with_fallbacks(values: dict[str, Any]) -> dict[str, Any]:
    # Artifacts exported before a field existed lack it: say so instead of refusing them.
    values = {"preset": "unknown", "overlap": 0, "precision": "unknown", "checkpoint_sha256": ""} | values
    return values | {"source_sha256": values.get("source_sha256") or values["checkpoint_sha256"]}
