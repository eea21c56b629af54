"""`python -m cea_edge.train`: all-in-one training of a CEA preset on synthetic degradations.

Runs unchanged on one process or under ``torchrun --nproc_per_node=N`` (DistributedDataParallel:
gloo on CPU, nccl on GPU). ``--batch`` is per process. Rank 0 validates, shows progress
and writes checkpoints; ``last.pt`` carries optimizer state for ``--resume``, ``final.pt``
is the weights-only checkpoint to ship.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cea_edge import __version__
from cea_edge.data.stream import TrainingStream
from cea_edge.data.suite import build_suite
from cea_edge.errors import CeaError, run_cli
from cea_edge.evaluate import evaluate_model
from cea_edge.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from cea_edge.model.config import get_preset
from cea_edge.model.network import CEANet


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "edge"
    adapters: bool = True
    steps: int = 4000
    batch: int = 16
    patch: int = 96
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 1e-4
    warmup: int = 100
    frequency_loss: float = 0.05
    grad_clip: float = 1.0
    seed: int = 0
    val_every: int = 500
    save_every: int = 500
    val_suite: str = "aio-synth-mini"


def frequency_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance of the 2-D spectra (a loss term; the model itself has no FFT)."""
    return (torch.fft.rfft2(output) - torch.fft.rfft2(target)).abs().mean()


def cosine_with_warmup(config: TrainConfig):
    def factor(step: int) -> float:
        if step < config.warmup:
            return (step + 1) / config.warmup
        progress = min((step - config.warmup) / max(config.steps - config.warmup, 1), 1.0)
        floor = config.min_lr / config.lr
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


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.99))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup(config))


@dataclass
class RunProgress:
    """Where a run stands: restored by --resume, extended by the loop."""

    step: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # validation records


# save(path, step, seconds, training_state or None): writes one checkpoint of the run.
SaveFn = Callable[[Path, int, float, "dict | None"], None]


