"""The inference runtime: tiling, blending and (to come) backends. Imports no training code."""
