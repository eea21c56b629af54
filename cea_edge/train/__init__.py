"""Training: the library other stages import (the CLI is `python -m cea_edge.train`, in __main__.py).

config: what a run trains (TrainConfig, TrainSchedule); loop: the shared loop, optimizer,
schedule, torchrun setup/teardown and resume; run: one fp32 training run (train).
"""

from cea_edge.train.config import DEFAULT_SCHEDULE, SCHEDULE_FIELDS, TrainConfig, TrainSchedule
from cea_edge.train.loop import (
    Distributed,
    RunProgress,
    SaveFn,
    cosine_with_warmup,
    finish_distributed,
    frequency_l1,
    make_optimizer,
    resume_progress,
    run_loop,
    run_metadata,
    setup_distributed,
)
from cea_edge.train.run import load_training_photos, train

__all__ = [
    "DEFAULT_SCHEDULE", "SCHEDULE_FIELDS", "Distributed", "RunProgress", "SaveFn", "TrainConfig", "TrainSchedule",
    "cosine_with_warmup", "finish_distributed", "frequency_l1", "load_training_photos",
    "make_optimizer", "resume_progress", "run_loop",
    "run_metadata", "setup_distributed", "train",
]
