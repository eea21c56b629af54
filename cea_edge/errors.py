"""User-facing errors and the one place where CLIs turn them into exit codes."""

from __future__ import annotations

import sys
from typing import Callable, Sequence

EXIT_USAGE = 2


class CeaError(Exception):
    """An error the user can fix: the message says what was wrong and what to do."""


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Call a CLI's main; a CeaError becomes one line on stderr and exit code 2.

    Anything else is a bug in cea-edge and keeps its traceback.
    """
    try:
        return int(main(argv) or 0)
    except CeaError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
