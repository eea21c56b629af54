"""report.md and a self-contained report.html (plots embedded as data URIs, a table sortable by
any column with a few lines of inline script, nothing fetched from anywhere)."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any, Sequence

from cea_edge.report.document import Row
from cea_edge.report.pareto import signed_db

COLUMNS = (  # (header, row attribute, format)
    ("configuration", "key", "{}"), ("target", "target", "{}"), ("precision", "precision", "{}"),
    ("tile", "tile", "{}"), ("threads", "threads", "{}"), ("ms/MP", "ms_per_mp", "{:.0f}"),
    ("ms/tile", "ms_per_tile", "{:.1f}"), ("PSNR dB", "psnr_db", "{:.2f}"), ("drop dB", "psnr_drop_db", "{:+.3f}"),
    ("single", "single", "{:.2f}"), ("spatial", "spatial", "{:.2f}"), ("composite", "composite", "{:.2f}"),
    ("parity worst dB", "parity_worst_psnr_db", "{:.1f}"), ("MB", "artifact_mb", "{:.2f}"),
    ("forward ops", "forward_ops", "{}"),
    ("peak RSS MB", "peak_rss_mb", "{:.0f}"), ("source", "source", "{}"),
)


def _value(row: Row, attribute: str) -> Any:
    if attribute in ("single", "spatial", "composite"):
        return row.family_psnr_db.get(attribute)
    return getattr(row, attribute)


def _cell(row: Row, attribute: str, pattern: str) -> str:
    value = _value(row, attribute)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    text = pattern.format(round(value, 3) + 0.0 if attribute == "psnr_drop_db" else value)
    if attribute == "parity_worst_psnr_db" and row.parity_passed is not None:
        text += " ✓" if row.parity_passed else " ✗"
    if row.delta and attribute in row.delta:
        text += f" ({row.delta[attribute]:+.3g})"
    return text


def table_markdown(rows: Sequence[Row], front: set[str]) -> list[str]:
    lines = ["| " + " | ".join(header for header, *_ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row, attribute, pattern) for _, attribute, pattern in COLUMNS]
        if row.key in front:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(document: dict[str, Any], rows: Sequence[Row], front: Sequence[Row], pictures: dict[str, str]) -> str:
    settings, machine = document["settings"], document["machine"]
    flags = ", ".join(name for name, on in machine.get("isa", {}).items() if on) or "unknown"
    lines = [f"# Latency / accuracy trade-off: {settings['checkpoint']}", "",
             f"Written by `{settings['command']}` on {document['created']} in {document['wall_seconds']:.0f} s"
             + (f" ({document['resumed_cells']} of {document['cells']} cells measured by an earlier run and resumed)."
                if document.get("resumed_cells") else "."),
             f"Machine: {machine.get('cpu')}, {machine.get('usable_cpus')} usable CPUs, ISA: {flags}; "
             f"quality on `{settings['suite']}` in global-context mode; ms/MP end to end on a "
             f"{settings['photo_mp']:g} MP photo (one run per thread count after a warm-up, in a fresh process); "
             f"ms/tile: median of {settings['runs']} calls.", ""]
    lines += ["## Recommendations", ""]
    for item in document["recommendations"]:
        chosen = f"**{item['key']}**" if item["key"] else "none"
        lines.append(f"- {item['goal']}: {chosen} — {item['why']}")
    lines += ["", "## Pareto set (ms/MP against PSNR drop)", ""]
    lines += [f"- {row.key}: {row.ms_per_mp:.0f} ms/MP, drop {signed_db(row.psnr_drop_db)}"
              + (f", {row.artifact_mb:.2f} MB" if row.artifact_mb is not None else "") for row in front] or ["- none"]
    lines += [""]
    for name, title in (("pareto", "Pareto chart"), ("quality", "Quality per family"),
                        ("threads", "Latency against threads"), ("crops", "Before / after and routing maps")):
        if name in pictures:
            lines += [f"### {title}", "", f"![{title}]({pictures[name]})", ""]
    lines += ["## All configurations", "", "Bold: on the Pareto front. Drop: the fp32 model's best PSNR over the "
              "report's tiles minus the configuration's (precision, runtime and tile all count). Parity: worst "
              "case against the FP32 reference (✓/✗: the parity bars)."
              + (" In brackets: change against the baseline report." if document.get("baseline") else ""), ""]
    lines += table_markdown(rows, {row.key for row in front})
    notes = [(row.key, note) for row in rows for note in row.notes]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {key}: {note}" for key, note in notes]
    return "\n".join(lines) + "\n"


_SCRIPT = """
function sortBy(index, numeric) {
  const table = document.getElementById('configurations');
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
  document.body.dataset.tableRows = document.getElementById('configurations').tBodies[0].rows.length;
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
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def page(document: dict[str, Any], rows: Sequence[Row], front: Sequence[Row], pictures: dict[str, Path]) -> str:
    """The whole report as one HTML file."""
    settings = document["settings"]
    esc = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>cea-edge trade-off report: {esc(settings['checkpoint'])}</title>",
             f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1>Latency / accuracy trade-off: {esc(settings['checkpoint'])}</h1>",
             f"<p>Written by <code>{esc(settings['command'])}</code> on {esc(document['created'])} in "
             f"{document['wall_seconds']:.0f} s on {esc(str(document['machine'].get('cpu')))}.</p>",
             "<h2>Recommendations</h2><ul>"]
    for item in document["recommendations"]:
        chosen = f"<b>{esc(item['key'])}</b>" if item["key"] else "none"
        parts.append(f"<li>{esc(item['goal'])}: {chosen} — {esc(item['why'])}</li>")
    parts.append("</ul><h2>Pareto set</h2><ul>")
    parts += [f"<li>{esc(row.key)}: {row.ms_per_mp:.0f} ms/MP, drop {signed_db(row.psnr_drop_db)}</li>" for row in front]
    parts.append("</ul>")
    titles = {"pareto": "Pareto chart", "quality": "Quality per family", "threads": "Latency against threads",
              "crops": "Before / after and routing maps"}
    for name, path in pictures.items():
        parts.append(f"<h2>{titles[name]}</h2><img id='plot-{name}' alt='{titles[name]}' src='{_data_uri(path)}'>")
    parts.append("<h2>All configurations</h2><p>Click a column to sort.</p><table id='configurations'><thead><tr>")
    for index, (header, attribute, _) in enumerate(COLUMNS):
        numeric = attribute not in ("key", "target", "precision", "source")
        parts.append(f"<th onclick='sortBy({index}, {str(numeric).lower()})'>{esc(header)}</th>")
    parts.append("</tr></thead><tbody>")
    front_keys = {row.key for row in front}
    for row in rows:
        css = " class='front'" if row.key in front_keys else ""
        cells = []
        for _, attribute, pattern in COLUMNS:
            value = _value(row, attribute)
            sort_value = "" if value is None else str(value)
            cells.append(f"<td data-value='{esc(sort_value)}'>{esc(_cell(row, attribute, pattern))}</td>")
        parts.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"
