"""The machine a measurement was taken on: CPU, cores, ISA features, OS and runtime versions.

Every profile and parity report carries ``machine_info()``, because the same artifact runs
at very different speeds (and through different int8 kernels) on an AVX2-only CPU, an
AVX-512 + VNNI one or an ARM core with dot-product instructions. Standard library only (and
cea_edge.errors), so it can be called from any stage without importing a toolchain.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cea_edge.errors import usable_cpus

# The features that decide which fp32 / int8 kernels a runtime picks (x86 flags and ARM Features).
X86_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                "amx_bf16", "avx512_fp16")
ARM_FEATURES = ("asimd", "asimddp", "i8mm", "sve", "bf16", "asimdhp")
# Flags of native fp16 arithmetic (not just conversion: F16C only converts): without one, an fp16
# graph computes in fp32 with conversions around it, slower than fp32 itself.
FP16_ARITHMETIC = ("avx512_fp16", "asimdhp")
INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")  # int8 dot-product instructions
RUNTIMES = ("torch", "onnxruntime", "executorch", "coremltools", "numpy")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
CPUINFO = Path("/proc/cpuinfo")
PROC_STAT = Path("/proc/stat")
# CPUs other processes may keep busy before timings are flagged as pessimistic (profile and report stages).
BUSY_NEIGHBOURS = 0.5


def _cpuinfo() -> tuple[str, set[str]]:
    """(CPU model, feature flags) from /proc/cpuinfo (Linux, Android); ('', {}) elsewhere."""
    model, flags = "", set()
    try:
        text = CPUINFO.read_text(errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def _mac_cpu() -> str:
    # platform.processor() on macOS says only "arm" / "i386"; sysctl names the chip.
    import subprocess

    try:
        return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """A JSON-ready description of this machine and its runtimes.

    Keys: cpu (model string), arch, logical_cpus, usable_cpus, isa (feature -> bool for the
    X86_FEATURES or ARM_FEATURES of this architecture; {} where the OS lists no flags), os,
    python, runtimes (package ->
    version or None), thread_env (OMP/MKL/OpenBLAS variables that are set).
    """
    model, flags = _cpuinfo()
    features = ARM_FEATURES if platform.machine().lower() in ("arm64", "aarch64") or "asimd" in flags else X86_FEATURES
    if not model and sys.platform == "darwin":
        model = _mac_cpu()
    return {
        "cpu": model or platform.processor() or "unknown",
        "arch": platform.machine(),
        "logical_cpus": os.cpu_count() or 1,
        "usable_cpus": usable_cpus(),
        "isa": {feature: feature in flags for feature in features} if flags else {},
        "os": platform.platform(),
        "python": platform.python_version(),
        "runtimes": {package: _version(package) for package in RUNTIMES},
        "thread_env": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
    }


def fp16_native(machine: dict) -> bool | None:
    """Whether ``machine`` (machine_info()) has fp16 arithmetic; None where its flags are unknown."""
    isa = machine.get("isa") or {}
    return any(isa.get(flag) for flag in FP16_ARITHMETIC) if isa else None


def isa_notes(machine: dict) -> list[str]:
    """What this machine's ISA means for the precisions, in words (the report's and profile's caveats)."""
    isa = machine.get("isa") or {}
    if not isa:
        return ["ISA unknown (the OS lists no CPU flags): whether int8 or fp16 pays cannot be told from it"]
    notes = []
    dot = [flag for flag in INT8_DOT if isa.get(flag)]
    if dot:
        notes.append(f"int8 dot-product instructions present ({', '.join(dot)}): int8 kernels can beat fp32 here")
    else:
        notes.append("no int8 dot-product instructions (no VNNI / dotprod): int8 kernels gain little or nothing over "
                     "fp32 here; on a CPU with them (AVX-512 VNNI, ARMv8.2 dotprod: most phones) int8 pays more")
    if not fp16_native(machine):
        notes.append("no native fp16 arithmetic: fp16 graphs run emulated (converted to fp32 around each op), slower "
                     "than fp32 here; on phones with ARMv8.2 fp16 they run natively")
    return notes


