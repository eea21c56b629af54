"""Export recipes: per-target settings as data (TOML files under ``export/``), typed here.

A recipe holds every default of one target -- tile, overlap, precision, delegate,
deployment target, compute units, opset and the verification bars. The CLI reads the
bundled recipe of the target (or ``--recipe PATH``, a user's edited copy) and applies
its flags on top; every value is validated here, once, with a message per mistake.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError
from cea_edge.recipe_io import bundled_recipe, check_keys, check_type, read_recipe, recipe_dirs
from cea_edge.targets import PRECISION_MEANINGS, PRECISIONS, QUANTIZED_PRECISIONS, TARGETS

DELEGATES = ("xnnpack", "coreml")  # ExecuTorch backends
COMPUTE_UNITS = ("ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE")  # coremltools.ComputeUnit names
MIN_ONNX_OPSET = 17  # LayerNorm-free graphs need nothing newer; 17 is what mobile ORT builds take

RECIPE_DIRS = recipe_dirs("export")
# The folder `python -m cea_edge.export` writes to without --out: here, torch-free, so that
# enhance finds export's default output without importing an exporter.
ARTIFACTS_DIR = Path("artifacts")


@dataclass(frozen=True)
class Recipe:
    """Everything one export needs besides the checkpoint and the output folder.

    The recipe files are the one source of the values: the fields without a default here
    must be in the file (see export/*.toml for what each means).
    """

    target: str
    tile: int
    overlap: int  # recommended tile overlap for the tiled runtime (recorded, not used here)
    context_size: int  # side of the global-context image (the context graph's input); 0: no global graphs
    precision: str
    fp32_max_abs_error: float  # bar for fp32 artifacts vs the PyTorch fp32 model
    fp16_min_psnr_db: float  # bar for fp16 artifacts vs the PyTorch fp32 model
    int8_min_psnr_db: float  # bar for int8 artifacts vs the PyTorch QAT model (NNCF fake quantization)
    delegate: str | None = None  # executorch only
    deployment_target: str | None = None  # coreml (and the executorch coreml delegate): e.g. "iOS17"
    compute_units: str | None = None  # coreml: one of COMPUTE_UNITS
    opset: int | None = None  # onnx only
    source: str = "defaults"  # where the recipe was read from (for the manifest)
    flags: tuple[str, ...] = ()  # fields a command-line flag set: messages name the flag, not the file

    def with_overrides(self, **overrides: Any) -> "Recipe":
        """The recipe with the CLI's flags applied (None means 'not given'), validated."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return validate(replace(self, **given, flags=tuple(dict.fromkeys(self.flags + tuple(given)))))

    def where(self, name: str) -> str:
        """Where the value of ``name`` came from, with it: "--tile 0" or "recipe export/onnx.toml: tile 0"."""
        value = getattr(self, name)
        return f"--{name.replace('_', '-')} {value}" if name in self.flags else f"recipe {self.source}: {name} {value}"

    def to_dict(self) -> dict[str, Any]:
        """The recipe as the manifest records it (its values, not which flag set them)."""
        values = asdict(self)
        del values["flags"]
        return values

    @property
    def quantized(self) -> bool:
        return self.precision in QUANTIZED_PRECISIONS


def _check_type(recipe: Recipe, name: str, kind: type | tuple[type, ...]) -> None:
    check_type(recipe.source, name, getattr(recipe, name), kind)


def _check_choice(recipe: Recipe, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(recipe, name)
    if value is not None and value not in choices:
        raise CeaError(f"recipe {recipe.source}: unknown {name.replace('_', ' ')} '{value}'; choose one of: {', '.join(choices)}")


def validate(recipe: Recipe) -> Recipe:
    """Return the recipe if every field makes sense for its target, else raise CeaError."""
    for name in ("tile", "overlap", "context_size", "opset"):
        _check_type(recipe, name, int)
    for name in ("fp32_max_abs_error", "fp16_min_psnr_db", "int8_min_psnr_db"):
        _check_type(recipe, name, (int, float))
    for name in ("precision", "delegate", "deployment_target", "compute_units"):
        _check_type(recipe, name, str)
    _check_choice(recipe, "target", tuple(TARGETS))
    _check_choice(recipe, "precision", PRECISIONS)
    _check_choice(recipe, "delegate", DELEGATES)
    _check_choice(recipe, "compute_units", COMPUTE_UNITS)
    if recipe.tile <= 0:
        raise CeaError(f"{recipe.where('tile')}: must be positive")
    if not 0 <= recipe.overlap < recipe.tile:
        hint = "" if "overlap" in recipe.flags else "; pass --overlap"
        tile = f"--tile {recipe.tile}" if "tile" in recipe.flags else f"tile {recipe.tile}"
        raise CeaError(f"{recipe.where('overlap')}: must be in [0, tile) for {tile}{hint}")
    if recipe.context_size < 0:
        raise CeaError(f"{recipe.where('context_size')}: must be >= 0 (0: no global-context graphs)")
    if recipe.fp32_max_abs_error < 0:
        raise CeaError(f"recipe {recipe.source}: fp32_max_abs_error must be >= 0")
    if recipe.target == "executorch" and recipe.delegate is None:
        raise CeaError(f"recipe {recipe.source}: executorch needs a delegate ({', '.join(DELEGATES)})")
    if recipe.target != "executorch" and recipe.delegate is not None:
        raise CeaError(f"--delegate / 'delegate' applies to executorch only, not to {recipe.target}")
    for name in ("deployment_target", "compute_units"):  # Core ML settings: refused where nothing would read them
        if getattr(recipe, name) is not None and recipe.target == "onnx":
            raise CeaError(f"{recipe.where(name)}: applies to Core ML (--target coreml, or executorch --delegate "
                           "coreml), not to onnx")
        if name in recipe.flags and recipe.target == "executorch" and recipe.delegate != "coreml":
            raise CeaError(f"{recipe.where(name)}: applies to Core ML, and this executorch export uses the "
                           f"{recipe.delegate} delegate; pass --delegate coreml to build for Core ML")
    if recipe.target == "onnx":
        if recipe.opset is None or recipe.opset < MIN_ONNX_OPSET:
            raise CeaError(f"recipe {recipe.source}: onnx needs opset >= {MIN_ONNX_OPSET}, got {recipe.opset}")
    elif recipe.opset is not None:
        raise CeaError(f"recipe {recipe.source}: 'opset' applies to onnx only")
    precisions = TARGETS[recipe.target].precisions
    if recipe.precision not in precisions:
        formats = " / ".join(target.title for target in TARGETS.values() if recipe.precision in target.precisions)
        *others, last = reversed(precisions)  # the smallest first
        raise CeaError(f"precision {recipe.precision} ({PRECISION_MEANINGS[recipe.precision]}) is a {formats} format; "
                       f"for {recipe.target} use {', '.join(others)} or {last}")
    if recipe.precision == "int8" and recipe.delegate == "coreml":
        raise CeaError("int8 ExecuTorch programs are built for XNNPACK (--delegate xnnpack); "
                       "for Apple devices export --target coreml --precision int8")
    uses_coreml = recipe.target == "coreml" or recipe.delegate == "coreml"
    if uses_coreml and (recipe.deployment_target is None or recipe.compute_units is None):
        raise CeaError(f"recipe {recipe.source}: Core ML needs deployment_target (e.g. \"iOS17\") and compute_units")
    return recipe


# The recipe file states these (the one source of their values); the target-specific ones may be absent.
REQUIRED_KEYS = tuple(f.name for f in fields(Recipe) if f.default is MISSING)
OPTIONAL_KEYS = tuple(f.name for f in fields(Recipe) if f.default is not MISSING and f.name not in ("source", "flags"))


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate one recipe file (the bars may sit in a [verify] table)."""
    values = read_recipe(path, tables=("verify",), kind="export")
    check_keys(str(path), values, REQUIRED_KEYS, OPTIONAL_KEYS)
    return validate(Recipe(**values, source=str(path)))


def default_recipe_path(target: str) -> Path:
    """The bundled recipe of ``target`` (CeaError, saying to pass --recipe, when none is installed)."""
    return bundled_recipe("export", target, RECIPE_DIRS)


def default_out_dir(target: str) -> Path:
    return ARTIFACTS_DIR / target


def artifact_name(preset: str, recipe: Recipe) -> str:
    """e.g. edge2-fp16-256.onnx; ExecuTorch names its delegate: edge2-xnnpack-fp32-256.pte."""
    parts = [preset] + ([recipe.delegate] if recipe.delegate else []) + [recipe.precision, str(recipe.tile)]
    return "-".join(parts) + TARGETS[recipe.target].suffix


def recipe_for(target: str, path: str | Path | None = None) -> Recipe:
    """The recipe for ``target``: the given file, else the bundled one; targets must agree."""
    if target not in TARGETS:
        raise CeaError(f"unknown target '{target}'; choose one of: {', '.join(TARGETS)}")
    recipe = load_recipe(default_recipe_path(target) if path is None else path)
    if recipe.target != target:
        raise CeaError(f"recipe {recipe.source} is for target '{recipe.target}', not '{target}'")
    return recipe
