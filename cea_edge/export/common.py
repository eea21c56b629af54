"""Pieces every exporter uses: what a target hands back, embedded metadata, the fp16
wrapper, the torch.export step and the optional-toolchain import."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cea_edge.export.manifest import VALUE_RANGE
from cea_edge.export.verify import ArtifactRunner
from cea_edge.model.network import CEANet

INPUT_NAME, OUTPUT_NAME = "image", "restored"


@dataclass(frozen=True)
class EmbeddedMetadata:
    """What every artifact carries inside itself, so an app needs no side files."""

    preset: str
    tile: int
    overlap: int
    precision: str
    checkpoint_sha256: str
    value_range: tuple[float, float] = VALUE_RANGE

    def as_strings(self) -> dict[str, str]:
        """For string-only metadata stores (ONNX metadata_props, Core ML user metadata)."""
        return {
            "cea_edge.preset": self.preset,
            "cea_edge.tile": str(self.tile),
            "cea_edge.overlap": str(self.overlap),
            "cea_edge.precision": self.precision,
            "cea_edge.value_range": f"{self.value_range[0]:g},{self.value_range[1]:g}",
            "cea_edge.layout": "NCHW RGB float32",
            "cea_edge.checkpoint_sha256": self.checkpoint_sha256,
        }


@dataclass
class BuiltArtifact:
    """What a target returns after writing its artifact to the staged path."""

    runtime: str  # what runs it for verification, e.g. "onnxruntime CPUExecutionProvider"
    runner: ArtifactRunner | None  # None: no runtime for this artifact on this machine
    unavailable: str = ""  # why runner is None
    checks: list[str] = field(default_factory=list)  # structural checks that passed
    problems: list[str] = field(default_factory=list)  # structural checks that failed
    details: dict[str, Any] = field(default_factory=dict)  # target-specific manifest section
    summary: list[str] = field(default_factory=list)  # extra lines for the CLI summary
    io_names: tuple[str | None, str | None] = (INPUT_NAME, OUTPUT_NAME)


class Float16Compute(nn.Module):
    """The model in fp16 behind float32 inputs and outputs.

    Every artifact keeps the same float32 (1, 3, T, T) interface whatever its precision,
    so apps and the tiled runtime feed all of them alike; the two casts sit at the edges.
    """

    def __init__(self, model: CEANet) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).half()  # a copy: the fp32 model stays the reference

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image.half()).float()


def module_for(model: CEANet, precision: str) -> nn.Module:
    """The module to trace for a weights-and-activations precision (fp32 or fp16)."""
    if precision == "fp16":
        return Float16Compute(model).eval()
    return model


def example_input(tile: int) -> torch.Tensor:
    return torch.zeros(1, 3, tile, tile)


def export_program(module: nn.Module, tile: int) -> torch.export.ExportedProgram:
    """One fixed tile shape per artifact (static shapes keep XNNPACK, Core ML and NPUs happy)."""
    with torch.no_grad():
        return torch.export.export(module, (example_input(tile),))
