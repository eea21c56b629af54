"""The export stage: `python -m cea_edge.export --target {executorch,coreml,onnx}`.

Recipes (export/*.toml) hold each target's defaults; one shared step verifies every
artifact against the PyTorch fp32 model and writes its manifest beside it.
"""
