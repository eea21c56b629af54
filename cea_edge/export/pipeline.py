"""One export: checkpoint + recipe -> verified artifact + manifest, the same for every target.

Order matters for "nothing written on error": cheap checks first (recipe, toolchain,
checkpoint, tile, output folder), then the build into a staged name, verification of the
staged artifact, and only then the rename into place.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cea_edge.atomic import atomic_write_json, prepare_output_dir, publish, refuse_special, remove_staged, staged_outputs
from cea_edge.contract import CONTEXT_GRAPH, GLOBAL_GRAPH, SIBLING_SUFFIXES, ArtifactInfo, sibling_path
from cea_edge.errors import CeaError
from cea_edge.export.manifest import ArtifactDigest, artifact_digest, build_manifest
from cea_edge.export.recipes import Recipe, artifact_name
from cea_edge.export.verify import Verification, raise_if_failed, skipped_verification
from cea_edge.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    DEFAULT_QAT_CHECKPOINT,
    LoadedCheckpoint,
    file_sha256,
    find_source_checkpoint,
    load_checkpoint,
    source_record,
    source_sha256,
)
from cea_edge.model.config import PRESETS, CEAConfig, preset_named
from cea_edge.model.memory import USABLE_FRACTION, activation_bytes, available_memory, largest_tile
from cea_edge.model.network import CEANet
from cea_edge.targets import TARGETS

# Exporting a graph holds a multiple of one forward pass's activations (tracing, lowering, the
# verification runs in PyTorch and in the target runtime) on top of the toolchains themselves.
# Peak RSS growth of `export --target onnx --precision fp32 --context-size 0` over the same
# export at the smallest tile (/usr/bin/time -v, 2 CPU threads), (preset, tile, bytes):
MEASURED_EXPORT_GROWTH = (("tiny", 512, 457_396_224), ("tiny", 1024, 1_607_876_608),
                          ("edge", 512, 818_724_864), ("edge", 1024, 3_056_431_104))
# ... is 2.4-3.0 x activation_bytes at those tiles (3.2-3.3 x its per-pixel part, which dominates
# large tiles); 3.5 x leaves a margin, and the fixed part covers the toolchains (onnx,
# onnxruntime) imported after the check.
EXPORT_MEMORY_FACTOR = 3.5
EXPORT_FIXED_BYTES = 256 << 20


@dataclass
class ExportResult:
    artifact: Path
    manifest: Path
    digest: ArtifactDigest
    recipe: Recipe
    preset: str
    export_seconds: float
    verification: Verification
    summary: list[str]  # target-specific lines (delegation, program inspection)

    def describe(self) -> str:
        size = self.digest.bytes / 1e6
        lines = [
            (f"exported {self.artifact} ({size:.2f} MB, {self.recipe.precision}, tile {self.recipe.tile} "
             f"(overlap {self.recipe.overlap}), preset {self.preset}, {self.export_seconds:.1f} s)"),
            f"verification: {self.verification.summary()}",
            *self.summary,
            f"manifest: {self.manifest}",
        ]
        return "\n".join(lines)


def default_checkpoint(recipe: Recipe) -> Path:
    """The bundled QAT checkpoint for int8 precisions, else the bundled fp32 one."""
    return DEFAULT_QAT_CHECKPOINT if recipe.quantized else DEFAULT_CHECKPOINT


def check_quantization(loaded: LoadedCheckpoint, recipe: Recipe) -> None:
    """int8 needs a quantization-aware checkpoint, fp32/fp16 a float one. The messages name where the
    precision came from: the flag, or the recipe (the bundled ones say int8)."""
    if recipe.quantized and loaded.quantization is None:
        raise CeaError(f"'{loaded.path}' is a float checkpoint; {recipe.where('precision')} exports a "
                       "quantization-aware one. Make it with: python -m cea_edge.quantize "
                       f"--checkpoint {loaded.path} (or --ptq for post-training quantization), then pass "
                       "its runs/qat/final.pt; or pass --precision fp16 / fp32")
    if not recipe.quantized and loaded.quantization is not None:
        raise CeaError(f"'{loaded.path}' is quantization-aware ({loaded.quantization.get('method')}); export it "
                       "with --precision int8 (or int8w for Core ML), or pass the fp32 checkpoint for "
                       f"{recipe.where('precision')}")


def check_preset(loaded: LoadedCheckpoint) -> None:
    """An artifact names its preset, and the runtime opens only presets it knows (cea_edge/contract.py)."""
    if preset_named(loaded.config.name) is None:
        raise CeaError(f"'{loaded.path}' holds a model config named '{loaded.config.name}', which is no preset cea-edge "
                       f"knows ({', '.join(PRESETS)}); an artifact names its preset and the runtime refuses other "
                       "names: train it with --preset")


def check_sizes(config: CEAConfig, recipe: Recipe) -> None:
    """Tile and context size against the model (multiples of its min_tile; global context needs
    adapters) and against this machine's memory; each message names where the value came from."""
    step = config.min_tile
    if recipe.tile % step:
        raise CeaError(f"{recipe.where('tile')}: does not fit preset '{config.name}': tiles are multiples of {step} "
                       f"(downsampling x{config.downsample_factor} times a {config.adapter.grid}x{config.adapter.grid} "
                       "pooled grid)")
    if recipe.context_size and not config.adapter_sites:
        raise CeaError(f"this checkpoint has no adapters (preset '{config.name}'), so it has no global context: "
                       "export it with --context-size 0")
    if recipe.context_size % step:
        raise CeaError(f"{recipe.where('context_size')}: does not fit preset '{config.name}': use a multiple "
                       f"of {step} (or 0 for no global-context graphs)")
    for name in ("tile", "context_size"):
        check_export_memory(config, recipe, name)


