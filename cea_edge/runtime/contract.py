"""Moved: the artifact contract is ``cea_edge/contract.py`` (below every stage that touches
artifacts, so that the model, the exporters and the runtime may all import it), and the bundled
preset is ``cea_edge.model.config.BUNDLED_PRESET``.

This module only re-exports those names for code written against the old path; import
``cea_edge.contract`` instead. Nothing here is defined twice.
"""

from cea_edge.contract import (
    CHECKPOINT_CONTEXT_SIZE,
    CHECKPOINT_OVERLAP,
    CHECKPOINT_TILE,
    CONSTANT_METHOD_NAMES,
    CONTEXT_GRAPH,
    FACTOR_KINDS,
    FORWARD_GRAPH,
    GLOBAL_GRAPH,
    GRAPH_KEY,
    GRAPHS,
    INPUT_NAME,
    LAYOUT,
    METADATA_PREFIX,
    OUTPUT_NAME,
    SIBLING_SUFFIXES,
    VALUE_RANGE,
    ArtifactInfo,
    check_artifact_sizes,
    factor_names,
    routing_map_names,
    sibling_path,
)
from cea_edge.model.config import BUNDLED_PRESET

__all__ = [
    "BUNDLED_PRESET",
    "CHECKPOINT_CONTEXT_SIZE",
    "CHECKPOINT_OVERLAP",
    "CHECKPOINT_TILE",
    "CONSTANT_METHOD_NAMES",
    "CONTEXT_GRAPH",
    "FACTOR_KINDS",
    "FORWARD_GRAPH",
    "GLOBAL_GRAPH",
    "GRAPHS",
    "GRAPH_KEY",
    "INPUT_NAME",
    "LAYOUT",
    "METADATA_PREFIX",
    "OUTPUT_NAME",
    "SIBLING_SUFFIXES",
    "VALUE_RANGE",
    "ArtifactInfo",
    "check_artifact_sizes",
    "factor_names",
    "routing_map_names",
    "sibling_path",
]
