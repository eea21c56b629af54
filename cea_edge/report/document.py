"""The report document: one row per configuration (cell x threads), the JSON it becomes, the
check a report read back (``--baseline``) passes, rows from imported profiles, and deltas.

Schema "cea-edge-report/1" is documented in cea_edge/report/__init__.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from cea_edge.errors import CeaError
from cea_edge.recipe_io import read_json

SCHEMA = "cea-edge-report/2"


@dataclass
class Row:
    key: str  # "<target>-<precision>-t<tile>-<threads>thr", "@<file>" appended for imported rows
    cell: str  # "<target>-<precision>-t<tile>"
    target: str
    precision: str
    tile: int
    threads: int | None
    source: str  # "measured" | "not measured here" | "imported from <file>"
    artifact_mb: float | None = None
    psnr_db: float | None = None  # suite average, global-context mode
    psnr_drop_db: float | None = None  # the fp32 model's best average over the report's tiles minus psnr_db
    family_psnr_db: dict[str, float] = field(default_factory=dict)
    ssim: float | None = None
    ms_per_mp: float | None = None  # end to end on the report's photo, global-context mode
    ms_per_tile: float | None = None  # forward graph, median
    peak_rss_mb: float | None = None
    parity_worst_psnr_db: float | None = None  # vs the FP32 reference, worst case
    parity_passed: bool | None = None
    forward_ops: int | None = None  # static census of the forward graph (.pte: ops in XNNPACK; Core ML: MIL ops)
    notes: list[str] = field(default_factory=list)
    delta: dict[str, float] | None = None  # vs --baseline: this minus the baseline's, per metric
    # ---- schema 2: spread, machine, consistency, drift (absent from reports of schema 1) ----
    machine: str = "M1"  # label of the machine that measured the row (document["machines"]); rows of
    # different machines are never ranked against each other
    ms_per_mp_low: float | None = None  # spread of the end-to-end runs: min over the repeats
    ms_per_mp_high: float | None = None  # max over the repeats
    ms_per_mp_runs: list[float] = field(default_factory=list)  # each end-to-end run, in order
    ms_per_tile_p10: float | None = None  # forward graph, per-call spread
    ms_per_tile_p90: float | None = None
    tiles_per_mp: float | None = None  # forward_global calls per megapixel of the end-to-end photo
    context_ms: float | None = None  # the one context call per photo, median
    calls_ms_per_mp: float | None = None  # (context + tiles x forward_global median) / MP: what the calls add up to
    consistent: bool | None = None  # end to end within CONSISTENCY of calls_ms_per_mp (None: not both known)
    artifact_sha256: str | None = None  # the graph's hash: a baseline row with the same hash is a control
    emulated: bool = False  # fp16 on a CPU without native fp16 arithmetic
    delta_pct: dict[str, float] | None = None  # vs --baseline, in % of the baseline value
    delta_corrected_pct: dict[str, float] | None = None  # timing deltas with the controls' drift divided out
    control: bool = False  # same artifact hash as the baseline row: its change is the machine's drift


ROW_KEYS = tuple(f.name for f in fields(Row))
# Schema 1 (before repeats, machines and controls) ends at "delta"; its rows are read with the defaults.
V1_ROW_KEYS = ROW_KEYS[:ROW_KEYS.index("delta") + 1]
READABLE = {"cea-edge-report/1": V1_ROW_KEYS, SCHEMA: ROW_KEYS}
DELTA_METRICS = ("ms_per_mp", "psnr_db", "psnr_drop_db", "artifact_mb", "ms_per_tile", "peak_rss_mb")


def _float(value: Any) -> float | None:
    return None if value is None or value == "inf" else float(value)


def best_quality(by_tile: dict[Any, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]] | None:
    """The fp32 model's quality at its best tile: the one reference every row's drop is taken from."""
    return max(by_tile.values(), key=lambda quality: quality["average"]["psnr_db"], default=None)


CONSISTENCY = 0.20  # end to end vs what its calls add up to: a larger gap is flagged in the row
TIMING_METRICS = ("ms_per_mp", "ms_per_tile")  # what a machine's drift scales
MACHINE_IDENTITY = ("cpu", "arch", "logical_cpus", "usable_cpus", "isa", "runtimes")


def machine_key(machine: dict[str, Any]) -> str:
    """What makes two machine descriptions the same machine for ranking: CPU, ISA, cores, runtimes."""
    return json.dumps({name: machine.get(name) for name in MACHINE_IDENTITY}, sort_keys=True, default=str)


def _spread_of(runs: list[float]) -> tuple[float | None, float | None]:
    return (min(runs), max(runs)) if runs else (None, None)


def _timed_graph(latency: dict[str, Any]) -> str:
    """The graph the end-to-end run executes per tile: forward_global in global-context mode, else forward."""
    return "forward_global" if "forward_global" in latency else "forward"


def rows_for_cell(result: dict[str, Any], fp32_quality: dict[str, dict[str, float]] | None,
                  threads: list[int], machine: str = "M1", fp16_native: bool | None = None) -> list[Row]:
    """A measured (or not-measured-here) cell as one row per thread count; ``fp32_quality``: the
    reference of the drop (best_quality); ``machine``: the label of the machine that measured it."""
    quality = result.get("quality")
    average = quality["average"]["psnr_db"] if quality else None
    drop = (fp32_quality["average"]["psnr_db"] - average) if quality and fp32_quality else None
    parity = result.get("parity") or {}
    forward = ((result.get("census") or {}).get("methods") or {}).get("forward") or {}
    ops = forward.get("ops_inside_total", forward.get("ops_total"))
    measured = quality is not None or bool(result.get("ms_per_mp"))
    photo = result.get("photo") or {}
    emulated = result["precision"] == "fp16" and fp16_native is False and result["target"] != "coreml"
    rows = []
    for count in threads if measured else [None]:
        latency = result.get("latency_ms", {}).get(str(count), {})
        graph = _timed_graph(latency)
        p10_p90 = result.get("latency_spread_ms", {}).get(str(count), {}).get(graph) or [None, None]
        ms = _float(result.get("ms_per_mp", {}).get(str(count)))
        runs = [float(value) for value in result.get("ms_per_mp_runs", {}).get(str(count), [])]
        low, high = _spread_of(runs)
        calls = consistent = tiles_per_mp = None
        if photo.get("tiles") and photo.get("megapixels") and latency.get(graph) is not None:
            tiles_per_mp = photo["tiles"] / photo["megapixels"]
            calls = (latency.get("context", 0.0) + photo["tiles"] * latency[graph]) / photo["megapixels"]
            consistent = None if ms is None else abs(ms / calls - 1) <= CONSISTENCY
        notes = list(result.get("notes", []))
        if consistent is False:
            notes.append(f"end to end {ms:.0f} ms/MP vs {calls:.0f} ms/MP from its calls (context + "
                         f"{photo['tiles']} x {graph}): they differ by more than {CONSISTENCY:.0%}")
        if emulated and count == threads[0]:
            notes.append("fp16 emulated: this CPU has no fp16 arithmetic, the runtime converts around each op")
        rows.append(Row(
            key=f"{result['cell']}-{count}thr" if count is not None else result["cell"],
            cell=result["cell"], target=result["target"], precision=result["precision"], tile=result["tile"],
            threads=count, source="measured" if measured else "not measured here",
            artifact_mb=result.get("artifact_mb"), psnr_db=average, psnr_drop_db=drop,
            family_psnr_db={name: score["psnr_db"] for name, score in (quality or {}).items() if name != "average"},
            ssim=quality["average"]["ssim"] if quality else None,
            ms_per_mp=ms, ms_per_tile=_float(latency.get(graph)), peak_rss_mb=result.get("peak_rss_mb"),
            parity_worst_psnr_db=_float(parity.get("worst_psnr_db")), parity_passed=parity.get("passed"),
            forward_ops=ops, notes=notes, machine=machine, ms_per_mp_low=low, ms_per_mp_high=high,
            ms_per_mp_runs=runs, ms_per_tile_p10=_float(p10_p90[0]), ms_per_tile_p90=_float(p10_p90[1]),
            tiles_per_mp=tiles_per_mp, context_ms=_float(latency.get("context")), calls_ms_per_mp=calls,
            consistent=consistent, artifact_sha256=result.get("artifact_sha256"), emulated=emulated))
    return rows


def check_imported(profile: dict[str, Any], preset: str, checkpoint_sha256: str) -> str | None:
    """CeaError when an imported profile is of another model than the report's; a note when it
    cannot tell which checkpoint the artifact came from."""
    if profile.get("preset") != preset:
        raise CeaError(f"--add-profile: {profile.get('source', 'a profile')} profiles '{profile.get('artifact')}' "
                       f"of preset '{profile.get('preset')}', but this report is of preset '{preset}': profile the "
                       "artifacts of the report's checkpoint")
    source = profile.get("source_sha256")
    if source is None:
        return "the profile does not record its checkpoint: matched by preset only"
    if source != checkpoint_sha256:
        raise CeaError(f"--add-profile: {profile.get('source', 'a profile')} profiles '{profile.get('artifact')}', "
                       f"made from checkpoint {source[:12]}, but this report is of checkpoint {checkpoint_sha256[:12]}: "
                       "profile the artifacts of the report's checkpoint")
    return None


def rows_from_profiles(profiles: list[dict[str, Any]], measured: list[Row], labels: dict[str, str],
                       preset: str | None = None, checkpoint_sha256: str | None = None) -> list[Row]:
    """Rows of imported profiles (same schema as the profile stage): their latency and ms/MP, each
    under the label of its machine (``labels``: machine_key -> label, extended here); quality from
    the same configuration measured here, when there is one (same artifact kind, precision and
    tile: the program computes the same numbers on any CPU, to rounding). With ``preset`` given,
    each profile must be of the report's model (check_imported)."""
    by_cell = {row.cell: row for row in measured if row.psnr_db is not None}
    rows = []
    for profile in profiles:
        checked = check_imported(profile, preset, checkpoint_sha256 or "") if preset is not None else None
        cell = f"{profile['format']}-{profile['precision']}-t{profile['tile']}"
        source = profile.get("source", "imported")
        tag = source.removeprefix("imported from ")
        twin = by_cell.get(cell)
        machine = profile.get("machine", {})
        label = labels.setdefault(machine_key(machine), f"M{len(labels) + 1}")
        end_to_end = profile.get("end_to_end") or {}
        runs = {run["threads"]: run for run in end_to_end.get("runs", []) if run.get("mode") == "global"}
        latency = {(row["graph"], row["threads"]): row for row in profile.get("latency", [])}
        counts = {threads for _, threads in latency} | set(runs)
        for count in sorted(counts, key=lambda t: (t is None, t or 0)):
            graph = "forward_global" if ("forward_global", count) in latency else "forward"
            per_call = latency.get((graph, count)) or {}
            series = [float(v) for v in (runs.get(count) or {}).get("ms_per_mp_runs", [])]
            low, high = _spread_of(series)
            notes = [f"imported: measured on {machine.get('cpu', 'another machine')}"]
            if checked:
                notes.append(checked)
            if twin:
                notes.append("quality of the same configuration measured here")
            rows.append(Row(
                key=f"{cell}-{count}thr@{tag}", cell=cell, target=profile["format"], precision=profile["precision"],
                tile=profile["tile"], threads=count, source=source, artifact_mb=twin.artifact_mb if twin else None,
                psnr_db=twin.psnr_db if twin else None, psnr_drop_db=twin.psnr_drop_db if twin else None,
                family_psnr_db=dict(twin.family_psnr_db) if twin else {}, ssim=twin.ssim if twin else None,
                ms_per_mp=(runs.get(count) or {}).get("ms_per_mp"), ms_per_tile=per_call.get("median_ms"),
                ms_per_tile_p10=per_call.get("p10_ms"), ms_per_tile_p90=per_call.get("p90_ms"),
                peak_rss_mb=end_to_end.get("peak_rss_mb"), notes=notes, machine=label, ms_per_mp_low=low,
                ms_per_mp_high=high, ms_per_mp_runs=series))
    return rows


