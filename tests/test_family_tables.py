"""benchmarks/family_tables.py: the committed edge3 quality tables are what it makes of the committed JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports" / "edge3"


def family_tables():
    return load_script(ROOT / "benchmarks" / "family_tables.py")


@pytest.mark.parametrize("suite", ["aio-synth", "aio-photo"])
def test_quality_md_holds_the_tables_of_the_committed_json(suite):
    report = json.loads((REPORTS / f"{suite}.json").read_text())
    tables = family_tables().tables(report)
    assert tables in (REPORTS / "quality.md").read_text()
    assert "| composite (" in tables and "| average (" in tables and tables.count("\n| ") > len(report) + 10


def test_reports_scored_on_other_cases_are_refused():
    report = json.loads((REPORTS / "aio-synth.json").read_text())
    label = next(iter(report))
    other = copy.deepcopy(report[label])
    other["cases"] = other["cases"][1:]
    with pytest.raises(SystemExit, match="other cases"):
        family_tables().tables({label: report[label], "other": other})
