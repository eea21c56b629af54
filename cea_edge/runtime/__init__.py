"""The inference runtime: the artifact contract, backends over every exported artifact (and
checkpoints), tile plans with feathered blending, context images and photo restoration.

Imports no training, data or export code: apps and the export stage's verification run
artifacts through it alike.
"""
