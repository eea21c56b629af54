"""One quantization run: quantizers on a trained checkpoint, QAT with the shared loop, and the
closing fp32-vs-int8 comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cea_edge.data.suite import build_suite
from cea_edge.errors import CeaError
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import file_sha256, find_source_checkpoint, load_checkpoint, save_checkpoint
from cea_edge.model.network import CEANet
from cea_edge.quantize.nncf_graph import (
    activation_ranges,
    calibration_set,
    check_calibration_fits,
    insert_quantizers,
    pin_input_range,
    quantization_record,
)
from cea_edge.quantize.recipe import LEGACY_RANGE_LR_FACTOR, QuantRecipe, recipe_from_record, validate
from cea_edge.train import (
    RunProgress,
    finish_distributed,
    load_training_photos,
    make_optimizer,
    resume_progress,
    run_loop,
    run_metadata,
    setup_distributed,
)


def quantize(checkpoint: Path, recipe: QuantRecipe, out: Path, resume: Path | None = None,
             device_name: str | None = None, progress: bool = True, val_suite: str = "aio-synth-mini",
             photos: Path | None = None) -> Path:
    """Quantize (and fine-tune) ``checkpoint``; returns the final checkpoint's path.

    resume: a quantization run's last.pt, which carries its own recipe (``recipe`` is then unused).
    photos: a folder of real photos (its training split): calibration and fine-tuning draw from the
    same camera-degraded stream as a model trained with ``--photos`` (give it again on resume).
    """
    env = setup_distributed(device_name)
    torch.manual_seed(recipe.train.seed)
    real_photos: list = []
    photo_record: dict = {}
    if photos is not None:
        real_photos, photo_record["photos"] = load_training_photos(photos)
    if resume is not None:
        loaded = load_checkpoint(resume)
        if loaded.quantization is None or loaded.training_state is None:
            raise CeaError(f"cannot resume from '{resume}': it is not the last.pt of a quantization run")
        model = loaded.model.to(env.device)
        pin_input_range(model)  # requires_grad is not part of a checkpoint
        record = loaded.quantization
        recipe = recipe_from_record(record["recipe"])
    else:
        source = load_checkpoint(checkpoint)
        if source.quantization is not None:
            raise CeaError(f"'{checkpoint}' is already quantized ({source.quantization.get('method')}); "
                           "pass the fp32 checkpoint it came from")
        validate(recipe, source.config.downsample_factor)
        check_calibration_fits(recipe, source.config)
        origin = {"path": str(checkpoint), "sha256": file_sha256(source.path), "preset": source.config.name,
                  "step": source.metadata.get("step")}
        model = insert_quantizers(source.model, recipe, calibration_set(recipe, real_photos)).to(env.device)
        record = quantization_record(model, recipe, origin)

    teacher = None
    if recipe.target == "fp32" and not recipe.ptq:
        teacher = fp32_teacher(record["source_checkpoint"]).to(env.device)
    config = recipe.train_config(model.config.name, bool(model.adapters), val_suite)
    ranges = []
    # At the legacy 1x the ranges stay in the weights' group, with decay: the optimizer of before, so
    # run states saved then (one parameter group) still resume. PTQ trains nothing: no probe pass.
    if not recipe.ptq and recipe.range_lr_factor != LEGACY_RANGE_LR_FACTOR:
        side = recipe.calibration_patch
        ranges = activation_ranges(model, torch.zeros(1, 3, side, side, device=env.device))
    optimizer, scheduler = make_optimizer(model, config.schedule, ranges, recipe.range_lr_factor)
    state = resume_progress(loaded, optimizer, scheduler) if resume is not None else RunProgress()

    def save(path: Path, step: int, seconds: float, training_state: dict | None) -> None:
        metadata = run_metadata("quantize_config", config, step, seconds, env, state) | photo_record
        save_checkpoint(path, model, metadata, training_state, quantization=record)

    if recipe.ptq:
        final = out / "final.pt"
        if env.main:
            save(final, 0, 0.0, None)
        finish_distributed(env)
        return final
    return run_loop(model, config, env, optimizer, scheduler, state, out, save, progress,
                    f"{model.config.name} {record['method']}", teacher=teacher, photos=real_photos)


def fp32_teacher(source: dict[str, Any]) -> CEANet:
    """The fp32 model a QAT run started from (its file must still be there, unchanged)."""
    path = find_source_checkpoint(source)
    if path is None:
        raise CeaError(f"QAT distils from the fp32 checkpoint it started from, '{source['path']}', which is missing or "
                       "changed; restore it, or set target = \"clean\" in the recipe")
    teacher = load_checkpoint(path).model.eval()
    teacher.requires_grad_(False)
    return teacher


def compare_quality(fp32_checkpoint: Path, quantized_checkpoint: Path, suite: str,
                    photo_folder: Path | None = None) -> dict[str, Any]:
    """fp32 vs quantized (NNCF fake quantization in PyTorch) on an evaluation suite (a corpus suite
    such as aio-photo takes its held-out photos from ``photo_folder``)."""
    samples = build_suite(suite, photo_folder)
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