def export_bytes(config: CEAConfig, size: int) -> int:
    """Estimated peak memory of exporting (tracing, lowering, verifying) a graph at ``size`` x ``size``."""
    return int(EXPORT_MEMORY_FACTOR * activation_bytes(config, size)) + EXPORT_FIXED_BYTES


def check_export_memory(config: CEAConfig, recipe: Recipe, name: str) -> None:
    """CeaError when exporting at the recipe's ``name`` (tile or context_size) cannot fit in memory here."""
    size, available = getattr(recipe, name), available_memory()
    if not size or available is None:
        return
    budget = int(available * USABLE_FRACTION)
    needed = export_bytes(config, size)
    if needed <= budget:
        return
    fits = largest_tile(config, int((budget - EXPORT_FIXED_BYTES) / EXPORT_MEMORY_FACTOR))
    raise CeaError(f"{recipe.where(name)}: exporting preset '{config.name}' at {size}x{size} needs about "
                   f"{needed / 1e9:.1f} GB of memory, more than the {budget / 1e9:.1f} GB this machine can give now "
                   f"({USABLE_FRACTION:.0%} of {available / 1e9:.1f} GB available); the largest that fits is "
                   + (str(fits) if fits else "none: free memory first"))


def fp32_source(loaded: LoadedCheckpoint) -> CEANet | None:
    """The fp32 model a QAT checkpoint came from, when that file is still here unchanged."""
    path = find_source_checkpoint(source_record(loaded), loaded.path.parent)
    return None if path is None else load_checkpoint(path).model.eval()


def quality_lines(loaded: LoadedCheckpoint) -> list[str]:
    """For a QAT checkpoint: the suite comparison `quantize` recorded (fp32 vs int8)."""
    quality = loaded.metadata.get("quality")
    if not loaded.quantization or not quality:
        return []
    return [(f"{loaded.quantization.get('method', 'qat')} int8 vs fp32 on {quality['suite']} (PyTorch, at quantization): "
             f"{quality['fp32']['psnr']:.2f} -> {quality['int8']['psnr']:.2f} dB ({-quality['drop_db']:+.3f} dB)")]


def describe_time_census(census: dict) -> str:
    """One line: the op time of an int8 tile by arithmetic, and the float ops that take most of it."""
    shares = ", ".join(f"{kind} {share:.1%}" for kind, share in census["shares"].items() if share)
    top = "; ".join(f"{op['type']} {op['share']:.1%}" for op in census["float_ops"][:3])
    return (f"op time ({census['source']}, {census['threads']} thread, {census['ms_per_run']:.1f} ms/tile): {shares}"
            + (f"; float ops: {top}" if top else ""))


