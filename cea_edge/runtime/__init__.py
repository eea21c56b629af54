"""The inference runtime: backends over every exported artifact (and checkpoints), tile plans
with feathered blending, context images and photo restoration. The artifact contract they read
is cea_edge/contract.py, shared with the exporters.

Imports no training, data or export code: apps and the export stage's verification run
artifacts through it alike.
"""
