"""The evaluation CLI's table: what it prints for every case, the identity case included."""

from __future__ import annotations

import math

from cea_edge.evaluate import CaseScore, EvaluationReport, format_table


def report(output_psnr: float) -> EvaluationReport:
    clean = CaseScore("clean", "clean", 2, math.inf, output_psnr, math.nan, math.nan)
    noisy = CaseScore("noise5", "mild", 2, 34.0, output_psnr - 6, math.nan, math.nan)
    return EvaluationReport("aio-photo", [clean, noisy], {"average": noisy})


def test_the_identity_case_shows_its_score_without_an_infinite_gain():
    table = format_table({"a": report(45.0), "b": report(40.0)})
    rows = {line.split(" | ")[0]: line for line in table.splitlines()[2:]}
    assert rows["| clean"] == "| clean | inf | 45.00 | 40.00 |"  # a clean input's output PSNR is its score
    assert rows["| noise5"] == "| noise5 | 34.00 | 39.00 (+5.00) | 34.00 (+0.00) |"
    assert "inf)" not in table
