"""The profile document as Markdown: machines, peaks, latency, end to end, top ops, census, gaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cea_edge.machine import BUSY_NEIGHBOURS
from cea_edge.profile.ops import top_ops

RUNTIMES = ("torch", "onnxruntime", "executorch", "coremltools")


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def machine_labels(doc: dict[str, Any]) -> dict[str, str]:
    """Canonical machine JSON -> "M1", "M2", ... (the document's own machine first)."""
    labels: dict[str, str] = {}
    for machine in [doc["machine"], *(p["machine"] for p in doc["profiles"])]:
        key = json.dumps(machine, sort_keys=True)
        labels.setdefault(key, f"M{len(labels) + 1}")
    return labels


def _isa(machine: dict[str, Any]) -> str:
    return " ".join(name for name, present in machine.get("isa", {}).items() if present) or "–"


def _machines(doc: dict[str, Any], labels: dict[str, str]) -> list[str]:
    seen = {json.dumps(m, sort_keys=True): m for m in [doc["machine"], *(p["machine"] for p in doc["profiles"])]}
    rows = [[labels[key], m.get("cpu", "?"), m.get("arch", "?"), f"{m.get('logical_cpus', '?')} ({m.get('usable_cpus', '?')})",
             _isa(m), m.get("os", "?"), m.get("python", "?"),
             ", ".join(f"{r} {v}" for r, v in m.get("runtimes", {}).items() if r in RUNTIMES and v)]
            for key, m in seen.items()]
    return _table(["machine", "CPU", "arch", "CPUs (usable)", "ISA", "OS", "python", "runtimes"], rows)


def _latency(doc: dict[str, Any], labels: dict[str, str]) -> list[str]:
    rows = []
    for p in doc["profiles"]:
        machine = labels[json.dumps(p["machine"], sort_keys=True)]
        for r in p["latency"]:
            setting = r.get("compute_units") or r["threads"]
            fraction = r.get("peak_fraction")
            rows.append([Path(p["artifact"]).name, p["runtime"], machine, setting, r["graph"], _number(r["median_ms"], 3),
                         _number(r["p10_ms"], 3), _number(r["p90_ms"], 3), _number(r.get("gflops"), 1),
                         _number(r.get("peak_fp32_gflops"), 0), "–" if fraction is None else f"{fraction:.1%}"])
    return _table(["artifact", "runtime", "machine", "threads", "graph", "median ms", "p10 ms", "p90 ms", "GFLOP/s",
                   "fp32 peak", "of peak"], rows)


def _spread(runs: list[float]) -> str:
    return f"{min(runs):.1f}–{max(runs):.1f} (n={len(runs)})" if runs else "– (n=1)"


def _end_to_end(doc: dict[str, Any], labels: dict[str, str]) -> list[str]:
    rows = []
    for p in doc["profiles"]:
        e2e = p.get("end_to_end")
        machine = labels[json.dumps(p["machine"], sort_keys=True)]
        for r in (e2e or {}).get("runs", []):
            rows.append([Path(p["artifact"]).name, machine, f"{e2e['megapixels']:.2f} MP", r["mode"], r["threads"] or "–",
                         _number(r["seconds"], 3), _number(r["ms_per_mp"], 1), _spread(r.get("ms_per_mp_runs") or []),
                         _number(r["model_seconds"], 3), _number(e2e.get("peak_rss_mb"), 0),
                         _number(e2e.get("baseline_rss_mb"), 0)])
    return _table(["artifact", "machine", "photo", "mode", "threads", "seconds (median run)", "ms/MP (median)",
                   "ms/MP min–max", "in runtime (s)", "peak RSS MB", "RSS before model MB"], rows)


def _isa_notes(doc: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """What each machine's ISA means for int8 and fp16 (a timing says little without it)."""
    from cea_edge.machine import isa_notes

    seen = {json.dumps(m, sort_keys=True): m for m in [doc["machine"], *(p["machine"] for p in doc["profiles"])]}
    return [f"- {labels[key]}: {note}" for key, machine in seen.items() for note in isa_notes(machine)]


def _top(doc: dict[str, Any], top: int, labels: dict[str, str]) -> list[str]:
    lines = []
    for p in doc["profiles"]:
        machine = labels[json.dumps(p["machine"], sort_keys=True)]
        for breakdown in p["ops"]:
            ranked = top_ops(breakdown, top)
            if not ranked:
                continue
            lines += ["", f"**{Path(p['artifact']).name}** `{breakdown['graph']}` on {machine} — {breakdown['source']}, "
                          f"{breakdown.get('threads') or '–'} thread(s), {breakdown['runs']} runs", ""]
            lines += _table(["op type", "where", "calls/run", "ms/run", "share"],
                            [[r["type"], r["where"], _number(r["calls_per_run"], 1), _number(r["ms_per_run"], 3),
                              f"{r['share']:.1%}"] for r in ranked])
    return lines


def _ops_summary(ops: dict[str, dict[str, int]], limit: int = 6) -> str:
    ranked = sorted(ops.items(), key=lambda kv: -sum(kv[1].values()))
    text = ", ".join(f"{op} {'/'.join(f'{n} {dtype}' for dtype, n in counts.items())}" for op, counts in ranked[:limit])
    return text + (f", … ({len(ranked) - limit} more types)" if len(ranked) > limit else "") or "none"


def _census(doc: dict[str, Any]) -> list[str]:
    rows = []
    for p in doc["profiles"]:
        census = p.get("census") or {}
        for method, m in census.get("methods", {}).items():
            if "delegates" in m:
                outside = ", ".join(f"{op} x{n}" for op, n in m["ops_outside"].items()) or "none"
                rows.append([Path(p["artifact"]).name, method, f"{m['delegate_calls']} ({', '.join(m['delegates'])})",
                             f"{m['ops_inside_total']}: {_ops_summary(m['ops_inside'])}", outside])
            else:
                rows.append([Path(p["artifact"]).name, method, "core ml",
                             f"{m['ops_total']}: {_ops_summary(m['ops'])}", f"weights {m['weights_bytes'] / 1e6:.2f} MB"])
    return _table(["artifact", "method / graph", "delegate calls", "ops inside (type: count by output dtype)",
                   "outside"], rows) if rows else []


def markdown(doc: dict[str, Any], top: int) -> str:
    labels = machine_labels(doc)
    here = labels[json.dumps(doc["machine"], sort_keys=True)]
    lines = [f"# cea-edge profile ({doc['schema']}, {doc['created']})", "", "## Machines", ""]
    lines += _machines(doc, labels)
    lines += ["", *_isa_notes(doc, labels)]
    others, usable = doc["settings"].get("other_cpus"), doc["machine"].get("usable_cpus", 1)
    if others is not None and others > BUSY_NEIGHBOURS:
        lines += ["", f"Other processes kept {others:.2f} of {usable} usable CPU(s) busy on average while {here} "
                      "measured: timings (multi-thread ones most) are pessimistic."]
    if doc["peaks"]:
        lines += ["", f"## Measured peak ({here}, {doc['peaks'][0].get('method', '')})", ""]
        lines += _table(["threads", "fp32 GFLOP/s", "int8 GOP/s"],
                        [[p["threads"], _number(p.get("fp32_gflops"), 1), _number(p.get("int8_gops"), 1)]
                         for p in doc["peaks"]])
    lines += ["", "## Latency per call (one tile; context: one context image; median and p10–p90 of the timed calls)",
              ""] + _latency(doc, labels)
    if any(p.get("end_to_end") for p in doc["profiles"]):
        lines += ["", "## End to end (restore_photo, synthetic photo, the median of the repeated runs after a warm-up, "
                      "with their min–max; peak RSS of a fresh process per artifact)", ""]
        lines += _end_to_end(doc, labels)
    top_lines = _top(doc, top, labels)
    if top_lines:
        lines += ["", f"## Top {top} operators by time", *top_lines]
    census = _census(doc)
    if census:
        lines += ["", "## Census (read from the artifact files)", ""] + census
    gaps = [f"- {Path(p['artifact']).name}: {text}" for p in doc["profiles"] for text in p["not_measured"]]
    gaps += [f"- {Path(p['artifact']).name}: {note}" for p in doc["profiles"]
             for note in (p.get("census") or {}).get("notes", [])]
    if gaps:
        lines += ["", "## Not measured", "", *gaps]
    return "\n".join(lines) + "\n"
