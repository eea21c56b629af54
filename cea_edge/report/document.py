"""The report document: one row per configuration (cell x threads), the JSON it becomes, the
check a report read back (``--baseline``) passes, rows from imported profiles, and deltas.

Schema "cea-edge-report/1" is documented in cea_edge/report/__init__.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError
from cea_edge.recipe_io import read_json

SCHEMA = "cea-edge-report/1"


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


ROW_KEYS = tuple(f.name for f in fields(Row))
DELTA_METRICS = ("ms_per_mp", "psnr_db", "psnr_drop_db", "artifact_mb", "ms_per_tile", "peak_rss_mb")


def _float(value: Any) -> float | None:
    return None if value is None or value == "inf" else float(value)


def best_quality(by_tile: dict[Any, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]] | None:
    """The fp32 model's quality at its best tile: the one reference every row's drop is taken from."""
    return max(by_tile.values(), key=lambda quality: quality["average"]["psnr_db"], default=None)


def rows_for_cell(result: dict[str, Any], fp32_quality: dict[str, dict[str, float]] | None,
                  threads: list[int]) -> list[Row]:
    """A measured (or not-measured-here) cell as one row per thread count; ``fp32_quality``: the
    reference of the drop (best_quality)."""
    quality = result.get("quality")
    average = quality["average"]["psnr_db"] if quality else None
    drop = (fp32_quality["average"]["psnr_db"] - average) if quality and fp32_quality else None
    parity = result.get("parity") or {}
    forward = ((result.get("census") or {}).get("methods") or {}).get("forward") or {}
    ops = forward.get("ops_inside_total", forward.get("ops_total"))
    measured = quality is not None or bool(result.get("ms_per_mp"))
    rows = []
    for count in threads if measured else [None]:
        latency = result.get("latency_ms", {}).get(str(count), {})
        rows.append(Row(
            key=f"{result['cell']}-{count}thr" if count is not None else result["cell"],
            cell=result["cell"], target=result["target"], precision=result["precision"], tile=result["tile"],
            threads=count, source="measured" if measured else "not measured here",
            artifact_mb=result.get("artifact_mb"), psnr_db=average, psnr_drop_db=drop,
            family_psnr_db={name: score["psnr_db"] for name, score in (quality or {}).items() if name != "average"},
            ssim=quality["average"]["ssim"] if quality else None,
            ms_per_mp=_float(result.get("ms_per_mp", {}).get(str(count))),
            ms_per_tile=_float(latency.get("forward")), peak_rss_mb=result.get("peak_rss_mb"),
            parity_worst_psnr_db=_float(parity.get("worst_psnr_db")), parity_passed=parity.get("passed"),
            forward_ops=ops, notes=list(result.get("notes", []))))
    return rows


def rows_from_profiles(profiles: list[dict[str, Any]], measured: list[Row]) -> list[Row]:
    """Rows of imported profiles (same schema as the profile stage): their latency and ms/MP;
    quality from the same configuration measured here, when there is one (same artifact kind,
    precision and tile: the program computes the same numbers on any CPU, to rounding)."""
    by_cell = {row.cell: row for row in measured if row.psnr_db is not None}
    rows = []
    for profile in profiles:
        cell = f"{profile['format']}-{profile['precision']}-t{profile['tile']}"
        source = profile.get("source", "imported")
        tag = source.removeprefix("imported from ")
        twin = by_cell.get(cell)
        end_to_end = profile.get("end_to_end") or {}
        ms = {run["threads"]: run["ms_per_mp"] for run in end_to_end.get("runs", []) if run.get("mode") == "global"}
        forward = {row["threads"]: row["median_ms"] for row in profile.get("latency", []) if row["graph"] == "forward"}
        for count in sorted(set(ms) | set(forward), key=lambda t: (t is None, t or 0)):
            notes = [f"imported: measured on {profile.get('machine', {}).get('cpu', 'another machine')}"]
            if twin:
                notes.append("quality of the same configuration measured here")
            rows.append(Row(
                key=f"{cell}-{count}thr@{tag}", cell=cell, target=profile["format"], precision=profile["precision"],
                tile=profile["tile"], threads=count, source=source, artifact_mb=twin.artifact_mb if twin else None,
                psnr_db=twin.psnr_db if twin else None, psnr_drop_db=twin.psnr_drop_db if twin else None,
                family_psnr_db=dict(twin.family_psnr_db) if twin else {}, ssim=twin.ssim if twin else None,
                ms_per_mp=ms.get(count), ms_per_tile=forward.get(count), peak_rss_mb=end_to_end.get("peak_rss_mb"),
                notes=notes))
    return rows


def add_deltas(rows: list[Row], baseline: dict[str, Any]) -> int:
    """Set each row's delta against the baseline row of the same key; returns how many matched."""
    old = {row["key"]: row for row in baseline["rows"]}
    matched = 0
    for row in rows:
        before = old.get(row.key)
        if before is None:
            continue
        matched += 1
        row.delta = {metric: getattr(row, metric) - before[metric] for metric in DELTA_METRICS
                     if getattr(row, metric) is not None and before.get(metric) is not None}
    return matched


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, default=lambda value: asdict(value) if hasattr(value, "__dataclass_fields__")
                      else str(value)) + "\n"


def validate(data: Any, source: str) -> dict[str, Any]:
    """A report read back (a baseline): the schema, and every row with the row keys."""
    try:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"schema is {found!r}, this cea-edge reads {SCHEMA!r}")
        if not isinstance(data.get("rows"), list):
            raise ValueError("'rows' is not a list")
        for index, row in enumerate(data["rows"]):
            if not isinstance(row, dict):
                raise ValueError(f"rows[{index}] is not an object")
            missing = [key for key in ROW_KEYS if key not in row]
            if missing:
                raise ValueError(f"rows[{index}] lacks {', '.join(missing)}")
    except ValueError as error:
        raise CeaError(f"'{source}' is not a cea-edge trade-off report ({error}); pass a report.json written by "
                       "python -m cea_edge.report") from None
    return data


def load_report(path: Path) -> dict[str, Any]:
    return validate(read_json(path, "--baseline"), str(path))


def row_from_dict(data: dict[str, Any]) -> Row:
    return Row(**{key: data[key] for key in ROW_KEYS})
