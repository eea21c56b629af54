"""Export recipes: per-target settings as data (TOML files under ``export/``), typed here.

A recipe holds every default of one target -- tile, overlap, precision, delegate,
deployment target, compute units, opset and the verification bars. The CLI reads the
bundled recipe of the target (or ``--recipe PATH``, a user's edited copy) and applies
its flags on top; every value is validated here, once, with a message per mistake.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError

TARGETS = ("executorch", "coreml", "onnx")
# int8 joins this tuple with the quantization stage; every exporter branches on it.
PRECISIONS = ("fp32", "fp16")
DELEGATES = ("xnnpack", "coreml")  # ExecuTorch backends
COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")  # coremltools.ComputeUnit names
MIN_ONNX_OPSET = 17  # LayerNorm-free graphs need nothing newer; 17 is what mobile ORT builds take

# Where the bundled recipes are: the repository's export/ folder (a source checkout or an
# editable install), else <prefix>/share/cea-edge/export/ (pyproject's data-files, for a
# regular install).
RECIPE_DIRS = (Path(__file__).resolve().parents[2] / "export", Path(sys.prefix) / "share" / "cea-edge" / "export")


@dataclass(frozen=True)
class Recipe:
    """Everything one export needs besides the checkpoint and the output folder."""

    target: str
    tile: int = 256
    overlap: int = 32  # recommended tile overlap for the tiled runtime (recorded, not used here)
    precision: str = "fp32"
    delegate: str | None = None  # executorch only
    deployment_target: str | None = None  # coreml (and the executorch coreml delegate): e.g. "iOS17"
    compute_units: str | None = None  # coreml: one of COMPUTE_UNITS
    opset: int | None = None  # onnx only
    fp32_max_abs_error: float = 1e-4  # bar for fp32 artifacts vs the PyTorch fp32 model
    fp16_min_psnr_db: float = 45.0  # bar for fp16 artifacts vs the PyTorch fp32 model
    source: str = "defaults"  # where the recipe was read from (for the manifest)

    def with_overrides(self, **overrides: Any) -> "Recipe":
        """The recipe with the CLI's flags applied (None means 'not given'), validated."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return validate(replace(self, **given))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_type(recipe: Recipe, name: str, kind: type | tuple[type, ...]) -> None:
    value = getattr(recipe, name)
    # bool is an int subclass: `tile = true` must not pass as 1.
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise CeaError(f"recipe {recipe.source}: '{name}' must be {_kind_name(kind)}, got {value!r}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({int: "an integer", float: "a number", str: "a string"}[k] for k in kinds)


def _check_choice(recipe: Recipe, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(recipe, name)
    if value is not None and value not in choices:
        raise CeaError(f"recipe {recipe.source}: unknown {name.replace('_', ' ')} '{value}'; choose one of: {', '.join(choices)}")


def validate(recipe: Recipe) -> Recipe:
    """Return the recipe if every field makes sense for its target, else raise CeaError."""
    for name in ("tile", "overlap", "opset"):
        _check_type(recipe, name, int)
    for name in ("fp32_max_abs_error", "fp16_min_psnr_db"):
        _check_type(recipe, name, (int, float))
    for name in ("precision", "delegate", "deployment_target", "compute_units"):
        _check_type(recipe, name, str)
    _check_choice(recipe, "target", TARGETS)
    _check_choice(recipe, "precision", PRECISIONS)
    _check_choice(recipe, "delegate", DELEGATES)
    _check_choice(recipe, "compute_units", COMPUTE_UNITS)
    if recipe.tile <= 0:
        raise CeaError(f"recipe {recipe.source}: tile must be positive, got {recipe.tile}")
    if not 0 <= recipe.overlap < recipe.tile:
        raise CeaError(f"recipe {recipe.source}: overlap must be in [0, tile), got {recipe.overlap} for tile {recipe.tile} (pass --overlap)")
    if recipe.fp32_max_abs_error < 0:
        raise CeaError(f"recipe {recipe.source}: fp32_max_abs_error must be >= 0")
    if recipe.target == "executorch" and recipe.delegate is None:
        raise CeaError(f"recipe {recipe.source}: executorch needs a delegate ({', '.join(DELEGATES)})")
    if recipe.target != "executorch" and recipe.delegate is not None:
        raise CeaError(f"--delegate / 'delegate' applies to executorch only, not to {recipe.target}")
    if recipe.target == "onnx":
        if recipe.opset is None or recipe.opset < MIN_ONNX_OPSET:
            raise CeaError(f"recipe {recipe.source}: onnx needs opset >= {MIN_ONNX_OPSET}, got {recipe.opset}")
    elif recipe.opset is not None:
        raise CeaError(f"recipe {recipe.source}: 'opset' applies to onnx only")
    uses_coreml = recipe.target == "coreml" or recipe.delegate == "coreml"
    if uses_coreml and (recipe.deployment_target is None or recipe.compute_units is None):
        raise CeaError(f"recipe {recipe.source}: Core ML needs deployment_target (e.g. \"iOS17\") and compute_units")
    return recipe


def _flatten(document: dict[str, Any], source: str) -> dict[str, Any]:
    """TOML layout: top-level keys plus an optional [verify] table holding the bars."""
    values = {key: value for key, value in document.items() if key != "verify"}
    verify = document.get("verify", {})
    if not isinstance(verify, dict):
        raise CeaError(f"recipe {source}: 'verify' must be a table ([verify])")
    overlap = set(values) & set(verify)
    if overlap:
        raise CeaError(f"recipe {source}: {sorted(overlap)} given twice")
    return values | verify


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate one recipe file."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise CeaError(f"recipe '{path}' does not exist")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CeaError(f"recipe '{path}' is not valid TOML: {error}") from None
    values = _flatten(document, source)
    known = {f.name for f in fields(Recipe)} - {"source"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CeaError(f"recipe {source}: unknown key(s) {unknown}; known keys: {', '.join(sorted(known))}")
    if "target" not in values:
        raise CeaError(f"recipe {source}: missing 'target' ({', '.join(TARGETS)})")
    return validate(Recipe(**values, source=source))


def default_recipe_path(target: str) -> Path:
    """The first bundled recipe for ``target`` that exists (else the repository path, for the message)."""
    candidates = [folder / f"{target}.toml" for folder in RECIPE_DIRS]
    return next((path for path in candidates if path.is_file()), candidates[0])


def recipe_for(target: str, path: str | Path | None = None) -> Recipe:
    """The recipe for ``target``: the given file, else the bundled one; targets must agree."""
    if target not in TARGETS:
        raise CeaError(f"unknown target '{target}'; choose one of: {', '.join(TARGETS)}")
    if path is None:
        path = default_recipe_path(target)
        if not path.is_file():  # e.g. a non-editable install without the repository's export/ folder
            raise CeaError(f"no bundled recipe for {target} at '{path}'; pass --recipe PATH (copy one from the repository's export/)")
    recipe = load_recipe(path)
    if recipe.target != target:
        raise CeaError(f"recipe {recipe.source} is for target '{recipe.target}', not '{target}'")
    return recipe

