#!/usr/bin/env bash
# The app's ExecuTorchTileModel on a real .pte on this machine's JVM: a host test double of
# ExecuTorch's Java API (android_demo/hostjni, never packaged) over the executorch wheel's C++
# runtime, and cross-language parity with `python -m cea_edge.enhance` on the same photo.
#
# Usage: tools/test_host.sh [--edge]
#   --edge  also export the bundled edge fp32 .pte (~60 s) and time a 256^2 tile at 1 and 2 threads.
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

# 2. The photo (70x100, smooth colours plus seeded noise) and Python's outputs in both modes.
photo="$build/photo.png"
"$python" -c "
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
y, x = np.mgrid[0:70, 0:100] / 100.0
rgb = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.3 + 0.5 * y, 0.6 - 0.3 * x * y], -1)
rgb = np.clip(rgb + rng.normal(0, 0.05, rgb.shape), 0, 1)
Image.fromarray((rgb * 255).round().astype(np.uint8)).save('$photo')"
for mode in global tile; do
    (cd "$root" && "$python" -m cea_edge.enhance "$photo" --model "$pte" --context $mode \
        -o "$build/python-$mode.png" --quiet) >&2
done

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

# 4. Run.
set +e
java -Djava.library.path="$build/lib" -Dcea.pte="$pte" -Dcea.photo="$photo" \
    -Dcea.python.global="$build/python-global.png" -Dcea.python.tile="$build/python-tile.png" \
    -Dcea.expect.tile=$tile -Dcea.expect.overlap=$overlap -Dcea.expect.context=$context \
    -Dcea.expect.preset=$preset -Dcea.edge.pte="$edge_pte" \
    -jar "$jar" --disable-banner --disable-ansi-colors --details=tree \
    -cp "$build/classes:$build/test" --scan-classpath "$build/test" | tee "$build/junit.log"
junit_status=${PIPESTATUS[0]}
set -e

source "$here/junit_summary.sh"
junit_summary "$build/junit.log" "$junit_status" || exit 1
