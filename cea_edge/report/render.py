"""report.md and a self-contained report.html (plots embedded as data URIs, tables sortable by any
column with a few lines of inline script, nothing fetched from anywhere).

Both say the same things: which machine measured what (one section per machine, never ranked
across), how each number was measured and with what spread, what the ISA means for the
precisions, and, against a baseline, the raw and the drift-corrected change.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from cea_edge.report.document import CONSISTENCY, Row
from cea_edge.report.pareto import QUALITY_TIE_DB, SIZE_TIE_FRACTION, signed_db, spread

RUNTIMES = ("onnxruntime", "executorch", "torch", "coremltools")
COLUMNS = (  # (header, row attribute, format)
    ("configuration", "key", "{}"), ("target", "target", "{}"), ("precision", "precision", "{}"),
    ("tile", "tile", "{}"), ("threads", "threads", "{}"), ("ms/MP", "ms_per_mp", "{:.0f}"),
    ("min–max", "ms_spread", "{}"), ("ms/tile (p10–p90)", "ms_per_tile", "{:.1f}"), ("tiles/MP", "tiles_per_mp", "{:.1f}"),
    ("calls ms/MP", "calls_ms_per_mp", "{:.0f}"),
    ("PSNR dB", "psnr_db", "{:.2f}"), ("drop dB", "psnr_drop_db", "{:+.3f}"),
    ("single", "single", "{:.2f}"), ("spatial", "spatial", "{:.2f}"), ("composite", "composite", "{:.2f}"),
    ("parity worst dB", "parity_worst_psnr_db", "{:.1f}"), ("MB", "artifact_mb", "{:.2f}"),
    ("forward ops", "forward_ops", "{}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"), ("source", "source", "{}"),
)
TEXT_COLUMNS = ("key", "target", "precision", "source", "ms_spread")
TITLES = {"pareto": "Pareto chart", "drops": "Quality drop per family and configuration",
          "threads": "Latency against threads", "crops": "Before / after and routing maps",
          "difference": "fp32 against int8, amplified difference", "seam": "A tile seam at 1:1"}


def machine_summary(machine: dict[str, Any]) -> str:
    """CPU, cores used, ISA flags and runtime versions in one line."""
    flags = " ".join(name for name, on in (machine.get("isa") or {}).items() if on) or "unknown"
    runtimes = ", ".join(f"{name} {version}" for name, version in (machine.get("runtimes") or {}).items()
                         if name in RUNTIMES and version)
    cores = machine.get("usable_cpus")
    return (f"{machine.get('cpu', 'unknown CPU')}, {cores if cores is not None else '?'} usable CPUs, ISA: {flags}"
            + (f"; {runtimes}" if runtimes else ""))


def _value(row: Row, attribute: str) -> Any:
    if attribute in ("single", "spatial", "composite"):
        return row.family_psnr_db.get(attribute)
    if attribute == "ms_spread":
        return None if row.ms_per_mp is None or row.ms_per_mp_low is None else spread(row)
    return getattr(row, attribute)


def _delta_text(row: Row, attribute: str) -> str:
    if not row.delta_pct or attribute not in row.delta_pct:
        if row.delta and attribute in row.delta:  # quality: in dB, not %
            return f" ({row.delta[attribute]:+.3g})"
        return ""
    text = f"{row.delta_pct[attribute]:+.0f}%"
    if row.delta_corrected_pct and attribute in row.delta_corrected_pct:
        text += f", {row.delta_corrected_pct[attribute]:+.0f}% corr."
    return f" ({text})"


def _cell(row: Row, attribute: str, pattern: str) -> str:
    value = _value(row, attribute)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if attribute == "ms_spread":
        return f"{value[0]:.0f}–{value[1]:.0f} (n={len(row.ms_per_mp_runs)})"
    text = pattern.format(round(value, 3) + 0.0 if attribute == "psnr_drop_db" else value)
    if attribute == "precision" and row.emulated:
        text += " (emulated)"
    if attribute == "ms_per_tile" and row.ms_per_tile_p10 is not None and row.ms_per_tile_p90 is not None:
        text += f" ({row.ms_per_tile_p10:.1f}–{row.ms_per_tile_p90:.1f})"
    if attribute == "calls_ms_per_mp" and row.consistent is False:
        text += " ⚠"
    if attribute == "parity_worst_psnr_db" and row.parity_passed is not None:
        text += " ✓" if row.parity_passed else " ✗"
    if attribute == "key" and row.control:
        text += " (control)"
    return text + _delta_text(row, attribute)


def table_markdown(rows: Sequence[Row], front: set[str]) -> list[str]:
    lines = ["| " + " | ".join(header for header, *_ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row, attribute, pattern) for _, attribute, pattern in COLUMNS]
        if row.key in front:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def method_lines(document: dict[str, Any]) -> list[str]:
    """How every number was measured, in sentences (both documents print them)."""
    settings = document["settings"]
    qat = (f"; int8 cells from the QAT checkpoint `{settings['qat_checkpoint']}` "
           f"({(settings.get('qat_checkpoint_sha256') or '')[:12]})" if settings.get("qat_checkpoint") else "")
    repeats = settings.get("repeats", 1)
    return [
        f"Model: `{settings['checkpoint']}` ({settings['checkpoint_sha256'][:12]}, preset {settings.get('preset', '?')})"
        f"{qat}.",
        f"Quality: PSNR on `{settings['suite']}` through each artifact at its own tile, in global-context mode (the "
        "path users run); drop: the fp32 model's best PSNR over the report's tiles minus the configuration's.",
        f"Speed: ms/MP end to end on a {settings['photo_mp']:g} MP photo in global-context mode, the median of "
        f"{repeats} run(s) after a warm-up in a fresh process, with the runs' min–max; ms/tile: median (p10–p90) of "
        f"{settings['runs']} calls of the graph those runs execute per tile (forward_global); calls ms/MP: the one "
        f"context call plus tiles/MP × that median — a row whose end to end differs from it by more than "
        f"{CONSISTENCY:.0%} is marked ⚠.",
        f"Ties: configurations whose end-to-end spreads overlap, whose drops differ by less than {QUALITY_TIE_DB:g} dB "
        f"or whose sizes differ by less than {SIZE_TIE_FRACTION:.0%} are indistinguishable here; the recommendations "
        "name them.",
    ]


def baseline_lines(baseline: dict[str, Any] | None) -> list[str]:
    if not baseline:
        return []
    lines = [f"Against `{baseline['file']}` (written {baseline.get('created') or 'at an unknown time'}): "
             f"{baseline['matched_rows']} rows matched, {baseline['controls']} of them controls (unchanged artifacts, "
             f"told by {baseline['control_method']}). In brackets after a timing: its change in % of the baseline, "
             "then drift-corrected (divided by the controls' median change at the same thread count, what the "
             "machine alone did); after quality and size: the raw change (dB, MB)."]
    if baseline.get("drift"):
        lines.append("Drift of the controls (now / baseline ms/MP): " + "; ".join(
            f"{d['threads']} thread(s): ×{d['ratio']:.2f} (×{d['low']:.2f}–×{d['high']:.2f}, {d['controls']} controls)"
            for d in baseline["drift"]) + ".")
    else:
        lines.append("No controls: every matched artifact changed, so machine drift cannot be told from the change; "
                     "deltas are raw only.")
    if baseline.get("machine_note"):
        lines.append(f"Caution: {baseline['machine_note']}.")
    if baseline.get("quality_note"):
        lines.append(f"Note: {baseline['quality_note']}.")
    return lines


def _recommendation_line(item: dict[str, Any]) -> str:
    chosen = f"**{item['key']}**" if item["key"] else "none"
    return f"- {item['goal']}: {chosen} — {item['why']}"


def _front_line(row: Row) -> str:
    low, high = spread(row)
    return (f"- {row.key}: {row.ms_per_mp:.0f} ms/MP ({low:.0f}–{high:.0f}), drop {signed_db(row.psnr_drop_db)}"
            + (f", {row.artifact_mb:.2f} MB" if row.artifact_mb is not None else ""))


def _section_notes(section: Any, document: dict[str, Any]) -> list[str]:
    from cea_edge.machine import isa_notes

    notes = isa_notes(section.description)
    if section.machine != "M1":
        notes.append("imported rows: measured elsewhere, ranked only among themselves; quality is this machine's "
                     "measurement of the same configuration")
    return notes


def markdown(document: dict[str, Any], sections: Sequence[Any], pictures: dict[str, str]) -> str:
    settings = document["settings"]
    lines = [f"# Latency / accuracy trade-off: {settings['checkpoint']}", "",
             f"Written by `{settings['command']}` on {document['created']} in {document['wall_seconds']:.0f} s"
             + (f" ({document['resumed_cells']} of {document['cells']} cells measured by an earlier run and resumed)."
                if document.get("resumed_cells") else "."), ""]
    lines += [f"- {line}" for line in method_lines(document)]
    lines += [""]
    baseline = baseline_lines(document.get("baseline"))
    if baseline:
        lines += ["## Baseline", ""] + [f"- {line}" for line in baseline] + [""]
    for section in sections:
        here = " (this machine)" if section.machine == "M1" else ""
        lines += [f"## {section.machine}{here}: {machine_summary(section.description)}", ""]
        lines += [f"- {note}" for note in _section_notes(section, document)] + [""]
        lines += ["### Recommendations", ""]
        lines += [_recommendation_line(asdict(item)) for item in section.recommendations]
        lines += ["", "### Pareto set (ms/MP against PSNR drop)", ""]
        lines += [_front_line(row) for row in section.front] or ["- none"]
        lines += [""]
        name = "pareto" if section.machine == "M1" else f"pareto-{section.machine}"
        if name in pictures:
            lines += [f"![{TITLES['pareto']}, {section.machine}]({pictures[name]})", ""]
        lines += ["### All configurations", "", "Bold: on the Pareto front. Parity: worst case against the FP32 "
                  "reference (✓/✗: the parity bars).", ""]
        lines += table_markdown(section.rows, {row.key for row in section.front})
        notes = [(row.key, note) for row in section.rows for note in row.notes]
        if notes:
            lines += ["", "### Notes", ""] + [f"- {key}: {note}" for key, note in notes]
        lines += [""]
    for name in ("drops", "threads", "difference", "seam", "crops"):
        if name in pictures:
            lines += [f"## {TITLES[name]}", "", f"![{TITLES[name]}]({pictures[name]})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_SCRIPT = """
