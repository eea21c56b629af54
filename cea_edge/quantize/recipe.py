"""A quantization scheme as data: NNCF's settings plus the QAT fine-tuning schedule.

A recipe is a TOML file under quantization/ (the bundled one is int8.toml) and states every
value: the file is the one source of them, so the dataclass has no defaults to disagree
with it. Command-line flags override single values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError
from cea_edge.recipe_io import bundled_recipe, check_keys, check_type, read_toml
from cea_edge.train import DEFAULT_SCHEDULE, SCHEDULE_FIELDS, TrainConfig, TrainSchedule
from cea_edge.train.config import FLOAT_FIELDS, MAX_VALUES, check_schedule, flag_name

SCHEMES = ("int8",)
NNCF_PRESETS = ("mixed", "performance")
OVERFLOW_FIXES = ("enable", "disable", "first_layer_only")
# NNCF range estimators for activations: minmax = the calibration set's extremes;
# mean_minmax = the mean of per-sample extremes (NNCF's default; clips bright images).
ACTIVATION_RANGES = ("minmax", "mean_minmax")
# What QAT fits: "fp32" = the source model's outputs (distillation; the int8 model is judged
# against it), "clean" = the training stream's clean images, like training.
QAT_TARGETS = ("fp32", "clean")
# Where activations are quantized: "all" = NNCF's placement, the inputs of every op it quantizes (adds,
# gates, norms: one int8 tensor flows between the ops); "convolutions" = only the per-pixel
# convolutions' inputs and outputs (int8 kernels with int8 in and out), every other op in float
# between them (the adapters' hyper-networks and norm means too).
ACTIVATION_PLACEMENTS = ("all", "convolutions")
# Fewer patches than this give activation ranges that swing with the seed.
MIN_CALIBRATION_SIZE = 16

# The recipe's layout: top-level keys, then the [train] table (what QAT fits, and its schedule).
NNCF_KEYS = ("scheme", "nncf_preset", "overflow_fix", "activation_range", "activations", "ignored_patterns",
             "float_hyper_network", "calibration_size", "calibration_patch")
TRAIN_TABLE_KEYS = ("target", "range_lr_factor", *SCHEDULE_FIELDS)
# Recipes and checkpoint records from before range_lr_factor trained the ranges at the weights' rate.
LEGACY_RANGE_LR_FACTOR = 1.0
RENAMED_KEYS = {"preset": "nncf_preset"}  # "preset" read as a model preset; it is NNCF's


@dataclass(frozen=True)
class QuantRecipe:
    """One quantization scheme (a TOML file under quantization/)."""

    scheme: str
    nncf_preset: str  # NNCF's quantization preset (mixed | performance), not a model preset
    overflow_fix: str
    activation_range: str
    activations: str  # where activations are quantized, see ACTIVATION_PLACEMENTS
    ignored_patterns: tuple[str, ...]  # NNCF node-name regexes kept in float
    float_hyper_network: bool  # the adapters' hyper-networks (pooled grid to gains) kept in float
    calibration_size: int
    calibration_patch: int
    target: str  # what QAT fits, see QAT_TARGETS
    range_lr_factor: float  # activation quantizers' ranges learn at this multiple of the schedule's lr
    train: TrainSchedule  # the QAT fine-tuning schedule; steps = 0 is post-training quantization
    source: str  # where the values came from, for error messages
    flags: tuple[str, ...] = ()  # fields a command-line flag set (with_overrides): messages name the flag

    def where(self, name: str) -> str:
        """Where the value of ``name`` came from, with it: "--lr -1" or "recipe int8.toml: lr -1"."""
        value = getattr(self.train, name) if name in SCHEDULE_FIELDS else getattr(self, name)
        return f"{flag_name(name)} {value}" if name in self.flags else f"recipe {self.source}: {name} {value}"

    def with_overrides(self, **overrides: Any) -> QuantRecipe:
        """Command-line values over the recipe's (None = flag not given); schedule keys go to ``train``."""
        given = {key: value for key, value in overrides.items() if value is not None}
        flags = tuple(dict.fromkeys(self.flags + tuple(given)))
        schedule = {key: given.pop(key) for key in SCHEDULE_FIELDS if key in given}
        return replace(self, train=self.train.with_overrides(**schedule), flags=flags, **given)

    def train_config(self, preset: str, adapters: bool, val_suite: str) -> TrainConfig:
        return TrainConfig(preset, adapters, val_suite, self.train)

    def to_dict(self) -> dict[str, Any]:
        """The recipe in its TOML layout (plus source): what a checkpoint records, and reads back on --resume."""
        nncf = {key: getattr(self, key) for key in NNCF_KEYS} | {"ignored_patterns": list(self.ignored_patterns)}
        train = {"target": self.target, "range_lr_factor": self.range_lr_factor, **asdict(self.train)}
        return nncf | {"train": train, "source": self.source}

    @property
    def ptq(self) -> bool:
        return self.train.steps == 0


