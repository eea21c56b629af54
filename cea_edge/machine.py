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
                "amx_bf16")
ARM_FEATURES = ("asimd", "asimddp", "i8mm", "sve", "bf16")
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


@dataclass(frozen=True)
class CpuSnapshot:
    """Where the machine's and this process's CPU clocks stood at one moment (see ``other_cpus``)."""

    wall_s: float
    machine_busy_s: float | None  # all processes, from /proc/stat; None where it does not exist
    own_s: float  # this process and its children that have been waited for


def _machine_busy_seconds() -> float | None:
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal: everything but idle and iowait kept a CPU from us
    # (steal: the hypervisor ran another guest on our vCPU).
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> CpuSnapshot:
    own = os.times()
    return CpuSnapshot(time.monotonic(), _machine_busy_seconds(),
                       own.user + own.system + own.children_user + own.children_system)


def other_cpus(since: CpuSnapshot) -> float | None:
    """How many CPUs other processes kept busy, on average, since ``since``.

    The load average cannot say this for a measurement taken inside a long run: it counts the run's
    own work just before (the report's quality pass at two threads reads as a load of 2). This is the
    machine's busy time minus this process's and its waited-for children's. None without
    /proc/stat (macOS, Windows) or over no time.
    """
    now = cpu_snapshot()
    wall = now.wall_s - since.wall_s
    if since.machine_busy_s is None or now.machine_busy_s is None or wall <= 0:
        return None
    others = (now.machine_busy_s - since.machine_busy_s) - (now.own_s - since.own_s)
    return max(0.0, others / wall)
