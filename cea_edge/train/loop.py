"""The training loop every stage shares (fp32 training, quantization-aware fine-tuning).

Also what each stage needs around it, written once: the loss, the optimizer and its
schedule, torchrun setup and teardown, resuming from a run's ``last.pt`` and the metadata
every run checkpoint carries.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cea_edge import __version__
from cea_edge.data.stream import TrainingStream
from cea_edge.data.suite import build_suite
from cea_edge.errors import CeaError
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import LoadedCheckpoint
from cea_edge.train.config import TrainConfig, TrainSchedule


def frequency_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance of the 2-D spectra (a loss term; the model itself has no FFT)."""
    return (torch.fft.rfft2(output) - torch.fft.rfft2(target)).abs().mean()


def context_view(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """What the runtime's global-context mode shows the adapters of a photo larger than the
    context side: the image shrunk by box averaging (here 2x, as for 1024 px into 512) and,
    for a photo that is not square, mirror-padded to a square (runtime/tiling.context_image).
    Half the batches keep part of the height and mirror the rest."""
    shrunk = F.avg_pool2d(batch, 2)
    side = shrunk.shape[-2]
    if rng.random() < 0.5:
        return shrunk
    kept = int(rng.integers(side // 2, side))
    top = shrunk[..., :kept, :]
    mirrored = top.flip(-2)[..., : side - kept, :]  # numpy's "symmetric" padding: the edge row repeats
    return torch.cat([top, mirrored], dim=-2)


def factor_distance(given: list, generated: list) -> torch.Tensor:
    """Mean L1 distance between two lists of adapter factors (pairs of tensors), adapter by adapter."""
    terms = [(a - b).abs().mean() for pair_a, pair_b in zip(given, generated) for a, b in zip(pair_a, pair_b)]
    return torch.stack(terms).mean()


def cosine_with_warmup(schedule: TrainSchedule) -> Callable[[int], float]:
    """The learning-rate factor at each step: linear warm-up, then cosine decay to min_lr / lr."""
    def factor(step: int) -> float:
        if step < schedule.warmup:
            return (step + 1) / schedule.warmup
        progress = min((step - schedule.warmup) / max(schedule.steps - schedule.warmup, 1), 1.0)
        floor = schedule.min_lr / schedule.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_name: str | None) -> Distributed:
    """One process, or this process's place under torchrun (gloo on CPU, nccl on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and device_name != "cpu"
    if world == 1:
        return Distributed(device=torch.device(device_name or ("cuda" if cuda else "cpu")))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return Distributed(dist.get_rank(), world, device)


def finish_distributed(env: Distributed) -> None:
    """Wait until rank 0 has written its checkpoints, then leave the process group."""
    if env.world > 1:
        dist.barrier()
        dist.destroy_process_group()


OptimizerAndSchedule = tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]


def make_optimizer(model: torch.nn.Module, schedule: TrainSchedule, scaled: Sequence[torch.nn.Parameter] = (),
                   scaled_lr_factor: float = 1.0) -> OptimizerAndSchedule:
    """AdamW on a cosine schedule; ``scaled`` parameters (QAT's activation ranges) in a group of
    their own at ``scaled_lr_factor`` times the rate, without weight decay (it would shrink the ranges)."""
    chosen = {id(p) for p in scaled}
    groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if id(p) not in chosen]}]
    if chosen:
        groups.append({"params": list(scaled), "lr": schedule.lr * scaled_lr_factor, "weight_decay": 0.0})
    optimizer = torch.optim.AdamW(groups, lr=schedule.lr, weight_decay=schedule.weight_decay, betas=(0.9, 0.99))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(schedule))


@dataclass
class RunProgress:
    """Where a run stands: restored by --resume, extended by the loop."""

    step: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # validation records


def resume_progress(loaded: LoadedCheckpoint, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LambdaLR) -> RunProgress:
    """Continue a run from its last.pt: optimizer and schedule state, step, time and validation so far.

    The caller has checked that ``loaded`` is a run checkpoint of its own kind and restored the model.
    """
    state = loaded.training_state
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return RunProgress(state["step"], loaded.metadata.get("train_seconds", 0.0), loaded.metadata.get("validation", []))


def run_metadata(config_key: str, config: TrainConfig, step: int, seconds: float, env: Distributed,
                 progress: RunProgress) -> dict[str, Any]:
    """What every run checkpoint records; config_key names the stage ("train_config", "quantize_config")."""
    return {config_key: config.record(), "step": step, "train_seconds": seconds, "world_size": env.world,
            "validation": progress.history, "cea_edge": __version__, "torch": str(torch.__version__)}


def _diverged(step: int, what: str, schedule: TrainSchedule) -> CeaError:
    return CeaError(f"step {step}: the {what} not finite: training diverged; nothing was saved after the last "
                    f"checkpoint. Run again with a lower --lr (this run: {schedule.lr:g}) or a smaller --grad-clip")


def check_finite_loss(loss: torch.Tensor, step: int, schedule: TrainSchedule, env: Distributed) -> None:
    """Stop the run (every process) on a NaN or infinite loss, before it reaches the weights."""
    finite = torch.isfinite(loss.detach()).to(torch.float32)
    if env.world > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    if not finite.item():
        raise _diverged(step, f"loss is {loss.item()},", schedule)


def check_finite_weights(model: torch.nn.Module, step: int, schedule: TrainSchedule) -> None:
    """Stop the run when a weight is NaN or infinite (a finite loss can still step into them)."""
    if not torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all().item():
        raise _diverged(step, "weights are", schedule)


# save(path, step, seconds, training_state or None): writes one checkpoint of the run.
SaveFn = Callable[[Path, int, float, "dict | None"], None]


def run_loop(model: torch.nn.Module, config: TrainConfig, env: Distributed, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LambdaLR, progress: RunProgress, out: Path, save: SaveFn,
             show_progress: bool = True, desc: str = "train", teacher: torch.nn.Module | None = None,
             photos: Sequence[np.ndarray] = ()) -> Path:
    """Train ``model`` from ``progress.step`` to ``config.schedule.steps``; returns the path of final.pt.

    Rank 0 validates every ``val_every`` steps, writes ``last.pt`` (with optimizer state)
    every ``save_every`` and ``final.pt`` (weights only) at the end.
    teacher: fit its outputs instead of the clean images (distillation, for QAT: the
    quantized model learns to reproduce the fp32 one, which is what it is judged on).
    photos: clean real photos (uint8 RGB) to cut patches from, degraded by the camera model.
    """
    schedule = config.schedule
    trained = DistributedDataParallel(model) if env.world > 1 else model
    stream = TrainingStream(schedule.patch, seed=schedule.seed, rank=env.rank, start_step=progress.step, photos=photos,
                            mix=config.mix)
    autocast = torch.autocast(env.device.type, dtype=torch.bfloat16, enabled=config.bf16)
    val_samples = build_suite(config.val_suite) if env.main else []

    def training_state(step: int) -> dict:
        return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step}

    bar = tqdm(total=schedule.steps, initial=progress.step, disable=not (env.main and show_progress), desc=desc)
    started = time.perf_counter() - progress.seconds
    model.train()
    for step in range(progress.step, schedule.steps):
        degraded, clean = (t.to(env.device) for t in stream.batch(schedule.batch))
        if teacher is not None:
            with torch.no_grad():
                clean = teacher(degraded)
        agreement = None
        with autocast:
            if schedule.context_loss and step % 2:
                output = trained(degraded, context=context_view(degraded, stream.rng), full_output=True)
                restored, agreement = output.image, factor_distance(output.factors, output.generated).float()
            else:
                restored = trained(degraded)
        restored = restored.float()  # the losses (and the FFT) in fp32
        l1 = (restored - clean).abs().mean()
        loss = l1 + schedule.frequency_loss * frequency_l1(restored, clean) if schedule.frequency_loss else l1
        if agreement is not None:
            loss = loss + schedule.context_loss * agreement
        check_finite_loss(loss, step + 1, schedule, env)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), schedule.grad_clip)
        optimizer.step()
        scheduler.step()
        bar.update(1)
        bar.set_postfix(l1=f"{l1.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        done = step + 1
        progress.step, progress.seconds = done, time.perf_counter() - started
        if done % schedule.val_every == 0 or done % schedule.save_every == 0 or done == schedule.steps:
            check_finite_weights(model, done, schedule)  # never validated or saved when they are not
        if env.main and (done % schedule.val_every == 0 or done == schedule.steps):
            model.eval()
            report = evaluate_model(model, val_samples, config.val_suite, str(env.device), compute_ssim=False)
            model.train()
            average = report.summary["average"]
            progress.history.append({"step": done, "psnr": average.output_psnr, "gain": average.gain,
                                     "l1": l1.item(), "seconds": progress.seconds})
            bar.write(f"step {done}: {config.val_suite} PSNR {average.output_psnr:.2f} dB "
                      f"({average.gain:+.2f} dB over input)")
        if env.main and (done % schedule.save_every == 0 or done == schedule.steps):
            save(out / "last.pt", done, progress.seconds, training_state(done))
    bar.close()
    final = out / "final.pt"
    if env.main:
        model.eval()
        save(final, schedule.steps, time.perf_counter() - started, None)
    finish_distributed(env)
    return final
