"""Latency / accuracy trade-off reports: `python -m cea_edge.report` (cea_edge/report/__main__.py).

Modules: grid (cells, the artifact cache), measure (one cell through the evaluate, parity and
profile stages), document (rows, JSON, imported profiles, baseline deltas), pareto (front and
recommendations), plots (PNG), render (Markdown, HTML).

JSON schema "cea-edge-report/2" (report.json; --baseline also reads schema 1, whose rows lack the
fields marked [2])::

    schema         "cea-edge-report/2"
    created        UTC time, ISO 8601;  wall_seconds: how long the run took;  cells: in the grid;
                   resumed_cells: of those, measured by an earlier run (--out/cells) and reused
    machine        cea_edge.machine.machine_info() of the machine that measured
    machines       {label: machine_info()}: "M1" this machine, "M2"... the machines of imported profiles
    settings       {targets, precisions, tiles, threads, suite, photo_mp, runs, repeats, parity_set, command,
                   budget_ms_per_mp, quick, checkpoint, checkpoint_sha256, preset, qat_checkpoint,
                   qat_checkpoint_sha256, overlap, context_size, imports, usable_cpus}
    fp32_quality   {tile: {family | "average": {psnr_db, ssim, input_psnr_db}}}  the fp32 checkpoint in
                   PyTorch through the same runtime path: what "drop" is measured from
    rows           [row], one per configuration (cell x threads; imported profiles add their own):
      key, cell, target, precision, tile, threads, source ("measured" | "not measured here" |
      "imported from FILE"), artifact_mb (graph + siblings), psnr_db (suite average, global mode),
      psnr_drop_db (the fp32 model's best average over the report's tiles minus psnr_db),
      family_psnr_db {single, spatial, composite},
      ssim, ms_per_mp (end to end, global mode: the median of `repeats` runs), ms_per_tile (median
      of the graph the end-to-end run executes per tile: forward_global in global mode), peak_rss_mb,
      parity_worst_psnr_db (vs the FP32 reference), parity_passed (its bars), forward_ops (static
      census of the forward graph: .pte ops inside XNNPACK, Core ML MIL ops; null for ONNX), notes [sentence:
      what was not measured, busy neighbours, fp16 emulated, end to end vs calls disagreeing],
      delta {metric: this - baseline} or null,
      [2] machine (label), ms_per_mp_low / ms_per_mp_high / ms_per_mp_runs (the end-to-end runs'
      min, max and every value), ms_per_tile_p10 / ms_per_tile_p90, tiles_per_mp, context_ms,
      calls_ms_per_mp ((context + tiles x ms_per_tile) / MP), consistent (end to end within 20% of
      calls_ms_per_mp), artifact_sha256, emulated (fp16 without fp16 arithmetic), delta_pct {metric:
      % of the baseline}, delta_corrected_pct {timing metric: % after dividing out the controls'
      drift}, control (the artifact did not change since the baseline)
    pareto         [row key]  this machine's front of ms_per_mp against psnr_drop_db, fastest first
    recommendations [{goal, key (null: none qualifies), why, ties [row key], machine}]  this machine's
    sections       [{machine, pareto, recommendations}]  one per machine: rows of different machines
                   are never ranked against each other
    baseline       {file, created, matched_rows, controls, control_method, drift [{threads, ratio,
                   low, high, controls}], machine_note} or null
    pictures {name: file};  failures [sentence]
"""

from cea_edge.report.document import SCHEMA

__all__ = ["SCHEMA"]
