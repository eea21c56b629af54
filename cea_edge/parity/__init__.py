"""Parity: artifacts against the FP32 reference (python -m cea_edge.parity)."""