def validate(recipe: QuantRecipe, downsample: int | None = None) -> QuantRecipe:
    """Types, choices and ranges of every value; downsample: the model preset's, which patches must divide."""
    source, schedule = recipe.source, recipe.train
    for name in ("calibration_size", "calibration_patch"):
        check_type(source, name, getattr(recipe, name), int)
    check_type(source, "range_lr_factor", recipe.range_lr_factor, (int, float))
    for name in SCHEDULE_FIELDS:
        check_type(source, name, getattr(schedule, name), (int, float) if name in FLOAT_FIELDS else int)
    for name, choices in (("scheme", SCHEMES), ("nncf_preset", NNCF_PRESETS), ("overflow_fix", OVERFLOW_FIXES),
                          ("activation_range", ACTIVATION_RANGES), ("activations", ACTIVATION_PLACEMENTS),
                          ("target", QAT_TARGETS)):
        if getattr(recipe, name) not in choices:
            raise CeaError(f"recipe {source}: unknown {name.replace('_', ' ')} {getattr(recipe, name)!r}; "
                           f"choose one of: {', '.join(choices)}")
    if not all(isinstance(p, str) for p in recipe.ignored_patterns):
        raise CeaError(f"recipe {source}: 'ignored_patterns' must be a list of strings")
    if not isinstance(recipe.float_hyper_network, bool):
        raise CeaError(f"recipe {source}: 'float_hyper_network' must be true or false, got {recipe.float_hyper_network!r}")
    if recipe.calibration_size < MIN_CALIBRATION_SIZE:
        hint = "" if "calibration_size" in recipe.flags else " (or pass --calibration-size)"
        raise CeaError(f"{recipe.where('calibration_size')}: calibration set too small; NNCF's ranges need at least "
                       f"{MIN_CALIBRATION_SIZE} patches{hint}")
    if recipe.calibration_patch <= 0:
        raise CeaError(f"{recipe.where('calibration_patch')}: must be positive")
    if not math.isfinite(recipe.range_lr_factor):
        raise CeaError(f"{recipe.where('range_lr_factor')}: must be finite")
    if not recipe.range_lr_factor > 0:
        raise CeaError(f"{recipe.where('range_lr_factor')}: must be positive")
    check_schedule(schedule, recipe.where, min_steps=0)
    if recipe.range_lr_factor * schedule.lr > MAX_VALUES["lr"]:
        raise CeaError(f"{recipe.where('range_lr_factor')}: the activation ranges would learn at "
                       f"{recipe.range_lr_factor * schedule.lr:g} (this x lr {schedule.lr:g}); keep it at most "
                       f"{MAX_VALUES['lr']:g}")
    if downsample is not None:
        for name, value in (("patch", schedule.patch), ("calibration_patch", recipe.calibration_patch)):
            if value % downsample:
                raise CeaError(f"{recipe.where(name)}: must be a multiple of {downsample} for this preset")
    return recipe


def recipe_from_values(values: dict[str, Any], source: str) -> QuantRecipe:
    """A validated recipe from a TOML document's values (top-level keys and a [train] table)."""
    values = dict(values)
    train = values.pop("train", None)
    if not isinstance(train, dict):
        raise CeaError(f"recipe {source}: the fine-tuning schedule belongs in a [train] table, which is missing")
    check_keys(source, values, NNCF_KEYS, renamed=RENAMED_KEYS)
    check_keys(source, train, TRAIN_TABLE_KEYS, table="train")
    if not isinstance(values["ignored_patterns"], list):
        raise CeaError(f"recipe {source}: 'ignored_patterns' must be a list of strings")
    schedule = TrainSchedule(**{key: train[key] for key in SCHEDULE_FIELDS})
    recipe = QuantRecipe(**(values | {"ignored_patterns": tuple(values["ignored_patterns"])}),
                         target=train["target"], range_lr_factor=train["range_lr_factor"], train=schedule,
                         source=source)
    return validate(recipe)


def recipe_from_record(record: dict[str, Any]) -> QuantRecipe:
    """The recipe a checkpoint recorded (to_dict), for --resume.

    Checkpoints written before the [train] nesting recorded it flat, with "preset" for
    NNCF's preset; they ran the schedule values they lack at DEFAULT_SCHEDULE's, and quantized
    their hyper-networks (float_hyper_network false) and every op's inputs (activations "all").
    """
    values = {key: value for key, value in record.items() if key != "source"}
    values.setdefault("float_hyper_network", False)  # records from before the key quantized every adapter op
    values.setdefault("activations", "all")
    if "train" not in values:
        values["train"] = {"target": values.pop("target", None)} | {
            key: values.pop(key) if key in values else getattr(DEFAULT_SCHEDULE, key) for key in SCHEDULE_FIELDS}
        values["nncf_preset"] = values.pop("preset", None)
    # Schedule fields added since (context_loss) ran at their defaults.
    values["train"] = ({key: getattr(DEFAULT_SCHEDULE, key) for key in SCHEDULE_FIELDS}
                       | {"range_lr_factor": LEGACY_RANGE_LR_FACTOR} | values["train"])
    return recipe_from_values(values, record["source"])


def load_quant_recipe(path: str | Path | None = None) -> QuantRecipe:
    """The given recipe file, else the bundled quantization/int8.toml."""
    path = bundled_recipe("quantization", "int8") if path is None else Path(path)
    return recipe_from_values(read_toml(path, kind="quantization"), str(path))
