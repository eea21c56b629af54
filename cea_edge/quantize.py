"""`python -m cea_edge.quantize`: NNCF quantization-aware training of a trained checkpoint to int8.

NNCF inserts fake quantizers (weights and activations) into the fp32 model and sets their
ranges on a seeded calibration set drawn from the training distribution; the foundation's
training loop then fine-tunes weights and ranges together (same losses, progress bar,
torchrun). ``--ptq`` (= ``--steps 0``) stops after calibration: post-training quantization,
the baseline. The result is a checkpoint that restores exactly (NNCF config + state).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from cea_edge import __version__
from cea_edge.atomic import atomic_write_json
from cea_edge.data.stream import TrainingStream
from cea_edge.data.suite import SUITES, build_suite
from cea_edge.errors import CeaError, run_cli
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    file_sha256,
    find_source_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from cea_edge.model.network import CEANet
from cea_edge.model.quantized import import_nncf, portable_config, quantizer_inputs
from cea_edge.recipe_io import bundled_recipe, check_type, read_recipe
from cea_edge.toolchain import quiet_toolchains
from cea_edge.train import RunProgress, TrainConfig, make_optimizer, run_loop, setup_distributed

SCHEMES = ("int8",)
NNCF_PRESETS = ("mixed", "performance")
OVERFLOW_FIXES = ("enable", "disable", "first_layer_only")
# NNCF range estimators for activations: minmax = the calibration set's extremes;
# mean_minmax = the mean of per-sample extremes (NNCF's default; clips bright images).
ACTIVATION_RANGES = ("minmax", "mean_minmax")
# What QAT fits: "fp32" = the source model's outputs (distillation; the int8 model is judged
# against it), "clean" = the training stream's clean images, like training.
QAT_TARGETS = ("fp32", "clean")
# Fewer patches than this give activation ranges that swing with the seed.
MIN_CALIBRATION_SIZE = 16
TRAIN_KEYS = ("steps", "batch", "patch", "lr", "min_lr", "warmup", "seed", "val_every", "save_every")


@dataclass(frozen=True)
class QuantRecipe:
    """One quantization scheme (a TOML file under quantization/)."""

    scheme: str = "int8"
    preset: str = "mixed"
    overflow_fix: str = "enable"
    activation_range: str = "minmax"
    target: str = "fp32"
    ignored_patterns: tuple[str, ...] = ()
    calibration_size: int = 64
    calibration_patch: int = 128
    steps: int = 600
    batch: int = 8
    patch: int = 128
    lr: float = 1e-4
    min_lr: float = 1e-6
    warmup: int = 20
    seed: int = 1
    val_every: int = 100
    save_every: int = 100
    source: str = "defaults"

    def with_overrides(self, **overrides: Any) -> "QuantRecipe":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def train_config(self, preset: str, adapters: bool, val_suite: str) -> TrainConfig:
        return TrainConfig(preset=preset, adapters=adapters, val_suite=val_suite,
                           **{key: getattr(self, key) for key in TRAIN_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ignored_patterns": list(self.ignored_patterns)}

    @property
    def ptq(self) -> bool:
        return self.steps == 0


def validate(recipe: QuantRecipe, downsample: int | None = None) -> QuantRecipe:
    source = recipe.source
    for name in ("calibration_size", "calibration_patch", *TRAIN_KEYS):
        check_type(source, name, getattr(recipe, name), (int, float) if name in ("lr", "min_lr") else int)
    for name, choices in (("scheme", SCHEMES), ("preset", NNCF_PRESETS), ("overflow_fix", OVERFLOW_FIXES),
                          ("activation_range", ACTIVATION_RANGES), ("target", QAT_TARGETS)):
        if getattr(recipe, name) not in choices:
            raise CeaError(f"recipe {source}: unknown {name.replace('_', ' ')} {getattr(recipe, name)!r}; "
                           f"choose one of: {', '.join(choices)}")
    if not all(isinstance(p, str) for p in recipe.ignored_patterns):
        raise CeaError(f"recipe {source}: 'ignored_patterns' must be a list of strings")
    if recipe.calibration_size < MIN_CALIBRATION_SIZE:
        raise CeaError(f"calibration set too small: {recipe.calibration_size} patches; NNCF's ranges need at least "
                       f"{MIN_CALIBRATION_SIZE} (set calibration_size in {source} or pass --calibration-size)")
    if recipe.steps < 0 or min(recipe.batch, recipe.patch, recipe.val_every, recipe.save_every, recipe.lr) <= 0:
        raise CeaError(f"recipe {source}: steps must be >= 0; batch, patch, val_every, save_every and lr positive")
    if downsample is not None:
        for name in ("patch", "calibration_patch"):
            if getattr(recipe, name) % downsample:
                raise CeaError(f"{name} {getattr(recipe, name)} must be a multiple of {downsample} for this preset")
    return recipe


def recipe_from_values(values: dict[str, Any], source: str) -> QuantRecipe:
    """A validated recipe from plain values: a TOML file's, or those a checkpoint recorded (to_dict)."""
    patterns = values.get("ignored_patterns", [])
    if not isinstance(patterns, list):
        raise CeaError(f"recipe {source}: 'ignored_patterns' must be a list of strings")
    return validate(QuantRecipe(**(values | {"ignored_patterns": tuple(patterns), "source": source})))


