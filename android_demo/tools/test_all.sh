#!/usr/bin/env bash
# Everything the Android demo can prove on this machine, as .ci/run runs it:
#   check_build.py  the build configuration: AndroidX flag, versions (ExecuTorch, AGP, Gradle, Studio,
#                   JDK) against each other and the README, R8 keep rules in the release build, assets
#   test_core.sh    the pure-Java core against fixtures from the Python runtime (JUnit 5)
#   test_host.sh    the app's model class on real .pte files through the JNI double, against Python,
#                   and the benchmark's profile JSON validated and imported by the Python side
#   package_apk.sh  the packaging check (android.jar, dx, aapt2, zipalign, apksigner)
# Each prints its own "N passed, N failed"; this prints the sum as the last line and exits
# non-zero when any part failed. Extra arguments go to test_host.sh (e.g. --edge).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-$here/../../.venv/bin/python}"
total_passed=0
total_failed=0
status=0
for part in check_build.py test_core.sh test_host.sh package_apk.sh; do
    echo "== android_demo/tools/$part"
    log="$(mktemp)"
    if [[ $part == check_build.py ]]; then
        "$python" "$here/$part" | tee "$log"
    elif [[ $part == test_host.sh ]]; then
        bash "$here/$part" "$@" | tee "$log"
    else
        bash "$here/$part" | tee "$log"
    fi
    part_status=${PIPESTATUS[0]}
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
    rm -f "$log"
    if [[ -z "$line" ]]; then
        line="0 passed, 1 failed"  # it died before its summary
    fi
    total_passed=$((total_passed + ${line%% passed*}))
    failed="${line#*passed, }"
    total_failed=$((total_failed + ${failed%% failed}))
    if [[ $part_status -ne 0 ]]; then
        status=1
        if [[ "${failed%% failed}" == 0 ]]; then total_failed=$((total_failed + 1)); fi
    fi
done
echo "$total_passed passed, $total_failed failed"
exit $status