def run_loop(model: torch.nn.Module, config: TrainConfig, env: Distributed, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LambdaLR, progress: RunProgress, out: Path, save: SaveFn,
             show_progress: bool = True, desc: str = "train", teacher: torch.nn.Module | None = None) -> Path:
    """The training loop every stage shares (training, quantization-aware fine-tuning).

    Trains ``model`` from ``progress.step`` to ``config.steps``; rank 0 validates every
    ``val_every`` steps, writes ``last.pt`` (with optimizer state) every ``save_every``
    and ``final.pt`` (weights only) at the end. Returns the path of final.pt.
    teacher: fit its outputs instead of the clean images (distillation, for QAT: the
    quantized model learns to reproduce the fp32 one, which is what it is judged on).
    """
    trained = DistributedDataParallel(model) if env.world > 1 else model
    stream = TrainingStream(config.patch, seed=config.seed, rank=env.rank, start_step=progress.step)
    val_samples = build_suite(config.val_suite) if env.main else []

    def training_state(step: int) -> dict:
        return {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step}

    bar = tqdm(total=config.steps, initial=progress.step, disable=not (env.main and show_progress), desc=desc)
    started = time.perf_counter() - progress.seconds
    model.train()
    for step in range(progress.step, config.steps):
        degraded, clean = (t.to(env.device) for t in stream.batch(config.batch))
        if teacher is not None:
            with torch.no_grad():
                clean = teacher(degraded)
        restored = trained(degraded)
        l1 = (restored - clean).abs().mean()
        loss = l1 + config.frequency_loss * frequency_l1(restored, clean) if config.frequency_loss else l1
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        bar.update(1)
        bar.set_postfix(l1=f"{l1.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        done = step + 1
        progress.step, progress.seconds = done, time.perf_counter() - started
        if env.main and (done % config.val_every == 0 or done == config.steps):
            model.eval()
            report = evaluate_model(model, val_samples, config.val_suite, str(env.device), compute_ssim=False)
            model.train()
            average = report.summary["average"]
            progress.history.append({"step": done, "psnr": average.output_psnr, "gain": average.gain,
                                     "l1": l1.item(), "seconds": progress.seconds})
            bar.write(f"step {done}: {config.val_suite} PSNR {average.output_psnr:.2f} dB ({average.gain:+.2f} dB over input)")
        if env.main and (done % config.save_every == 0 or done == config.steps):
            save(out / "last.pt", done, progress.seconds, training_state(done))
    bar.close()
    final = out / "final.pt"
    if env.main:
        model.eval()
        save(final, config.steps, time.perf_counter() - started, None)
    if env.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return final


def train(config: TrainConfig, out: Path, resume: Path | None = None, device_name: str | None = None,
          progress: bool = True, init: Path | None = None) -> Path:
    """Train and return the path of the final weights-only checkpoint."""
    env = setup_distributed(device_name)
    torch.manual_seed(config.seed)  # same initial weights on every rank
    model_config = get_preset(config.preset)
    if not config.adapters:
        model_config = model_config.without_adapters()
    model = CEANet(model_config).to(env.device)
    optimizer, scheduler = make_optimizer(model, config)
    state = RunProgress()
    origin: dict = {}
    if init is not None:
        # Fine-tuning: weights from any checkpoint of this config, fresh optimizer and schedule.
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
        optimizer.load_state_dict(loaded.training_state["optimizer"])
        scheduler.load_state_dict(loaded.training_state["scheduler"])
        state = RunProgress(loaded.training_state["step"], loaded.metadata.get("train_seconds", 0.0),
                            loaded.metadata.get("validation", []))
        origin = {key: loaded.metadata[key] for key in ("init",) if key in loaded.metadata}

    def save(path: Path, step: int, seconds: float, training_state: dict | None) -> None:
        metadata = {"train_config": asdict(config), "step": step, "train_seconds": seconds, "world_size": env.world,
                    "validation": state.history, "cea_edge": __version__, "torch": str(torch.__version__), **origin}
        save_checkpoint(path, model, metadata, training_state)

    return run_loop(model, config, env, optimizer, scheduler, state, out, save, progress, model_config.name)


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m cea_edge.train", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=defaults.preset, help="tiny, edge or base (default: edge)")
    parser.add_argument("--no-adapters", action="store_true", help="train the backbone without hyper-adapters (ablation)")
    for name in ("steps", "batch", "patch", "warmup", "seed", "val_every", "save_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("lr", "min_lr", "weight_decay", "frequency_loss", "grad_clip"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--val-suite", default=defaults.val_suite)
    parser.add_argument("--out", type=Path, default=Path("runs/train"), help="run folder (default: runs/train)")
    parser.add_argument("--resume", type=Path, help="continue from a run's last.pt")
    parser.add_argument("--init", type=Path, help="start from the weights of a checkpoint (fine-tuning)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument("--threads", type=int, help="torch intra-op threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    get_preset(args.preset)
    if args.patch % get_preset(args.preset).downsample_factor:
        raise CeaError(f"--patch {args.patch} must be a multiple of {get_preset(args.preset).downsample_factor} for preset '{args.preset}'")
    if min(args.steps, args.batch, args.patch, args.val_every, args.save_every) <= 0:
        raise CeaError("--steps, --batch, --patch, --val-every and --save-every must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise CeaError("--device cuda: no CUDA device is available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(
        preset=args.preset, adapters=not args.no_adapters, val_suite=args.val_suite,
        **{k: getattr(args, k) for k in ("steps", "batch", "patch", "warmup", "seed", "val_every", "save_every",
                                         "lr", "min_lr", "weight_decay", "frequency_loss", "grad_clip")},
    )
    if args.init and args.resume:
        raise CeaError("--init and --resume exclude each other: --resume already restores the weights")
    final = train(config, args.out, args.resume, args.device, progress=not args.no_progress, init=args.init)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
