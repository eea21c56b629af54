"""Data flows one way: what each layer imports, checked in a fresh interpreter.

    errors < targets < model config + memory < contract < runtime < profile
                      model (torch)          < export (uses runtime to verify, never the profiler)
    targets: imports only errors (the contract takes its precisions from it); its members reach
    export / runtime / profile on call
"""

from __future__ import annotations

import subprocess
import sys

import pytest

STAGES = ("cea_edge.train", "cea_edge.data", "cea_edge.quantize", "cea_edge.export", "cea_edge.runtime",
          "cea_edge.profile", "cea_edge.report", "cea_edge.parity", "cea_edge.evaluate", "cea_edge.enhance")

# modules imported -> prefixes none of them may pull in (with torch: whether torch may load)
RULES = {
    "contract": ("cea_edge.contract", STAGES + ("cea_edge.model.network", "torch")),
    "targets": ("cea_edge.targets", STAGES + ("cea_edge.contract", "cea_edge.model", "torch")),
    "model": ("cea_edge.model.checkpoint, cea_edge.model.network, cea_edge.model.quantized, cea_edge.model.inference",
              STAGES + ("cea_edge.contract", "cea_edge.targets")),
    "runtime": ("cea_edge.runtime.backends, cea_edge.runtime.tiling, cea_edge.runtime.restore, cea_edge.runtime.routing",
                tuple(s for s in STAGES if s != "cea_edge.runtime")),
    "export": ("cea_edge.export.__main__, cea_edge.export.pipeline, cea_edge.export.onnx_target, "
               "cea_edge.export.executorch_target, cea_edge.export.coreml_target, cea_edge.export.verify",
               ("cea_edge.profile", "cea_edge.report", "cea_edge.parity", "cea_edge.train", "cea_edge.enhance")),
}


@pytest.mark.parametrize("layer", list(RULES))
def test_each_layer_imports_only_what_is_below_it(layer):
    modules, forbidden = RULES[layer]
    probe = (f"import sys, {modules}; "
             f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{layer} imports {done.stdout.strip()}"
