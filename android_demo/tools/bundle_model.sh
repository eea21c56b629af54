#!/usr/bin/env bash
# Put the model the app runs into its assets (app/src/main/assets/cea-edge.pte).
#
# Usage (from anywhere):
#   android_demo/tools/bundle_model.sh [EXPORT FLAGS...]   export the int8 ExecuTorch program
#                                                          (python -m cea_edge.export --target
#                                                          executorch --precision int8 FLAGS) and bundle it
#   android_demo/tools/bundle_model.sh --pte FILE          bundle an existing export instead
#
# Either way the program is opened in the ExecuTorch runtime first (its contract read: tile,
# overlap, context size, precision) and refused unless it has the context graphs the app's
# global-context mode needs. The asset is replaced atomically (temporary name, then rename).
# Needs the project's Python ($PYTHON, default .venv/bin/python) with executorch installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
demo="$(cd "$here/.." && pwd)"
root="$(cd "$demo/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
assets="$demo/app/src/main/assets"
asset="$assets/cea-edge.pte"

[[ -x "$python" ]] || { echo "error: no Python at $python; set PYTHON or create the venv (see README)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ "${1:-}" == "--pte" ]]; then
    [[ $# -eq 2 ]] || { echo "error: --pte takes one file and nothing else" >&2; exit 2; }
    pte="$2"
    [[ -f "$pte" ]] || { echo "error: $pte is not a file" >&2; exit 2; }
else
    (cd "$root" && "$python" -m cea_edge.export --target executorch --precision int8 --out "$work/export" "$@")
    pte="$(ls "$work"/export/*.pte 2>/dev/null | head -n 1 || true)"
    [[ -n "$pte" ]] || { echo "error: the export wrote no .pte" >&2; exit 2; }
fi

# The app runs global-context mode: the program must carry the context graphs.
(cd "$root" && "$python" - "$pte" <<'PY'
import sys

from cea_edge.errors import CeaError
from cea_edge.runtime.backends import open_backend

try:
    backend = open_backend(sys.argv[1])
except CeaError as error:
    sys.exit(f"error: {error}")
info = backend.info
if not backend.global_mode:
    sys.exit(f"error: {sys.argv[1]} has no global-context graphs (exported with --context-size 0); "
             "the app needs them: export without --context-size 0")
print(f"model: {info.preset} {info.precision}, tile {backend.tile}, overlap {backend.overlap}, "
      f"context {backend.context_size}")
PY
)

mkdir -p "$assets"
cp "$pte" "$asset.part.$$"
mv -f "$asset.part.$$" "$asset"
echo "bundled $(basename "$pte") as ${asset#$root/} ($(stat -c %s "$asset") bytes); rebuild the app"
