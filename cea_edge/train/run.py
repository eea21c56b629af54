"""One fp32 training run: build the preset, optionally start from or resume a checkpoint, run the loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cea_edge.atomic import check_output_dir, check_run_outputs, remove_stale_temporaries
from cea_edge.errors import CeaError
from cea_edge.model.checkpoint import LoadedCheckpoint, file_sha256, load_checkpoint, save_checkpoint
from cea_edge.model.config import NO_ADAPTER_SUFFIX, STATIC_SUFFIX, CEAConfig
from cea_edge.model.network import CEANet
from cea_edge.train.config import TrainConfig
from cea_edge.train.loop import RunProgress, make_optimizer, resume_progress, run_loop, run_metadata, setup_distributed


def grow(model: CEANet, start: CEANet) -> None:
    """Load ``start``'s weights into ``model``, a preset that extends it with more blocks (edge2 ->
    edge3): every tensor of ``start`` must have its place, the blocks only ``model`` has keep their
    zero-initialised residuals, so the grown model computes exactly what ``start`` computed."""
    try:
        _, unexpected = model.load_state_dict(start.state_dict(), strict=False)
    except RuntimeError:  # a tensor of another shape: another width, rank or adapter design
        raise CeaError(f"'{model.config.name}' does not extend '{start.config.name}': tensors of other shapes") from None
    side = 2 * model.config.min_tile
    probe = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    probe = probe.to(next(model.parameters()).device)
    with torch.no_grad():
        same = not unexpected and torch.equal(model.eval()(probe), start.to(probe.device).eval()(probe))
    if not same:
        raise CeaError(f"'{model.config.name}' does not extend '{start.config.name}': "
                       f"{len(unexpected)} of its tensors have no place, or the outputs differ")


def preset_flags(config: CEAConfig) -> str:
    """The train flags that build ``config`` ("edge2 --static-adapters"), from its name."""
    for suffix, flag in ((NO_ADAPTER_SUFFIX, " --no-adapters"), (STATIC_SUFFIX, " --static-adapters")):
        if config.name.endswith(suffix):
            return config.name[:-len(suffix)] + flag
    return config.name


def check_resumable(loaded: LoadedCheckpoint, model_config: CEAConfig) -> None:
    """--resume takes the last.pt of an fp32 run of this model; each other file is refused for what it is."""
    cannot = f"cannot resume from '{loaded.path}'"
    if loaded.quantization is not None:
        raise CeaError(f"{cannot}: it holds a quantized (QAT) model; continue a QAT run with python -m cea_edge.quantize "
                       "--resume")
    if loaded.config != model_config and loaded.config.name == model_config.name:
        raise CeaError(f"{cannot}: its '{loaded.config.name}' differs from the '{model_config.name}' this cea-edge "
                       "builds (an edited config or another version's preset); start a new run from its weights with --init")
    if loaded.config != model_config:
        raise CeaError(f"{cannot}: it holds '{loaded.config.name}', this run trains '{model_config.name}'; "
                       f"pass --preset {preset_flags(loaded.config)} to continue it")
    if loaded.training_state is None:
        raise CeaError(f"{cannot}: it holds weights only (a final.pt or bundled checkpoint), no optimizer state; "
                       "--resume takes a run's last.pt: to start from these weights, pass --init instead")


def photo_record(folder: Path, photos: list[Path]) -> dict:
    """What a run's metadata says of its photo folder: where, how many, and a digest of their names."""
    import hashlib

    names = "\n".join(sorted(str(path.relative_to(folder)) for path in photos))
    return {"folder": str(folder), "count": len(photos), "names_sha256": hashlib.sha256(names.encode()).hexdigest()}


def load_training_photos(folder: Path) -> tuple[list[np.ndarray], dict]:
    """The training split of a photo folder as uint8 RGB arrays, and its record for the run's metadata
    (train and quantize both fine-tune on it)."""
    from cea_edge.data.photos import load_photo_folder, read_photo

    paths = load_photo_folder(folder, "train")
    return [read_photo(path) for path in paths], photo_record(folder, paths)


def train(config: TrainConfig, out: Path, resume: Path | None = None, device_name: str | None = None,
          progress: bool = True, init: Path | None = None, photos: Path | None = None) -> Path:
    """Train and return the path of the final weights-only checkpoint.

    init: fine-tune from the weights of a checkpoint of this config, or of a preset this one
    grows (fresh optimizer and schedule); resume: continue a run from its last.pt; photos: a
    folder of real photos (its training split) to train on with camera-realistic degradations.
    """
    env = setup_distributed(device_name)
    torch.manual_seed(config.schedule.seed)  # same initial weights on every rank
    model_config = config.model_config()
    model = CEANet(model_config).to(env.device)
    optimizer, scheduler = make_optimizer(model, config.schedule)
    state = RunProgress()
    origin: dict = {}
    if init is not None:
        start = load_checkpoint(init)
        if start.quantization is not None:
            raise CeaError(f"cannot start from '{init}': it holds a quantized '{start.config.name}'")
        if start.config == model_config:
            model.load_state_dict(start.model.state_dict())
        else:
            try:
                grow(model, start.model)
            except CeaError as error:
                hint = ("" if start.config.name == model_config.name
                        else f"; to fine-tune it, pass --preset {preset_flags(start.config)}")
                raise CeaError(f"cannot start from '{init}': it holds '{start.config.name}', this run trains "
                               f"'{model_config.name}' ({error}){hint}") from None
        origin = {"init": {"path": str(init), "sha256": file_sha256(start.path), "step": start.metadata.get("step"),
                           "train_config": start.metadata.get("train_config")}}
        if "init" in start.metadata:  # a fine-tune of a fine-tune: the whole lineage, oldest innermost
            origin["init"]["init"] = start.metadata["init"]
    if resume is not None:
        loaded = load_checkpoint(resume)
        check_resumable(loaded, model_config)
        model.load_state_dict(loaded.model.state_dict())
        state = resume_progress(loaded, optimizer, scheduler)
        origin = {key: loaded.metadata[key] for key in ("init",) if key in loaded.metadata}
    real_photos: list[np.ndarray] = []
    if photos is not None:
        real_photos, origin["photos"] = load_training_photos(photos)

    def save(path: Path, step: int, seconds: float, training_state: dict | None) -> None:
        save_checkpoint(path, model, run_metadata("train_config", config, step, seconds, env, state) | origin,
                        training_state)

    return run_loop(model, config, env, optimizer, scheduler, state, out, save, progress, model_config.name,
                    photos=real_photos)


RUN_OUTPUTS = ("last.pt", "final.pt", "quality.json")  # what train and quantize write into --out


def check_run_dir(out: Path, flag: str = "--out", *, inputs: dict[str, Path | None] | None = None,
                  overwrite: bool = False) -> Path:
    """Fail before the first step unless the run can write its checkpoints (train's and quantize's)
    into ``out``: none of them one of the run's ``inputs`` ({flag: path}), a link or special file, nor
    an earlier run's file unless ``overwrite`` (--resume of the folder's own last.pt continues that
    run in place). Creates nothing (the first save makes the folder), sweeps dead runs' temporaries."""
    check_output_dir(out, flag)
    check_run_outputs(out, RUN_OUTPUTS, flag, inputs=inputs or {}, overwrite=overwrite, continued="--resume")
    remove_stale_temporaries(out)
    return out
