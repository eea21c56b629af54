"""What a training run trains: the model choice, and the schedule the shared loop runs.

fp32 training (`python -m cea_edge.train`) and QAT fine-tuning (`python -m cea_edge.quantize`)
each supply a ``TrainSchedule``: training from the command-line defaults below, QAT from
its recipe's ``[train]`` table (quantization/int8.toml is the one source of those values).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable

from cea_edge.errors import CeaError
from cea_edge.model.config import CEAConfig, get_preset


@dataclass(frozen=True)
class TrainSchedule:
    """Steps, optimizer, learning-rate schedule, loss weights and bookkeeping of one run."""

    steps: int
    batch: int  # per process under torchrun
    patch: int  # training patch side in pixels
    lr: float
    min_lr: float  # the cosine decay's floor
    weight_decay: float
    warmup: int  # linear warm-up steps
    frequency_loss: float  # weight of the spectral L1 term (0 = plain L1)
    grad_clip: float
    seed: int
    val_every: int
    save_every: int
    # Global-context training (v2): every other step restores the patch with the factors its
    # half-size copy generates, plus this weight times the L1 distance between those factors
    # and the patch's own; 0 trains in whole-image mode only (v1, QAT).
    context_loss: float = 0.0

    def with_overrides(self, **overrides: Any) -> TrainSchedule:
        """These values over this schedule's; None means "not given" (a command-line flag left out)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})


SCHEDULE_FIELDS = tuple(field.name for field in fields(TrainSchedule))
# The fields that take a float (the annotation, a string under postponed evaluation); the others are ints.
FLOAT_FIELDS = tuple(field.name for field in fields(TrainSchedule) if field.type == "float")
POSITIVE_FIELDS = ("batch", "patch", "lr", "grad_clip", "val_every", "save_every")
NON_NEGATIVE_FIELDS = ("min_lr", "weight_decay", "warmup", "frequency_loss", "context_loss")
# The largest sane value of each float (issue 31: --lr 1e30 trained into NaN weights and exited 0):
# AdamW moves a weight by about lr per step, and a loss weight scales its term's gradients.
MAX_VALUES = {"lr": 1.0, "min_lr": 1.0, "weight_decay": 1.0, "frequency_loss": 100.0, "context_loss": 100.0,
              "grad_clip": 1e6}


def check_schedule(schedule: TrainSchedule, where: Callable[[str], str], min_steps: int = 1) -> None:
    """CeaError for the first value out of range; ``where(name)`` says where it came from and
    what it was ("--lr -1" for a flag, "recipe int8.toml: lr -1" for a file)."""
    if schedule.steps < min_steps:
        raise CeaError(f"{where('steps')}: must be {'positive' if min_steps == 1 else f'>= {min_steps}'}")
    for name in FLOAT_FIELDS:  # nan compares False with everything: refused before the range checks
        if not math.isfinite(getattr(schedule, name)):
            raise CeaError(f"{where(name)}: must be finite")
    for name in POSITIVE_FIELDS:
        if getattr(schedule, name) <= 0:
            raise CeaError(f"{where(name)}: must be positive")
    for name in NON_NEGATIVE_FIELDS:
        if getattr(schedule, name) < 0:
            raise CeaError(f"{where(name)}: must be >= 0")
    for name, limit in MAX_VALUES.items():
        if getattr(schedule, name) > limit:
            raise CeaError(f"{where(name)}: must be at most {limit:g}")


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")

# `python -m cea_edge.train`'s defaults: fp32 training from scratch. QAT does not use them.
DEFAULT_SCHEDULE = TrainSchedule(steps=4000, batch=16, patch=96, lr=1e-3, min_lr=1e-5, weight_decay=1e-4, warmup=100,
                                 frequency_loss=0.05, grad_clip=1.0, seed=0, val_every=500, save_every=500)


@dataclass(frozen=True)
class TrainConfig:
    """A training run: which model (preset, with or without adapters), how, validated on what."""

    preset: str = "edge"
    adapters: bool = True
    val_suite: str = "aio-synth-mini"
    schedule: TrainSchedule = DEFAULT_SCHEDULE
    static_adapters: bool = False  # v2 ablation: factors that do not depend on the image
    bf16: bool = False  # forward passes under bfloat16 autocast (weights, gradients and optimizer stay fp32)
    mix: tuple[tuple[str, float], ...] | None = None  # the camera sampler's mix with --photos (None: data.camera.MIX)

    @classmethod
    def build(cls, preset: str = "edge", adapters: bool = True, val_suite: str = "aio-synth-mini",
              static_adapters: bool = False, bf16: bool = False, mix: tuple[tuple[str, float], ...] | None = None,
              **schedule: Any) -> TrainConfig:
        """A config from flat values: schedule fields not given keep ``DEFAULT_SCHEDULE``'s."""
        return cls(preset, adapters, val_suite, replace(DEFAULT_SCHEDULE, **schedule), static_adapters, bf16, mix)

    def record(self) -> dict[str, Any]:
        """The flat dict checkpoints carry ("train_config" / "quantize_config"): its keys and order
        are those of every checkpoint written so far, so that old and new ones compare."""
        schedule = asdict(self.schedule)
        # Fields added since the first checkpoints are recorded only when they are used, so that a
        # run that does not use them records what those runs did.
        later = {"context_loss": schedule.pop("context_loss"), "static_adapters": self.static_adapters, "bf16": self.bf16,
                 "mix": dict(self.mix) if self.mix else None}
        record = {"preset": self.preset, "adapters": self.adapters, **schedule, "val_suite": self.val_suite}
        return record | {key: value for key, value in later.items() if value}

    def model_config(self) -> CEAConfig:
        """The model this run trains: the preset, without adapters or with static ones for the ablations."""
        config = get_preset(self.preset)
        if not self.adapters:
            return config.without_adapters()
        return config.with_static_adapters() if self.static_adapters else config
