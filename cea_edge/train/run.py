"""One fp32 training run: build the preset, optionally start from or resume a checkpoint, run the loop."""

from __future__ import annotations

from pathlib import Path

import torch

from cea_edge.atomic import check_output_dir, remove_stale_temporaries
from cea_edge.errors import CeaError
from cea_edge.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from cea_edge.model.network import CEANet
from cea_edge.train.config import TrainConfig
from cea_edge.train.loop import RunProgress, make_optimizer, resume_progress, run_loop, run_metadata, setup_distributed


def train(config: TrainConfig, out: Path, resume: Path | None = None, device_name: str | None = None,
          progress: bool = True, init: Path | None = None) -> Path:
    """Train and return the path of the final weights-only checkpoint.

    init: fine-tune from the weights of a checkpoint of this config (fresh optimizer and
    schedule); resume: continue a run from its last.pt.
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
        if start.config != model_config or start.quantization is not None:
            raise CeaError(f"cannot start from '{init}': it holds '{start.config.name}'"
                           f"{' (quantized)' if start.quantization else ''}, this run trains '{model_config.name}'")
        model.load_state_dict(start.model.state_dict())
        origin = {"init": {"path": str(init), "sha256": file_sha256(start.path), "step": start.metadata.get("step"),
                           "train_config": start.metadata.get("train_config")}}
    if resume is not None:
        loaded = load_checkpoint(resume)
        if loaded.config != model_config or loaded.training_state is None or loaded.quantization is not None:
            raise CeaError(f"cannot resume from '{resume}': it is not a run checkpoint (last.pt) of this preset")
        model.load_state_dict(loaded.model.state_dict())
        state = resume_progress(loaded, optimizer, scheduler)
        origin = {key: loaded.metadata[key] for key in ("init",) if key in loaded.metadata}

    def save(path: Path, step: int, seconds: float, training_state: dict | None) -> None:
        save_checkpoint(path, model, run_metadata("train_config", config, step, seconds, env, state) | origin,
                        training_state)

    return run_loop(model, config, env, optimizer, scheduler, state, out, save, progress, model_config.name)


def check_run_dir(out: Path, flag: str = "--out") -> Path:
    """Fail before the first step unless the run can write its checkpoints (train's and quantize's)
    into ``out``; creates nothing (the first save makes the folder), sweeps dead runs' temporaries."""
    check_output_dir(out, flag)
    for name in ("last.pt", "final.pt", "quality.json"):
        if (out / name).is_dir():
            raise CeaError(f"{flag} '{out}': '{out / name}' is a folder, where the run writes a file; "
                           f"remove it or pass {flag} with another folder")
    remove_stale_temporaries(out)
    return out
