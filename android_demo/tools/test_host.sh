#!/usr/bin/env bash
# The app's ExecuTorchTileModel on a real .pte on this machine's JVM: a host test double of
# ExecuTorch's Java API (android_demo/hostjni, never packaged) over the executorch wheel's C++
# runtime, and cross-language parity with `python -m cea_edge.enhance` on the same photo. Also the
# app's benchmark on both bundled programs, its profile JSON checked by the Python side
# (tools/check_phone_profile.py), methods loaded at start with their times, one job per Module.
#
# Usage: tools/test_host.sh [--edge]
#   Cases: "tiny" (a perturbed tiny model exported fp32 here, tile 32, context 64) and "edge" (the
#   int8 program the app ships, app/src/main/assets/cea-edge.pte), each on a photo, both modes.
#   --edge  also export the bundled model (edge3) fp32 (~60 s) and time a 256^2 tile of it and of the
#           shipped int8 program at 1 and 2 threads, in Java (host JVM) and in Python, same run.
# Needs: the project venv with executorch (and torch, for the export), a JDK >= 11, g++, JUnit 5's
# console launcher ($JUNIT_JAR or /usr/share/java/junit-platform-console-standalone.jar).
# Set CEA_HOST_FIXTURES=DIR to keep and reuse the exported .pte files between runs.
#
# Prints JUnit's tree, the PARITY/TIMING lines, then one plain line "N passed, N failed";
# exits non-zero when any test failed (or none ran, or something does not build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
demo="$here/.."
root="$demo/.."
python="${PYTHON:-$root/.venv/bin/python}"
jar="${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"
edge=0
if [[ "${1:-}" == "--edge" ]]; then edge=1; fi

fail() { echo "error: $*" >&2; echo "0 passed, 1 failed"; exit 2; }
[[ -f "$jar" ]] || fail "no $jar; install Debian's junit5 package or set JUNIT_JAR"
[[ -x "$python" ]] || fail "no Python at $python; set PYTHON"

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
fixtures="${CEA_HOST_FIXTURES:-$build/fixtures}"
mkdir -p "$build/lib" "$build/classes" "$build/test" "$fixtures"

