"""User-facing errors and the one place where CLIs turn them into exit codes."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
# Write failures a user fixes by freeing space (a full disk, a quota, a file-size limit).
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class CeaError(Exception):
    """An error the user can fix: the message says what was wrong and what to do."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler, a closing terminal) arrived: unwound like Ctrl-C, so every
    ``except BaseException`` / ``finally`` that removes temporaries runs."""


def checked_flag(lookup: Callable[[str], T], flag: str, value: str) -> T:
    """``lookup(value)``, its CeaError prefixed with the flag that gave the value ("--preset huge: ...")."""
    try:
        return lookup(value)
    except CeaError as error:
        raise CeaError(f"{flag} {value}: {error}") from None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_threads(threads: int | None, flag: str = "--threads") -> int | None:
    """A thread-count flag: positive, and no more than the CPUs this process may use (more only
    slows a runtime down, and a huge count makes OpenMP fail to start its threads)."""
    if threads is None:
        return None
    if threads <= 0:
        raise CeaError(f"{flag} {threads}: must be positive")
    if threads > usable_cpus():
        raise CeaError(f"{flag} {threads}: this process may use {usable_cpus()} CPUs; "
                       f"pass at most {flag} {usable_cpus()}")
    return threads


def _raise_terminated(signum: int, frame: Any) -> None:
    # Once only: a second SIGTERM must not interrupt the clean-up the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call a CLI's main; a CeaError becomes one line on stderr and exit code 2.

    A full disk or quota (DISK_FULL) and running out of memory are one line and exit code 2 too. Ctrl-C exits 130
    ("interrupted"), SIGTERM 143 ("terminated"), both after the clean-up that an exception triggers.
    Anything else is a bug in cea-edge and keeps its traceback.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return int(main(argv) or 0)
    except CeaError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        # A third-party writer (an exporter's graph, a plot) ran out of space; the staging clean-ups have run.
        where = f" writing '{error.filename}'" if error.filename else ""
        print(f"error: {error.strerror or error}{where}; free some space and run again", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        # An allocation the estimates (model/memory.py) did not foresee; what was staged is removed.
        print("error: out of memory; use smaller sizes (tile, batch, photo, calibration set) or free memory",
              file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