def load_quant_recipe(path: str | Path | None = None) -> QuantRecipe:
    """The given recipe file, else the bundled quantization/int8.toml."""
    path = bundled_recipe("quantization", "int8") if path is None else Path(path)
    values = read_recipe(path, {f.name for f in fields(QuantRecipe)} - {"source"}, tables=("train",))
    return recipe_from_values(values, str(path))


def calibration_set(recipe: QuantRecipe) -> list[torch.Tensor]:
    """Seeded degraded patches from the training stream (its own seed: not the fine-tuning batches)."""
    stream = TrainingStream(recipe.calibration_patch, seed=10_000 + recipe.seed)
    degraded, _ = stream.batch(recipe.calibration_size)
    return [patch[None] for patch in degraded]


def insert_quantizers(model: CEANet, recipe: QuantRecipe, calibration: list[torch.Tensor]) -> CEANet:
    """nncf.quantize: fake quantizers on weights and activations, ranges from the calibration set."""
    nncf = import_nncf()
    from nncf.quantization.advanced_parameters import (
        AdvancedQuantizationParameters,
        OverflowFix,
        QuantizationParameters,
    )
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    model.eval()
    ignored = nncf.IgnoredScope(patterns=list(recipe.ignored_patterns), validate=False)
    with quiet_toolchains():  # NNCF's own progress bars and notices
        quantized = nncf.quantize(
            model, nncf.Dataset(calibration), subset_size=len(calibration),
            preset=nncf.QuantizationPreset(recipe.preset), ignored_scope=ignored,
            advanced_parameters=AdvancedQuantizationParameters(
                overflow_fix=OverflowFix(recipe.overflow_fix),
                # NNCF would quantize the inputs of depthwise convolutions per channel; onnxruntime's
                # integer kernels (QLinearConv) and XNNPACK take per-tensor activations only.
                activations_quantization_params=QuantizationParameters(per_channel=False),
                activations_range_estimator_params=getattr(RangeEstimatorParametersSet, recipe.activation_range.upper()),
            ),
        )
    pin_input_range(quantized)
    if recipe.overflow_fix != "disable":
        hold_overflow_range(quantized, calibration[0])
    return quantized


def pin_input_range(model: CEANet) -> int:
    """Quantize the input image on exactly [0, 1] in 255 steps, and keep it there in QAT.

    That grid holds every value of an 8-bit photo, so the first quantizer loses nothing on
    real inputs; calibrated instead, it followed the calibration patches (0 to 0.85 with
    NNCF's default estimator: every brighter pixel clipped). Returns the quantizers pinned.
    """
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import AsymmetricQuantizer

    pinned = 0
    for name, hook in get_hook_storage(model).named_hooks():
        if isinstance(hook, AsymmetricQuantizer) and name.startswith(f"post_hooks.{IMAGE_INPUT}__"):
            with torch.no_grad():
                hook.input_low.fill_(0.0)
                hook.input_range.fill_(1.0 - hook.eps)
            hook.input_low.requires_grad_(False)
            hook.input_range.requires_grad_(False)
            pinned += 1
    return pinned


IMAGE_INPUT = "image"  # CEANet.forward's argument: NNCF names the input's quantizer after it

# NNCF's overflow fix sets the weights it covers (not depthwise convolutions) to at most
# this many levels either side of zero (8-bit levels, doubled scale).
HALF_RANGE_LEVEL = 64