@dataclass(frozen=True)
class CpuSnapshot:
    """Where the machine's and this process's CPU clocks stood at one moment (see ``other_cpus``)."""

    wall_s: float
    machine_busy_s: float | None  # all processes on the CPUs counted, from /proc/stat; None where it does not exist
    own_s: float  # this process and its children that have been waited for
    cpus: int = 1  # how many CPUs machine_busy_s counts: those this process may use


# /proc/stat and os.times() count in clock ticks (10 ms on Linux): over a window of a few ticks a single
# tick of a kernel thread reads as whole CPUs. A figure is given only where this many CPUs bound its error.
OTHER_CPUS_RESOLUTION = 0.1


def _tick_s() -> float:
    return 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def _busy_seconds(fields: list[str]) -> float:
    # user nice system idle iowait irq softirq steal: everything but idle and iowait kept a CPU from us
    # (steal: the hypervisor ran another guest on our vCPU).
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) * _tick_s()


def _machine_busy_seconds() -> tuple[float, int] | None:
    """(busy seconds, CPUs counted) of the CPUs this process may run on; None without /proc/stat.

    Only those CPUs: a neighbour pinned elsewhere takes nothing from a measurement, and the figure
    stays within the CPUs the process may use. The machine-wide line where per-CPU lines are missing.
    """
    try:
        lines = PROC_STAT.read_text().splitlines()
    except OSError:
        return None
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    total, counted, machine_wide = 0.0, 0, None
    try:
        for line in lines:
            fields = line.split()
            if not fields or not fields[0].startswith("cpu"):
                continue
            if fields[0] == "cpu":
                machine_wide = _busy_seconds(fields)
            elif fields[0][3:].isdigit() and int(fields[0][3:]) in allowed:
                total, counted = total + _busy_seconds(fields), counted + 1
    except (ValueError, IndexError):  # not the layout proc(5) describes
        return None
    if counted:
        return total, counted
    return None if machine_wide is None else (machine_wide, os.cpu_count() or 1)


def cpu_snapshot() -> CpuSnapshot:
    own = os.times()
    busy = _machine_busy_seconds()
    return CpuSnapshot(time.monotonic(), None if busy is None else busy[0],
                       own.user + own.system + own.children_user + own.children_system,
                       1 if busy is None else busy[1])


def min_window_s(cpus: int) -> float:
    """The shortest window over which ``other_cpus`` is within OTHER_CPUS_RESOLUTION CPUs of the truth.

    Each counted CPU's busy counter and this process's user and system times are whole ticks, so a
    difference is off by up to a tick each: (cpus + 2) ticks in all, spread over the window.
    """
    return (cpus + 2) * _tick_s() / OTHER_CPUS_RESOLUTION


def other_cpus(since: CpuSnapshot, now: CpuSnapshot | None = None) -> float | None:
    """How many of the CPUs this process may use other processes kept busy, on average, from ``since``
    to ``now`` (this moment by default), between 0 and the CPUs counted.

    The load average cannot say this for a measurement taken inside a long run: it counts the run's
    own work just before (the report's quality pass at two threads reads as a load of 2). This is the
    busy time of the CPUs we may use minus this process's and its waited-for children's. None without
    /proc/stat (macOS, Windows) and over a window too short for the clock ticks to say
    (``min_window_s``): a stage that ran for milliseconds has no figure, and so no warning.
    """
    now = cpu_snapshot() if now is None else now
    wall = now.wall_s - since.wall_s
    if since.machine_busy_s is None or now.machine_busy_s is None or since.cpus != now.cpus:
        return None
    if wall < min_window_s(now.cpus):
        return None
    others = (now.machine_busy_s - since.machine_busy_s) - (now.own_s - since.own_s)
    return min(float(now.cpus), max(0.0, others / wall))
