"""Latency / accuracy trade-off reports: `python -m cea_edge.report` (cea_edge/report/__main__.py).

Modules: grid (cells, the artifact cache), measure (one cell through the evaluate, parity and
profile stages), document (rows, JSON, imported profiles, baseline deltas), pareto (front and
recommendations), plots (PNG), render (Markdown, HTML).

JSON schema "cea-edge-report/1" (report.json)::

    schema         "cea-edge-report/1"
    created        UTC time, ISO 8601;  wall_seconds: how long the run took;  cells: in the grid;
                   resumed_cells: of those, measured by an earlier run (--out/cells) and reused
    machine        cea_edge.machine.machine_info() of the machine that measured
    settings       {targets, precisions, tiles, threads, suite, photo_mp, runs, parity_set, command,
                   budget_ms_per_mp, quick, checkpoint, checkpoint_sha256, qat_checkpoint, overlap,
                   context_size, imports, usable_cpus}
    fp32_quality   {tile: {family | "average": {psnr_db, ssim, input_psnr_db}}}  the fp32 checkpoint in
                   PyTorch through the same runtime path: what "drop" is measured from
    rows           [row], one per configuration (cell x threads; imported profiles add their own):
      key, cell, target, precision, tile, threads, source ("measured" | "not measured here" |
      "imported from FILE"), artifact_mb (graph + siblings), psnr_db (suite average, global mode),
      psnr_drop_db (the fp32 model's best average over the report's tiles minus psnr_db),
      family_psnr_db {single, spatial, composite},
      ssim, ms_per_mp (end to end, global mode), ms_per_tile (forward, median), peak_rss_mb,
      parity_worst_psnr_db (vs the FP32 reference), parity_passed (its bars), forward_ops (static
      census of the forward graph: .pte ops inside XNNPACK, Core ML MIL ops; null for ONNX), notes [sentence:
      what was not measured, and a warning when other processes kept more than 0.5 CPUs busy
      while the cell was timed],
      delta {metric: this - baseline} or null
    pareto         [row key]  the front of ms_per_mp against psnr_drop_db, fastest first
    recommendations [{goal, key (null: none qualifies), why}]
    baseline       {file, created, matched_rows} or null;  pictures {name: file};  failures [sentence]
"""

from cea_edge.report.document import SCHEMA

__all__ = ["SCHEMA"]