def hold_overflow_range(model: CEANet, example: torch.Tensor) -> int:
    """Keep the overflow fix through QAT; returns how many weight quantizers were rebuilt.

    NNCF's torch backend applies the fix only to the *initial* scales: the quantizers
    stay 8-bit, and QAT then trains the scales down until weights reach level 78 of 127
    (measured after 400 steps), where onnxruntime's u8 x s8 kernels on CPUs without VNNI
    saturate. Rebuilt as 7-bit (NNCF's half_range spec, saved in the checkpoint's
    config), the same weights keep at most 63 levels however the scales train.
    """
    from nncf.torch.function_hook.wrapper import get_hook_storage
    from nncf.torch.quantization.layers import PTQuantizerSpec, SymmetricQuantizer

    storage = get_hook_storage(model)
    rebuilt = 0
    for name, seen in quantizer_inputs(model, example).items():
        old = seen.quantizer
        if seen.weight_of is None or not isinstance(old, SymmetricQuantizer) or old.is_half_range:
            continue
        with torch.no_grad():
            step = (old.scale.abs() + old.eps) / old.level_high
            if torch.max(torch.abs(old(seen.tensor)) / step) > HALF_RANGE_LEVEL + 0.5:
                continue  # a layer the fix does not cover (depthwise): full 8-bit range
            new = SymmetricQuantizer(PTQuantizerSpec.from_state(old._qspec.get_state() | {"half_range": True}))
            new.signed = old.signed
            new.scale = nn.Parameter(step * new.level_high - new.eps)
        storage.set_submodule(name, new)
        rebuilt += 1
    return rebuilt


def quantization_record(model: CEANet, recipe: QuantRecipe, source: dict[str, Any]) -> dict[str, Any]:
    """What a QAT checkpoint carries besides the weights: enough to rebuild the quantizers exactly."""
    nncf = import_nncf()
    return {"scheme": recipe.scheme, "method": "ptq" if recipe.ptq else "qat", "recipe": recipe.to_dict(),
            "source_checkpoint": source, "nncf": nncf.__version__, "nncf_config": portable_config(nncf.torch.get_config(model))}


def quantize(checkpoint: Path, recipe: QuantRecipe, out: Path, resume: Path | None = None,
             device_name: str | None = None, progress: bool = True, val_suite: str = "aio-synth-mini") -> Path:
    """Quantize (and fine-tune) ``checkpoint``; returns the final checkpoint's path."""
    env = setup_distributed(device_name)
    torch.manual_seed(recipe.seed)
    if resume is not None:
        loaded = load_checkpoint(resume)
        if loaded.quantization is None or loaded.training_state is None:
            raise CeaError(f"cannot resume from '{resume}': it is not the last.pt of a quantization run")
        model = loaded.model.to(env.device)
        pin_input_range(model)  # requires_grad is not part of a checkpoint
        record = loaded.quantization
        recipe = recipe_from_values(record["recipe"], record["recipe"]["source"])
        state = RunProgress(loaded.training_state["step"], loaded.metadata.get("train_seconds", 0.0),
                            loaded.metadata.get("validation", []))
    else:
        source = load_checkpoint(checkpoint)
        if source.quantization is not None:
            raise CeaError(f"'{checkpoint}' is already quantized ({source.quantization.get('method')}); "
                           "pass the fp32 checkpoint it came from")
        validate(recipe, source.config.downsample_factor)
        origin = {"path": str(checkpoint), "sha256": file_sha256(source.path), "preset": source.config.name,
                  "step": source.metadata.get("step")}
        model = insert_quantizers(source.model, recipe, calibration_set(recipe)).to(env.device)
        record = quantization_record(model, recipe, origin)
        state = RunProgress()

    teacher = None
    if recipe.target == "fp32" and not recipe.ptq:
        teacher = fp32_teacher(record["source_checkpoint"]).to(env.device)
    config = recipe.train_config(model.config.name, bool(model.adapters), val_suite)
    optimizer, scheduler = make_optimizer(model, config)
    if resume is not None:
        optimizer.load_state_dict(loaded.training_state["optimizer"])
        scheduler.load_state_dict(loaded.training_state["scheduler"])

    def save(path: Path, step: int, seconds: float, training_state: dict | None) -> None:
        metadata = {"quantize_config": asdict(config), "step": step, "train_seconds": seconds, "world_size": env.world,
                    "validation": state.history, "cea_edge": __version__, "torch": str(torch.__version__)}
        save_checkpoint(path, model, metadata, training_state, quantization=record)

    if recipe.ptq:
        final = out / "final.pt"
        if env.main:
            save(final, 0, 0.0, None)
        if env.world > 1:
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
        return final
    return run_loop(model, config, env, optimizer, scheduler, state, out, save, progress,
                    f"{model.config.name} {record['method']}", teacher=teacher)


