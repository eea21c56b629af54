#!/usr/bin/env bash
# Compile and test the pure-Java core of the Android demo (android_demo/core), no Gradle.
#
# Needs: a JDK >= 11 (javac, java, javap; main code is compiled with --release 8, the class
# files the Android dexer reads) and JUnit 5's console launcher,
# junit-platform-console-standalone.jar. It is taken from $JUNIT_JAR, else from
# /usr/share/java/junit-platform-console-standalone.jar; when missing and apt is there it is
# installed with `apt-get install -y --no-install-recommends junit5` (Debian's package).
#
# The fixtures under core/src/test/resources/fixtures come from the Python runtime:
# regenerate them with `.venv/bin/python android_demo/tools/make_core_fixtures.py`.
#
# Prints JUnit's tree, then one plain line "N passed, N failed"; exits non-zero when any
# test failed (or none ran, or the code does not compile).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
core="$here/../core"
jar="${JUNIT_JAR:-/usr/share/java/junit-platform-console-standalone.jar}"

if [[ ! -f "$jar" ]]; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "JUnit 5 console launcher missing: apt-get install -y --no-install-recommends junit5" >&2
        sudo_cmd=""
        if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
        $sudo_cmd apt-get install -y --no-install-recommends junit5 >&2 \
            || { $sudo_cmd apt-get update >&2 && $sudo_cmd apt-get install -y --no-install-recommends junit5 >&2; }
    fi
    if [[ ! -f "$jar" ]]; then
        echo "error: no $jar; install Debian's junit5 package or set JUNIT_JAR to the console standalone jar" >&2
        echo "0 passed, 1 failed"
        exit 2
    fi
fi

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
mkdir -p "$build/main" "$build/test"

# Main: Java 8 class files, no android.*, no invokedynamic (lambdas, method references) for dx.
find "$core/src/main/java" -name '*.java' > "$build/main-sources"
javac --release 8 -Xlint:all -Werror -encoding UTF-8 -d "$build/main" @"$build/main-sources"
if grep -l 'import android\.' $(cat "$build/main-sources") >/dev/null 2>&1; then
    echo "error: the core must not import android.*" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
if javap -c -p $(find "$build/main" -name '*.class') | grep -q invokedynamic; then
    echo "error: invokedynamic in the core's class files (a lambda or method reference): dx cannot read it" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

find "$core/src/test/java" -name '*.java' > "$build/test-sources"
javac -encoding UTF-8 -d "$build/test" -cp "$build/main:$jar" @"$build/test-sources"

set +e
java -jar "$jar" --disable-banner --disable-ansi-colors --details=tree \
    -cp "$build/main:$build/test:$core/src/test/resources" --scan-classpath "$build/test" \
    | tee "$build/junit.log"
junit_status=${PIPESTATUS[0]}
set -e

source "$here/junit_summary.sh"
junit_summary "$build/junit.log" "$junit_status" || exit 1