@dataclass
class Drift:
    """How much the unchanged artifacts (controls) moved between the baseline and now, per thread count."""

    threads: int | None
    ratio: float  # median of now / baseline ms/MP over the controls
    low: float  # the controls' smallest and largest ratio
    high: float
    controls: int


@dataclass
class BaselineComparison:
    file: str
    created: str | None
    matched_rows: int
    controls: int
    control_method: str  # how controls were told: "artifact sha256" or "exact artifact size (...)"
    drift: list[Drift]
    machine_note: str | None  # set when the baseline was measured on another machine
    quality_note: str | None = None  # set when the baseline's quality suite differs (quality deltas left out)


def _control(row: Row, before: dict[str, Any]) -> tuple[bool, str]:
    if before.get("artifact_sha256") and row.artifact_sha256:
        return before["artifact_sha256"] == row.artifact_sha256, "artifact sha256"
    # Reports of schema 1 record no hashes; the shipped bytes, recorded to the byte, stand in.
    same = before.get("artifact_mb") is not None and row.artifact_mb is not None \
        and round(before["artifact_mb"] * 1e6) == round(row.artifact_mb * 1e6)
    return same, "exact artifact size in bytes (the baseline records no hashes)"


QUALITY_METRICS = ("psnr_db", "psnr_drop_db")