def fp32_teacher(source: dict[str, Any]) -> CEANet:
    """The fp32 model a QAT run started from (its file must still be there, unchanged)."""
    path = find_source_checkpoint(source)
    if path is None:
        raise CeaError(f"QAT distils from the fp32 checkpoint it started from, '{source['path']}', which is missing or "
                       "changed; restore it, or set target = \"clean\" in the recipe")
    teacher = load_checkpoint(path).model.eval()
    teacher.requires_grad_(False)
    return teacher


def compare_quality(fp32_checkpoint: Path, quantized_checkpoint: Path, suite: str) -> dict[str, Any]:
    """fp32 vs quantized (NNCF fake quantization in PyTorch) on an evaluation suite."""
    samples = build_suite(suite)
    rows = {}
    for label, path in (("fp32", fp32_checkpoint), ("int8", quantized_checkpoint)):
        report = evaluate_model(load_checkpoint(path).model, samples, suite, compute_ssim=False)
        rows[label] = {"psnr": report.summary["average"].output_psnr, "gain": report.summary["average"].gain,
                       "input_psnr": report.summary["average"].input_psnr}
    rows["drop_db"] = rows["fp32"]["psnr"] - rows["int8"]["psnr"]
    return {"suite": suite, **rows}


def record_quality(checkpoint: Path, quality: dict[str, Any]) -> None:
    """Keep the fp32-vs-int8 comparison in the checkpoint: int8 exports quote it in their summary."""
    loaded = load_checkpoint(checkpoint)
    save_checkpoint(checkpoint, loaded.model, loaded.metadata | {"quality": quality}, loaded.training_state,
                    quantization=loaded.quantization)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cea_edge.quantize", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help=f"trained fp32 checkpoint (default: bundled {DEFAULT_CHECKPOINT.name})")
    parser.add_argument("--recipe", type=Path, help="quantization recipe TOML (default: the bundled quantization/int8.toml)")
    parser.add_argument("--ptq", action="store_true", help="post-training quantization only (same as --steps 0)")
    parser.add_argument("--target", choices=QAT_TARGETS,
                        help="what QAT fits: the fp32 model's outputs (distillation) or the clean images "
                             "(default: from the recipe)")
    for name in TRAIN_KEYS + ("calibration_size",):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float if name in ("lr", "min_lr") else int,
                            help="default: from the recipe")
    parser.add_argument("--out", type=Path, default=Path("runs/qat"), help="run folder (default: runs/qat)")
    parser.add_argument("--resume", type=Path, help="continue an interrupted run from its last.pt")
    parser.add_argument("--eval-suite", default="aio-synth", choices=sorted(SUITES),
                        help="suite for the closing fp32-vs-int8 comparison (default: aio-synth)")
    parser.add_argument("--no-eval", action="store_true", help="skip the closing comparison")
    parser.add_argument("--device", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, help="torch intra-op threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    if args.resume and (args.recipe or args.ptq):
        raise CeaError("--resume continues with the run's own recipe; drop --recipe / --ptq")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {name: getattr(args, name) for name in TRAIN_KEYS + ("calibration_size", "target")}
    if args.ptq:
        overrides["steps"] = 0
    recipe = validate(load_quant_recipe(args.recipe).with_overrides(**overrides))
    final = quantize(args.checkpoint, recipe, args.out, args.resume, args.device, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"wrote {final}")
    if not args.no_eval:
        source = Path(load_checkpoint(final).quantization["source_checkpoint"]["path"])
        quality = compare_quality(source, final, args.eval_suite)
        report = args.out / "quality.json"
        atomic_write_json(report, quality)
        record_quality(final, quality)
        print(f"{args.eval_suite}: fp32 {quality['fp32']['psnr']:.2f} dB, int8 (fake-quant, PyTorch) "
              f"{quality['int8']['psnr']:.2f} dB: drop {quality['drop_db']:+.3f} dB; wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
