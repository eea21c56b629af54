"""The optional deployment toolchains: importing them with a useful message, and quieting them.

NNCF, ExecuTorch, coremltools and onnxruntime are optional (the `deploy` extra); stages
import them on use through `require`, so a missing one is one clear error.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from types import ModuleType
from typing import Iterator

from cea_edge.errors import CeaError

INSTALL_HINT = "pip install 'cea-edge[deploy]'"


# Loggers of the deployment toolchains that print start-up chatter a user cannot act on
# (untested-version notices, optional native libraries not found, deprecations).
TOOLCHAIN_LOGGERS = ("coremltools", "torchao", "executorch", "nncf", "onnxscript", "torch.onnx",
                     "torch.utils._pytree", "torch._export", "torch.export")


@contextlib.contextmanager
def quiet_toolchains() -> Iterator[None]:
    """Hide the toolchains' notices, warnings and progress bars (the CLI's --verbose skips this).

    Their loggers are raised to ERROR and sys.stdout / sys.stderr are swapped for buffers
    while they run (tqdm and rich progress bars and warnings are written there); our own
    errors are raised as exceptions and printed by the CLI afterwards, and summaries are
    printed outside this block, so nothing a user needs is lost.
    """
    levels = {name: logging.getLogger(name).level for name in TOOLCHAIN_LOGGERS}
    for name in TOOLCHAIN_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with (warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()),
              contextlib.redirect_stdout(io.StringIO())):
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Also hide what native libraries write straight to file descriptor 2 (ExecuTorch's C++ runtime
    logs "[cpuinfo_utils.cpp:71] Reading file ..." as it starts), on top of ``quiet_toolchains``.

    Only around loading: our own errors are exceptions, printed by the CLI once the descriptor is
    back, and a run's later output goes to the terminal as usual.
    """
    import os
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 (an embedding host): nothing to hide
        with quiet_toolchains():
            yield
        return
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        with quiet_toolchains():
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional deployment package or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise CeaError(f"{purpose} needs the '{module.split('.')[0]}' package, which cannot be imported "
                       f"({error}); install the deployment toolchain: {INSTALL_HINT}") from None
