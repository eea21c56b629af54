"""The export stage: `python -m cea_edge.export --target {executorch,coreml,onnx}`.

Recipes (export/*.toml) hold each target's settings; one shared step runs every artifact
through the runtime's backend and judges it against the PyTorch model it came from (the
fp32 model, or for int8 the QAT model, with the fp32 model measured beside it), then writes
its manifest beside it.
"""
