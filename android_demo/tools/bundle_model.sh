#!/usr/bin/env bash
# Put the programs the app runs into its assets: the int8 one it enhances with
# (app/src/main/assets/cea-edge.pte) and its fp32 twin, which the benchmark times beside it so the
# phone answers whether int8 pays (app/src/main/assets/cea-edge-fp32.pte).
#
# Usage (from anywhere):
#   android_demo/tools/bundle_model.sh [EXPORT FLAGS...]   export both precisions (python -m cea_edge.export
#                                                          --target executorch --precision int8 / fp32 FLAGS,
#                                                          the same FLAGS for both) and bundle them
#   android_demo/tools/bundle_model.sh --pte FILE...       bundle existing exports instead; each goes to the
#                                                          asset of its precision (int8 or fp32)
#
# Either way each program is opened in the ExecuTorch runtime first (its contract read: tile,
# overlap, context size, precision) and refused unless it has the context graphs the app's
# global-context mode needs. Each asset is replaced atomically (temporary name, then rename).
# Needs the project's Python ($PYTHON, default .venv/bin/python) with executorch installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
demo="$(cd "$here/.." && pwd)"
root="$(cd "$demo/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
assets="$demo/app/src/main/assets"

[[ -x "$python" ]] || { echo "error: no Python at $python; set PYTHON or create the venv (see README)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The app runs ExecuTorch programs: their suffix comes from the toolkit's target registry (cea_edge/targets.py).
suffix="$(cd "$root" && "$python" -c 'from cea_edge.targets import TARGETS; print(TARGETS["executorch"].suffix)')"
ptes=()
if [[ "${1:-}" == "--pte" ]]; then
    shift
    [[ $# -ge 1 ]] || { echo "error: --pte takes one or more .pte files" >&2; exit 2; }
    for pte in "$@"; do
        [[ -f "$pte" ]] || { echo "error: $pte is not a file" >&2; exit 2; }
        ptes+=("$pte")
    done
else
    for precision in int8 fp32; do
        (cd "$root" && "$python" -m cea_edge.export --target executorch --precision $precision \
            --out "$work/export-$precision" "$@")
        pte="$(ls "$work"/export-$precision/*"$suffix" 2>/dev/null | head -n 1 || true)"
        [[ -n "$pte" ]] || { echo "error: the $precision export wrote no $suffix" >&2; exit 2; }
        ptes+=("$pte")
    done
fi

mkdir -p "$assets"
for pte in "${ptes[@]}"; do
    # The app runs global-context mode: the program must carry the context graphs. Prints the precision.
    precision="$(cd "$root" && "$python" - "$pte" <<'PY'
import sys

from cea_edge.errors import CeaError
from cea_edge.runtime.backends import open_backend
from cea_edge.targets import TARGETS, target_for_path

program = TARGETS["executorch"]
try:
    if target_for_path(sys.argv[1]) is not program:
        raise CeaError(f"'{sys.argv[1]}' is not an {program.kind} ({program.suffix}); the app runs those only")
    backend = open_backend(sys.argv[1])
except CeaError as error:
    sys.exit(f"error: {error}")
info = backend.info
if not backend.global_mode:
    sys.exit(f"error: {sys.argv[1]} has no global-context graphs (exported with --context-size 0); "
             "the app needs them: export without --context-size 0")
if info.precision not in ("int8", "fp32"):
    sys.exit(f"error: {sys.argv[1]} is {info.precision}; the app bundles an int8 and an fp32 program")
print(f"model: {info.preset} {info.precision}, tile {backend.tile}, overlap {backend.overlap}, "
      f"context {backend.context_size}", file=sys.stderr)
print(info.precision)
PY
)"
    case "$precision" in
        int8) asset="$assets/cea-edge.pte" ;;
        fp32) asset="$assets/cea-edge-fp32.pte" ;;
        *) exit 2 ;;
    esac
    cp "$pte" "$asset.part.$$"
    mv -f "$asset.part.$$" "$asset"
    echo "bundled $(basename "$pte") as ${asset#$root/} ($(stat -c %s "$asset") bytes)"
done
echo "rebuild the app"