def add_deltas(rows: list[Row], baseline: dict[str, Any], file: str = "", machine: dict[str, Any] | None = None,
               suite: str | None = None) -> BaselineComparison:
    """Each measured row's deltas against the baseline's measured row of the same key: raw, in %,
    and for timings with the controls' drift divided out (controls: rows whose artifact did not
    change; their change is the machine's, not the code's). Quality is compared only when both
    reports measured it on the same ``suite``."""
    for row in rows:  # a row compared before (another baseline) starts clean
        row.delta = row.delta_pct = row.delta_corrected_pct = None
        row.control = False
    old = {row["key"]: row for row in baseline["rows"] if row.get("source") == "measured"}
    pairs = [(row, old[row.key]) for row in rows if row.source == "measured" and row.key in old]
    old_suite = (baseline.get("settings") or {}).get("suite")
    skipped = QUALITY_METRICS if suite is not None and old_suite is not None and old_suite != suite else ()
    metrics = [metric for metric in DELTA_METRICS if metric not in skipped]
    methods = set()
    for row, before in pairs:
        row.delta = {metric: getattr(row, metric) - before[metric] for metric in metrics
                     if getattr(row, metric) is not None and before.get(metric) is not None}
        row.delta_pct = {metric: 100 * (getattr(row, metric) / before[metric] - 1) for metric in metrics
                         if metric not in QUALITY_METRICS and getattr(row, metric) is not None and before.get(metric)}
        row.control, method = _control(row, before)
        methods.add(method)
    ratios: dict[int | None, list[float]] = {}
    for row, before in pairs:
        if row.control and row.ms_per_mp and before.get("ms_per_mp"):
            ratios.setdefault(row.threads, []).append(row.ms_per_mp / before["ms_per_mp"])
    everything = [ratio for values in ratios.values() for ratio in values]
    drift = {threads: Drift(threads, float(np.median(values)), min(values), max(values), len(values))
             for threads, values in sorted(ratios.items(), key=lambda item: (item[0] is None, item[0] or 0))}
    for row, before in pairs:
        factor = drift.get(row.threads) or (Drift(None, float(np.median(everything)), 0, 0, 0) if everything else None)
        if factor is None:
            continue
        row.delta_corrected_pct = {metric: 100 * (getattr(row, metric) / (before[metric] * factor.ratio) - 1)
                                   for metric in TIMING_METRICS if getattr(row, metric) is not None and before.get(metric)}
    note = None
    if machine is not None and baseline.get("machine") and machine_key(baseline["machine"]) != machine_key(machine):
        old_machine = baseline["machine"]
        flags = lambda m: ", ".join(k for k, v in (m.get("isa") or {}).items() if v) or "unknown"  # noqa: E731
        note = (f"the baseline was measured on another machine ({old_machine.get('cpu')}, ISA {flags(old_machine)}; "
                f"now {machine.get('cpu')}, ISA {flags(machine)}): its drift includes the hardware, which does not "
                "scale every precision alike, so corrected deltas of other precisions than the controls' are rough")
    quality_note = (f"quality not compared: the baseline measured it on {old_suite}, this report on {suite}"
                    if skipped else None)
    return BaselineComparison(file, baseline.get("created"), len(pairs), sum(row.control for row, _ in pairs),
                              " / ".join(sorted(methods)) or "none", list(drift.values()), note, quality_note)


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, default=lambda value: asdict(value) if hasattr(value, "__dataclass_fields__")
                      else str(value)) + "\n"


