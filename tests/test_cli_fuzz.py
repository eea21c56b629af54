"""Issue 12's fuzz pass: bad files, flags and paths thrown at every CLI (generator: tests/fuzz_cases.py).

Each case asserts exit code 0 or 2, no traceback, at most the expected `error:` lines, no signal,
inputs byte-identical afterwards and every new file complete; issue 31's cases (crafted QAT configs,
link/FIFO/device outputs, non-finite flags, EXIF/TIFF orientations) assert their outcome too. Most run in-process; .pte inputs,
FIFOs and unbounded numbers in a subprocess (the costly ones beyond a representative few are
`slow`). `python benchmarks/fuzz_cli.py --cases N` runs the same generator with N random cases more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz_cases import Case, Resources, build_trivial_pte, catalogue, random_cases, run_case

RANDOM_CASES = 24  # seeded random enhance cases on top of the catalogue (the benchmark runs more)
# Isolated cases run by default (~3 s each: a fresh interpreter); the other isolated ones are slow.
DEFAULT_ISOLATED = {"enhance-image-fifo.png", "enhance-model-cut-half.pte", "enhance-flag--threads=huge",
                    "export-flag--tile=huge"}
# Too slow for the default suite for reasons of their own (each says why).
SLOW = {"evaluate-json-is-the-checkpoint"}  # runs a whole evaluation (~15 s) before it writes


def params(cases: list[Case]) -> list:
    out = []
    for case in cases:
        marks = []
        if (case.isolate and case.name not in DEFAULT_ISOLATED) or case.name in SLOW or case.slow:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


@pytest.fixture(scope="session")
def fuzz_resources(request, session_checkpoint, export_once, tmp_path_factory) -> Resources:
    """The tiny checkpoint and real exports to cut up: the session's ONNX export (test_enhance builds the
    same one), and its ExecuTorch export when the session builds that anyway, else a trivial program."""
    onnx = export_once(session_checkpoint, "onnx", "fp32").artifact
    builds_pte = any(Path(str(item.fspath)).name in ("test_export.py", "test_backends.py") for item in request.session.items)
    pte = (export_once(session_checkpoint, "executorch", "fp32").artifact if builds_pte
           else build_trivial_pte(tmp_path_factory.mktemp("fuzz-pte") / "affine.pte"))
    return Resources(session_checkpoint, onnx, pte)


@pytest.mark.parametrize("case", params(catalogue() + random_cases(RANDOM_CASES)))
def test_cli_survives(case: Case, fuzz_resources: Resources, tmp_path: Path):
    outcome = run_case(case, tmp_path / "case", fuzz_resources)
    assert not outcome.problems, f"{case.name}: {outcome.problems}\nstderr:\n{outcome.stderr[-3000:]}"


def test_representative_cases_through_the_real_entry_points(fuzz_resources: Resources, tmp_path: Path):
    """One in-process case per CLI again as `python -m cea_edge.<cli>`: the entry point adds nothing bad."""
    chosen = ["enhance-image-cuthalf.png", "export-checkpoint-random.pt", "evaluate-checkpoint-random.pt",
              "train-out-under-a-file", "quantize-recipe-not-toml"]
    cases = {case.name: case for case in catalogue()}
    for name in chosen:
        outcome = run_case(cases[name], tmp_path / name, fuzz_resources, isolate=True)
        assert not outcome.problems and outcome.code == 2, f"{name}: {outcome.problems}\n{outcome.stderr[-3000:]}"
