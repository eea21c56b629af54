"""Check a phone profile (the Android benchmark's cea-edge-profile/1 JSON) the way the toolkit
reads it: it validates against cea_edge/profile/schema.py, imports as profiles
(``python -m cea_edge.profile --import``), becomes trade-off report rows
(``python -m cea_edge.report --add-profile``: cea_edge.report.document.rows_from_profiles) and
shows up as a machine of its own in the profile's Markdown.

Usage: python android_demo/tools/check_phone_profile.py PHONE.json [--precisions int8 fp32]
Prints what it found; exits 1 with the first problem.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cea_edge.errors import CeaError
from cea_edge.profile.schema import load_import, validate
from cea_edge.report.document import rows_from_profiles


def check(path: Path, precisions: list[str]) -> list[str]:
    document = validate(json.loads(path.read_text()), str(path))
    machine = document["machine"]
    for key in ("cpu", "os", "runtimes", "cores"):
        assert key in machine, f"machine lacks {key!r}"
    found = [f"machine: {machine['cpu']}, {machine['os']}, cores {machine['cores'].get('big')} big / "
             f"{machine['cores'].get('little')} little, executorch {machine['runtimes'].get('executorch')}"]
    profiles = load_import(path)
    assert sorted(p["precision"] for p in profiles) == sorted(precisions), [p["precision"] for p in profiles]
    for profile in profiles:
        assert profile["source"] == f"imported from {path.name}", profile["source"]
        graphs = {(row["graph"], row["threads"]) for row in profile["latency"]}
        threads = sorted({row["threads"] for row in profile["latency"]})
        wanted = {(graph, t) for graph in ("forward", "context", "forward_global") for t in threads}
        assert graphs == wanted, f"{profile['artifact']}: latency rows {sorted(graphs)}"
        assert all(row["p10_ms"] <= row["median_ms"] <= row["p90_ms"] for row in profile["latency"])
        assert [load["threads"] for load in profile["load"]] == threads
        e2e = profile["end_to_end"]
        assert e2e and e2e["runs"] and all(run["ms_per_mp"] > 0 for run in e2e["runs"]), e2e
        forward = {row["threads"]: row["median_ms"] for row in profile["latency"] if row["graph"] == "forward"}
        found.append(f"{profile['artifact']}: {profile['preset']} {profile['precision']}, tile {profile['tile']}, "
                     f"forward median {', '.join(f'{forward[t]:.1f} ms at {t}' for t in threads)} thread(s), "
                     f"end to end {e2e['runs'][0]['ms_per_mp']:.0f} ms/MP, peak RSS {e2e['peak_rss_mb']:.0f} MB")
    labels: dict[str, str] = {}
    rows = rows_from_profiles(profiles, [], labels)
    assert rows and all(row.ms_per_tile is not None for row in rows), rows
    assert len(labels) == 1 and all(row.machine == "M1" for row in rows), "the phone is not one machine of its own"
    assert any(row.ms_per_mp is not None for row in rows), "no end-to-end ms/MP in the report rows"
    assert all(row.source == f"imported from {path.name}" for row in rows)
    found.append(f"report rows (--add-profile): {', '.join(row.key for row in rows)}")
    with tempfile.TemporaryDirectory() as folder:
        markdown = Path(folder) / "profile.md"
        run = subprocess.run([sys.executable, "-m", "cea_edge.profile", "--import", str(path), "--markdown",
                              str(markdown), "--quiet"], capture_output=True, text=True)
        assert run.returncode == 0, f"python -m cea_edge.profile --import failed: {run.stderr[-2000:]}"
        text = markdown.read_text()
    machine_rows = [line for line in text.splitlines() if line.startswith("| M") and machine["cpu"] in line]
    assert machine_rows, f"the phone is not a machine of its own in the Markdown:\n{text[:1500]}"
    found.append(f"python -m cea_edge.profile --import: machine {machine_rows[0].split('|')[1].strip()} is the phone")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--precisions", nargs="+", default=["int8", "fp32"])
    args = parser.parse_args(argv)
    try:
        for line in check(args.profile, args.precisions):
            print(f"PROFILE {line}")
    except (AssertionError, CeaError, KeyError, TypeError, ValueError, OSError) as error:  # one line for the test's log
        print(f"PROFILE FAIL {type(error).__name__}: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
