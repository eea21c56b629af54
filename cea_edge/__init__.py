"""cea-edge: Continuous Expert Assembly (CEA) image restoration, from PyTorch to phones."""

__version__ = "0.1.0"
