"""The export stage: `python -m cea_edge.export --target {onnx,executorch,coreml}`.

The targets are listed in cea_edge/targets.py; recipes (export/*.toml) hold each target's
settings; one shared step runs every artifact through the runtime's backend and judges it
against the PyTorch model it came from (the fp32 model, or for int8 the QAT model, with the
fp32 model measured beside it), then writes its manifest beside it.
"""
