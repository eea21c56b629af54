"""benchmarks/quant_sensitivity.py: groups of quantizers switched off, scored on aio-synth or on a
parity reference set (as `parity check` judges the QAT checkpoint), every quantizer back on after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cea_edge.errors import run_cli
from cea_edge.parity.check import check_artifact, load_bars
from tests.helpers import load_script, make_smoke_reference

ROOT = Path(__file__).resolve().parent.parent


def sensitivity():
    return load_script(ROOT / "benchmarks" / "quant_sensitivity.py")


def test_parity_rows_judge_the_model_as_parity_check_does(qat_checkpoint, trained_reference, tmp_path):
    before = check_artifact(qat_checkpoint, trained_reference, load_bars())
    out = tmp_path / "rows.json"
    assert sensitivity().main([str(qat_checkpoint), "--parity", str(trained_reference.folder), "--by-resolution",
                               "--group", r"adds=^post_hooks\./add/", "--threads", "1", "--json", str(out)]) == 0
    rows = {row["group"]: row for row in json.loads(out.read_text())["rows"]}
    none = rows["(none)"]
    assert none["count"] == 0
    assert none["worst_psnr_db"] == pytest.approx(before.worst.psnr_db, abs=1e-6)
    assert none["drop_db"] == pytest.approx(before.quality_drop_db, abs=1e-9)
    # every activation quantizer off: a different model, closer to its fp32 self than any single group
    activations = rows["activations"]
    assert activations["count"] > 0 and activations["worst_psnr_db"] != none["worst_psnr_db"]
    levels = [row for group, row in rows.items() if group.startswith("activations at ")]
    assert levels and sum(row["count"] for row in levels) <= activations["count"]
    assert {"activations at full", "activations at 1/2"} <= set(rows)
    # --group: the residual adds only, not the adapters' (a subset of the op type's row), scored like the others
    assert 0 < rows["adds"]["count"] < rows["activations: add"]["count"] and "drop_db" in rows["adds"]
    # the quantizers are all back on: the checkpoint's parity is what it was
    after = check_artifact(qat_checkpoint, trained_reference, load_bars())
    assert after.worst.psnr_db == pytest.approx(before.worst.psnr_db, abs=1e-6)


@pytest.mark.parametrize(("group", "expected"), [("adds", "give LABEL=REGEX"), ("adds=(", "not a regular expression")])
def test_a_bad_group_is_one_clear_error(group, expected, qat_checkpoint, capsys):
    assert run_cli(sensitivity().main, [str(qat_checkpoint), "--group", group]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: --group {group}: {expected}")


def test_a_reference_of_another_checkpoint_is_refused(qat_checkpoint, session_checkpoint, tmp_path, capsys):
    other = make_smoke_reference(session_checkpoint, tmp_path / "other")
    code = run_cli(sensitivity().main, [str(qat_checkpoint), "--parity", str(other.folder)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "descends from checkpoint" in err[0] and "make a reference of its checkpoint" in err[0]
