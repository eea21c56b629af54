"""Quantization: the library other stages import (the CLI is `python -m cea_edge.quantize`, in __main__.py).

recipe: the scheme as data (QuantRecipe, read from quantization/*.toml); nncf_graph: NNCF's
quantizers on a CEA model and the fixes to their ranges; run: one quantization run and the
fp32-vs-int8 comparison.
"""

from cea_edge.quantize.nncf_graph import (
    activation_ranges,
    calibration_set,
    hold_overflow_range,
    insert_quantizers,
    pin_input_range,
    quantization_record,
)
from cea_edge.quantize.recipe import QuantRecipe, load_quant_recipe, recipe_from_record, recipe_from_values, validate
from cea_edge.quantize.run import compare_quality, fp32_teacher, quantize, record_quality

__all__ = [
    "QuantRecipe", "activation_ranges", "calibration_set", "compare_quality", "fp32_teacher",
    "hold_overflow_range", "insert_quantizers", "load_quant_recipe", "pin_input_range", "quantization_record", "quantize",
    "recipe_from_record", "recipe_from_values", "record_quality", "validate",
]