def _number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def validate(data: Any, source: str) -> dict[str, Any]:
    """A report read back (a baseline): a schema this code reads, every row with that schema's row
    keys, and the fields a comparison computes with of the right types."""
    try:
        if not isinstance(data, dict) or data.get("schema") not in READABLE:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"schema is {found!r}, this cea-edge reads {' or '.join(map(repr, READABLE))}")
        if not isinstance(data.get("rows"), list):
            raise ValueError("'rows' is not a list")
        if not isinstance(data.get("machine", {}), dict) or not isinstance(data.get("created", ""), (str, type(None))):
            raise ValueError("'machine' is not an object or 'created' is not a string")
        keys = READABLE[data["schema"]]
        for index, row in enumerate(data["rows"]):
            if not isinstance(row, dict):
                raise ValueError(f"rows[{index}] is not an object")
            missing = [key for key in keys if key not in row]
            if missing:
                raise ValueError(f"rows[{index}] lacks {', '.join(missing)}")
            if not isinstance(row["key"], str) or not isinstance(row["source"], str):
                raise ValueError(f"rows[{index}].key or .source is not a string")
            wrong = [metric for metric in DELTA_METRICS if not _number_or_null(row[metric])]
            if wrong:
                raise ValueError(f"rows[{index}].{wrong[0]} is {row[wrong[0]]!r}, not a finite number or null")
            if not isinstance(row.get("artifact_sha256"), (str, type(None))):
                raise ValueError(f"rows[{index}].artifact_sha256 is not a string")
    except ValueError as error:
        raise CeaError(f"'{source}' is not a cea-edge trade-off report ({error}); pass a report.json written by "
                       "python -m cea_edge.report") from None
    return data


def load_report(path: Path) -> dict[str, Any]:
    return validate(read_json(path, "--baseline"), str(path))


def row_from_dict(data: dict[str, Any]) -> Row:
    """A row of either schema (schema 1 rows take the defaults of the newer fields)."""
    return Row(**{key: data[key] for key in ROW_KEYS if key in data})