function sortBy(tableId, index, numeric) {
  const table = document.getElementById(tableId);
  const body = table.tBodies[0];
  const header = table.tHead.rows[0].cells[index];
  const ascending = header.dataset.order !== 'asc';
  for (const cell of table.tHead.rows[0].cells) { delete cell.dataset.order; }
  header.dataset.order = ascending ? 'asc' : 'desc';
  const key = row => {
    const text = row.cells[index].dataset.value;
    if (!numeric) { return text; }
    const value = parseFloat(text);
    return isNaN(value) ? Infinity : value;
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (ascending ? 1 : -1));
  rows.forEach(row => body.appendChild(row));
}
function markLoaded() {
  const images = Array.from(document.images);
  const loaded = images.filter(image => image.complete && image.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = loaded + '/' + images.length;
  const tables = Array.from(document.querySelectorAll('table.configurations'));
  document.body.dataset.tableRows = tables.reduce((sum, table) => sum + table.tBodies[0].rows.length, 0);
}
window.addEventListener('load', markLoaded);
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[data-order=asc]::after { content: ' ▲'; } th[data-order=desc]::after { content: ' ▼'; }
tr.front td:first-child { font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; }
.machine { background: #f6f8fa; border-left: 4px solid #1f77b4; padding: 6px 10px; }
.caveat { color: #8a4b00; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_table(table_id: str, rows: Sequence[Row], front_keys: set[str]) -> list[str]:
    esc = html.escape
    parts = [f"<table class='configurations' id='{table_id}'><thead><tr>"]
    for index, (header, attribute, _) in enumerate(COLUMNS):
        numeric = attribute not in TEXT_COLUMNS
        parts.append(f"<th onclick=\"sortBy('{table_id}', {index}, {str(numeric).lower()})\">{esc(header)}</th>")
    parts.append("</tr></thead><tbody>")
    for row in rows:
        css = " class='front'" if row.key in front_keys else ""
        cells = []
        for _, attribute, pattern in COLUMNS:
            value = _value(row, attribute)
            sort_value = "" if value is None else str(value[0] if isinstance(value, tuple) else value)
            cells.append(f"<td data-value='{esc(sort_value)}'>{esc(_cell(row, attribute, pattern))}</td>")
        parts.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return parts


def page(document: dict[str, Any], sections: Sequence[Any], pictures: dict[str, Path]) -> str:
    """The whole report as one HTML file."""
    settings = document["settings"]
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>cea-edge trade-off report: {esc(settings['checkpoint'])}</title>",
             f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1>Latency / accuracy trade-off: {esc(settings['checkpoint'])}</h1>",
             f"<p>Written by <code>{esc(settings['command'])}</code> on {esc(document['created'])} in "
             f"{document['wall_seconds']:.0f} s"
             + (f" ({document['resumed_cells']} of {document['cells']} cells measured by an earlier run and resumed)"
                if document.get("resumed_cells") else "") + ".</p>",
             f"<p class='machine' id='machine'>Measured on <b>{esc(machine_summary(document['machine']))}</b></p>",
             "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in method_lines(document)) + "</ul>"]
    baseline = baseline_lines(document.get("baseline"))
    if baseline:
        parts.append("<h2>Baseline</h2><ul>" + "".join(f"<li>{esc(line)}</li>" for line in baseline) + "</ul>")
    for section in sections:
        here = " (this machine)" if section.machine == "M1" else ""
        parts.append(f"<h2 id='section-{esc(section.machine)}'>{esc(section.machine)}{here}</h2>")
        parts.append(f"<p class='machine'>{esc(machine_summary(section.description))}</p>")
        parts.append("<ul>" + "".join(f"<li class='caveat'>{esc(note)}</li>"
                                      for note in _section_notes(section, document)) + "</ul>")
        parts.append("<h3>Recommendations</h3><ul>")
        for item in section.recommendations:
            chosen = f"<b>{esc(item.key)}</b>" if item.key else "none"
            parts.append(f"<li>{esc(item.goal)}: {chosen} — {esc(item.why)}</li>")
        parts.append("</ul><h3>Pareto set</h3><ul>")
        parts += [f"<li>{esc(_front_line(row)[2:])}</li>" for row in section.front] or ["<li>none</li>"]
        parts.append("</ul>")
        name = "pareto" if section.machine == "M1" else f"pareto-{section.machine}"
        if name in pictures:
            parts.append(f"<img id='plot-{name}' alt='{TITLES['pareto']}, {esc(section.machine)}' "
                         f"src='{_data_uri(pictures[name])}'>")
        parts.append("<h3>All configurations</h3><p>Click a column to sort. Bold: on the Pareto front.</p>")
        parts += _html_table(f"configurations-{section.machine}", section.rows, {row.key for row in section.front})
        notes = [(row.key, note) for row in section.rows for note in row.notes]
        if notes:
            parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{esc(key)}: {esc(note)}</li>" for key, note in notes)
                         + "</ul>")
    for name in ("drops", "threads", "difference", "seam", "crops"):
        if name in pictures:
            parts.append(f"<h2>{TITLES[name]}</h2><img id='plot-{name}' alt='{TITLES[name]}' "
                         f"src='{_data_uri(pictures[name])}'>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