# 1. The tiny fixture model: a seeded, perturbed tiny checkpoint, exported fp32 at tile 32 / overlap 8 / context 64.
tile=32 overlap=8 context=64 preset=tiny
pte="$fixtures/$preset-xnnpack-fp32-$tile.pte"
if [[ ! -f "$pte" ]]; then
    (cd "$fixtures" && "$python" -c "
import torch
from cea_edge.model import CEANet, get_preset
from cea_edge.model.checkpoint import save_checkpoint
torch.manual_seed(0)
model = CEANet(get_preset('$preset'))
# A fresh CEANet is the identity (zero-initialised output and adapters): perturb every weight so
# that the parity compares real work -- outputs that differ from the photo and between modes.
with torch.no_grad():
    for parameter in model.parameters():
        parameter.add_(0.05 * torch.randn_like(parameter))
save_checkpoint('tiny.pt', model, {})")
    (cd "$root" && "$python" -m cea_edge.export --target executorch --precision fp32 \
        --checkpoint "$fixtures/tiny.pt" --tile $tile --overlap $overlap --context-size $context \
        --out "$fixtures" --no-verify) >&2
fi
[[ -f "$pte" ]] || fail "export did not write $pte"
edge_pte=""
if [[ $edge == 1 ]]; then
    edge_pte="$(ls "$fixtures"/edge/*.pte 2>/dev/null | head -n 1 || true)"
    if [[ -z "$edge_pte" ]]; then
        (cd "$root" && "$python" -m cea_edge.export --target executorch --precision fp32 \
            --out "$fixtures/edge" --no-verify) >&2
        edge_pte="$(ls "$fixtures"/edge/*.pte | head -n 1)"
    fi
fi

asset="$demo/app/src/main/assets/cea-edge.pte"
[[ -f "$asset" ]] || fail "no $asset: run android_demo/tools/bundle_model.sh"

# 2. Photos (smooth colours plus seeded noise; the edge one spans 2 x 2 tiles of 256) and Python's
# outputs in both modes: the CLI's PNG and the same restoration before rounding (float32 H x W x 3).
photo() { # photo PATH HEIGHT WIDTH
    "$python" -c "
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
y, x = np.mgrid[0:$2, 0:$3] / 100.0
rgb = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.3 + 0.5 * np.sin(3 * y), 0.6 - 0.3 * np.cos(4 * x * y)], -1)
rgb = np.clip(rgb + rng.normal(0, 0.05, rgb.shape), 0, 1)
Image.fromarray((rgb * 255).round().astype(np.uint8)).save('$1')"
}
python_outputs() { # python_outputs CASE PTE PHOTO
    for mode in global tile; do
        (cd "$root" && "$python" -m cea_edge.enhance "$3" --model "$2" --context $mode \
            -o "$build/$1-python-$mode.png" --quiet) >&2
    done
    (cd "$root" && "$python" - "$2" "$3" "$build/$1-python" <<'PY'
import sys

import numpy as np
from PIL import Image

from cea_edge.runtime.backends import open_backend
from cea_edge.runtime.tiling import context_image, tiled_apply

# restore_photo's steps with a float output (it rounds into the input's dtype): what the Java
# pipeline hands its sink before rounding.
backend = open_backend(sys.argv[1])
pixels = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
factors = backend.context(context_image(pixels, backend.context_size)).factors
for mode, chosen in (("global", factors), ("tile", None)):
    restored = tiled_apply(pixels, lambda tiles: backend.run(tiles, chosen), backend.tile, backend.overlap,
                           batch=backend.max_batch)
    restored.astype("<f4").tofile(f"{sys.argv[3]}-{mode}.f32")
PY
    ) >&2
}
photo "$build/tiny-photo.png" 70 100
photo "$build/edge-photo.png" 300 420
python_outputs tiny "$pte" "$build/tiny-photo.png"
python_outputs edge "$asset" "$build/edge-photo.png"
case_properties=()
case_set() { # case_set CASE PTE PRECISION TILE OVERLAP CONTEXT PRESET
    local p="-Dcea.$1"
    case_properties+=("$p.pte=$2" "$p.photo=$build/$1-photo.png" "$p.expect.precision=$3" "$p.expect.tile=$4"
        "$p.expect.overlap=$5" "$p.expect.context=$6" "$p.expect.preset=$7")
    for mode in global tile; do
        case_properties+=("$p.python.$mode.png=$build/$1-python-$mode.png" "$p.python.$mode.f32=$build/$1-python-$mode.f32")
    done
}
case_set tiny "$pte" fp32 $tile $overlap $context $preset
# The shipped program's settings, from the export recipe (one source of each default).
# The preset the app ships is the toolkit's bundled one (BUNDLED_PRESET), read here, not from the program.
read -r edge_tile edge_overlap edge_context edge_preset < <(cd "$root" && "$python" -c "
from cea_edge.runtime.backends import open_backend
from cea_edge.model.config import BUNDLED_PRESET
b = open_backend('$asset')
print(b.tile, b.overlap, b.context_size, BUNDLED_PRESET)" 2>/dev/null)
case_set edge "$asset" int8 "$edge_tile" "$edge_overlap" "$edge_context" "$edge_preset"
timing=""
if [[ -n "$edge_pte" ]]; then
    timing="$edge_pte,$asset"
    # The Python runtime on the same programs, same tile, same machine, same run.
    (cd "$root" && "$python" - "$edge_pte" "$asset" <<'PY'
import statistics
import sys
import time

import numpy as np

from cea_edge.runtime.backends import open_backend

for path in sys.argv[1:]:
    for threads in (1, 2):
        backend = open_backend(path, threads=threads)
        tile = (np.arange(3 * backend.tile ** 2, dtype=np.float32) % 97 / 96).reshape(1, 3, backend.tile, backend.tile)
        backend.run(tile, None)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            backend.run(tile, None)
            times.append((time.perf_counter() - start) * 1e3)
        print(f"TIMING python edge {backend.precision}: {statistics.median(times):.1f} ms per {backend.tile}^2 tile "
              f"at {threads} thread(s) (forward, executorch runtime)")
PY
    ) 2>/dev/null
fi

# 3. Build: natives, the core + the app's model class (Java 8 class files, as for dx) against the
# test double, then the tests.
bash "$demo/hostjni/native/build.sh" "$build/lib" >&2
find "$demo/hostjni/java" -name '*.java' > "$build/double-sources"
javac --release 8 -Xlint:all -encoding UTF-8 -d "$build/classes" @"$build/double-sources"
# Only the model class from the app: its activities need android.jar.
{ find "$demo/core/src/main/java" -name '*.java'; echo "$demo/app/src/main/java/org/ceaedge/demo/ExecuTorchTileModel.java"; } \
    > "$build/main-sources"
javac --release 8 -Xlint:all -Werror -encoding UTF-8 -cp "$build/classes" -d "$build/classes" @"$build/main-sources"
if javap -c -p "$build/classes/org/ceaedge/demo/"*.class | grep -q invokedynamic; then
    fail "invokedynamic in the app's model class (a lambda or method reference): dx cannot read it"
fi
find "$demo/hostjni/test/java" -name '*.java' > "$build/test-sources"
javac -encoding UTF-8 -d "$build/test" -cp "$build/classes:$jar" @"$build/test-sources"

# 4. Run. BenchmarkTest runs the bundled programs (int8, fp32) through the core's benchmark and hands
# its profile JSON to tools/check_phone_profile.py (schema, --import, report rows); CEA_PHONE_PROFILE=FILE
# keeps a copy.
fp32_asset="$demo/app/src/main/assets/cea-edge-fp32.pte"
[[ -f "$fp32_asset" ]] || fail "no $fp32_asset: run android_demo/tools/bundle_model.sh"
set +e
java -Djava.library.path="$build/lib" \
    -Dcea.cases=tiny,edge "${case_properties[@]}" -Dcea.timing.ptes="$timing" \
    -Dcea.bench.ptes="$asset,$fp32_asset" -Dcea.python="$python" -Dcea.checker="$here/check_phone_profile.py" \
    -Dcea.root="$root" -Dcea.profile.keep="${CEA_PHONE_PROFILE:-}" \
    -jar "$jar" --disable-banner --disable-ansi-colors --details=tree \
    -cp "$build/classes:$build/test" --scan-classpath "$build/test" | tee "$build/junit.log"
junit_status=${PIPESTATUS[0]}
set -e

source "$here/junit_summary.sh"
junit_summary "$build/junit.log" "$junit_status" || exit 1
