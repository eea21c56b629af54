"""The graphs an exported artifact carries, and how they are named -- the contract between
the exporters (which write them) and the runtime (which runs them).

    forward        (image)             -> restored       each tile makes its own factors
    context        (context image)     -> factors + routing maps, once per photo
    forward_global (image, *factors)   -> restored       every tile uses the photo's factors

ExecuTorch keeps them as methods of one program; ONNX and Core ML as the main file and
two siblings beside it (x.onnx, x.context.onnx, x.global.onnx). Factors are flat, adapter
by adapter: routing_bases_0 (1, r, C0), residual_directions_0, routing_bases_1, ...
"""

from __future__ import annotations

from pathlib import Path

FORWARD_GRAPH, CONTEXT_GRAPH, GLOBAL_GRAPH = "forward", "context", "forward_global"
SIBLING_SUFFIXES = {CONTEXT_GRAPH: ".context", GLOBAL_GRAPH: ".global"}


def factor_names(adapters: int) -> list[str]:
    return [f"{kind}_{index}" for index in range(adapters) for kind in ("routing_bases", "residual_directions")]


def routing_map_names(adapters: int) -> list[str]:
    return [f"routing_map_{index}" for index in range(adapters)]


def sibling_path(artifact: Path, graph: str) -> Path:
    """Where a file-per-graph target keeps ``graph`` beside ``artifact`` (x.onnx -> x.context.onnx)."""
    return artifact.with_name(artifact.stem + SIBLING_SUFFIXES[graph] + artifact.suffix)