def export(recipe: Recipe, checkpoint: Path | None, out_dir: Path, verify: bool = True,
           require_prediction: bool = False, time_census: bool = False, overwrite: bool = False) -> ExportResult:
    """Export ``checkpoint`` as ``recipe`` says into ``out_dir``; raises CeaError on any problem.

    checkpoint None: the bundled one for the precision (QAT for int8, fp32 otherwise).
    require_prediction: fail up front unless this machine can run the artifact in its
    runtime (without it, Core ML off macOS is verified by inspecting the program).
    time_census: int8 only, also record where a tile's op time goes by arithmetic
    (target_details.time_census). Measuring is the profiler's job: the target's time_census
    (cea_edge/targets.py) reaches it, so that nothing here imports the profile stage.
    """
    # The target's exporter module is imported here: each pulls in its toolchain only when asked for.
    target = TARGETS[recipe.target]
    exporter = target.exporter()
    exporter.check_toolchain(recipe)
    if require_prediction and not verify:
        raise CeaError("--require-prediction and --no-verify contradict each other")
    unavailable = exporter.prediction_unavailable(recipe)
    if require_prediction and unavailable:
        raise CeaError(f"prediction was required (--require-prediction) but {unavailable}; "
                       "drop the flag to verify by program inspection here")
    if time_census:
        why = ("it measures int8 exports (the float ops an int8 graph keeps)" if not recipe.quantized
               else f"{target.title} has no per-operator profiler reachable from Python" if not target.op_profiler
               else unavailable)
        if why:
            raise CeaError(f"--time-census: {why}; drop the flag")
    loaded = load_checkpoint(default_checkpoint(recipe) if checkpoint is None else checkpoint)
    check_quantization(loaded, recipe)
    check_preset(loaded)
    check_sizes(loaded.config, recipe)
    model = loaded.model.eval().fix_input_size(recipe.tile, recipe.tile)
    out_dir = prepare_output_dir(out_dir, "--out")

    checkpoint_sha256 = file_sha256(loaded.path)
    embedded = ArtifactInfo(loaded.config.name, recipe.tile, recipe.overlap, recipe.precision, checkpoint_sha256,
                            recipe.context_size, source_sha256=source_sha256(loaded, checkpoint_sha256))
    destination = out_dir / artifact_name(loaded.config.name, recipe)
    manifest_path = destination.with_name(destination.name + ".json")
    siblings = [sibling_path(destination, graph) for graph in SIBLING_SUFFIXES]
    for path in (destination, manifest_path, *siblings):  # before the build: a link or special file is never replaced
        refuse_special(path, "--out")
        if not overwrite and os.path.lexists(path):
            raise CeaError(f"'{path}' exists (an earlier export); pass --overwrite to replace that export "
                           "(its graph, siblings and manifest), or another --out")

    with staged_outputs(destination, manifest_path, replace=overwrite) as (staged_artifact, staged_manifest):
        try:
            started = time.perf_counter()
            built = exporter.build(model, recipe, embedded, staged_artifact)
            export_seconds = time.perf_counter() - started
            if verify:
                source = fp32_source(loaded) if recipe.quantized and not built.unavailable else None
                verification = target.verify(
                    staged_artifact, built, embedded, model, recipe,
                    "PyTorch QAT model" if recipe.quantized else "PyTorch fp32",
                    None if source is None else source.fix_input_size(recipe.tile, recipe.tile))
                raise_if_failed(verification, destination.name)
                if verification.global_context and verification.global_context["passed"] is False:
                    raise_if_failed(Verification(**verification.global_context), f"{destination.name} (global context)")
            else:
                verification = skipped_verification()
            details = dict(built.details)
            census_line = []
            if time_census:
                # Where an int8 tile's time goes, by arithmetic: the float ops it keeps, measured.
                details["time_census"] = target.time_census(staged_artifact)
                census_line = [describe_time_census(details["time_census"])]
            digest = artifact_digest(staged_artifact)
            manifest = build_manifest(
                artifact=destination, digest=digest, recipe=recipe.to_dict(), preset=loaded.config.name,
                config=loaded.config.to_dict(), checkpoint=loaded.path.resolve(), checkpoint_sha256=checkpoint_sha256,
                min_tile=loaded.config.min_tile, io_names=built.io_names, export_seconds=export_seconds,
                verification=verification.to_dict(), details=details,
            )
            if built.siblings:
                manifest["siblings"] = {name: {"file": sibling_path(destination, name).name,
                                               **asdict(artifact_digest(path))} for name, path in built.siblings.items()}
            atomic_write_json(staged_manifest, manifest)
            for name, path in built.siblings.items():  # before the main file: it names them by convention
                publish(path, sibling_path(destination, name), replace=overwrite)
        except BaseException:
            # every staged sibling, also those of a build that failed halfway (named after the staged artifact)
            for path in (sibling_path(staged_artifact, graph) for graph in (CONTEXT_GRAPH, GLOBAL_GRAPH)):
                if path.exists():
                    remove_staged(path)
            raise
    for graph in SIBLING_SUFFIXES:  # an export replaced by one without that graph: its old sibling goes too
        stale = sibling_path(destination, graph)
        if graph not in built.siblings and os.path.lexists(stale):
            remove_staged(stale)
    return ExportResult(destination, manifest_path, digest, recipe, loaded.config.name, export_seconds,
                        verification, built.summary + census_line + quality_lines(loaded))
