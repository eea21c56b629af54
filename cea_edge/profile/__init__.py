"""Per-target latency profiles: `python -m cea_edge.profile ARTIFACT...` (cea_edge/profile/__main__.py).

Every artifact runs through cea_edge.runtime.backends, the one runner. Modules: schema (rows,
document, import check), timing (latency, matmul peak, end to end in a fresh process), ops
(runtime profilers -> per-op records), census (what a .pte / .mlpackage holds), coreml (macOS
timing and compute plan), run (one artifact), report (Markdown).

JSON schema "cea-edge-profile/1" (``--json``)::

    schema     "cea-edge-profile/1"
    created    UTC time, ISO 8601
    machine    cea_edge.machine.machine_info() of the machine that wrote the file: cpu, arch,
               logical_cpus, usable_cpus, isa {feature: bool}, os, python, runtimes {pkg: version}, thread_env;
               a phone (the Android demo's benchmark) adds device, soc, abis [..], android {release, sdk,
               fingerprint} and cores {count, big, little (null: frequencies unreadable), clusters
               [{max_mhz, cpus}] fastest first, source}; little = the slowest cluster's CPUs
    peaks      [{threads, fp32_gflops, int8_gops, method}]  onnxruntime MatMul / MatMulInteger, same run
    settings   {runs, warmup, threads, photo_mp, modes, ops, top, tile, overlap, context_size,
               compute_units, imports, other_cpus: mean CPUs other processes kept busy during the
               run (cea_edge.machine.other_cpus; null without /proc/stat; files before 2026-12 have
               load_average [1, 5, 15 min] at the start instead)}
    profiles   [profile], each:
      artifact, format (onnx | executorch | coreml | checkpoint), runtime, precision, preset,
      tile, context_size (0: tile mode only), source ("measured" | "imported from FILE"),
      machine        the machine it was measured on (imported profiles keep theirs)
      gflop_per_tile model GFLOPs of one tile from the preset (flops_per_megapixel), or null
      latency        [{graph, threads, compute_units, runs, median_ms, p10_ms, p90_ms,
                       gflops, peak_fp32_gflops, peak_fraction}]   gflops: forward graph only
      end_to_end     {megapixels, size [h, w], runs [{mode, threads, seconds, ms_per_mp, model_seconds}],
                      peak_rss_mb, baseline_rss_mb, rss_method} or null
      ops            [{graph, threads, runs, source, records [{name, type, where, calls, total_ms}]}]
                     total_ms over all runs; where: execution provider, "XNNPACK delegate",
                     "portable kernel", "delegate call" (the whole delegate), "cpu"
      load           optional (phones): [{threads, program_ms, methods_ms {method: ms}}] how long
                     Module.load and each loadMethod took; latency rows may add min_ms, max_ms
      census         .pte: {methods {name: {instructions, delegate_calls, delegates, ops_inside
                     {xnn op: {dtype: n}}, ops_inside_total, ops_outside, all_compute_delegated}},
                     constant_methods, delegates, notes};  .mlpackage: {methods {graph: {opset, ops
                     {op: {dtype: n}}, ops_total, inputs, outputs, weights_bytes, package_bytes}},
                     compute_plans, notes};  else null
      not_measured   [sentence]   what this profile lacks, and why

``--import FILE.json`` takes a document of this schema written elsewhere (a phone through
ExecuTorch's runner, a Mac) and puts its profiles in the same tables; schema, profile keys and
row types are checked, and anything else is one error.
"""

from cea_edge.profile.schema import SCHEMA

__all__ = ["SCHEMA"]
