#!/usr/bin/env bash
# Build libexecutorch_jni_host.so (host test double's natives) into $1 against the executorch
# wheel in the project's venv. Flags: docs android-notes ("The ExecuTorch runtime on the JVM").
# Plain g++: Debian's CMake 3.25 gets no imported targets from the wheel's config anyway.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
python="${PYTHON:-$here/../../../.venv/bin/python}"
et="${EXECUTORCH_DIR:-$("$python" -c 'import executorch; print(list(executorch.__path__)[0])')}"
java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
mkdir -p "$out"
g++ -std=c++17 -O2 -Wno-deprecated-declarations -fPIC -shared -DC10_USING_CUSTOM_GENERATED_MACROS \
    -I"$et/include" -I"$et/include/executorch/runtime/core/portable_type/c10" \
    -I"$java_home/include" -I"$java_home/include/linux" \
    "$here/executorch_jni_host.cpp" -o "$out/libexecutorch_jni_host.so" \
    -L"$et/lib" -Wl,-rpath,"$et/lib" -lexecutorch \
    -Wl,--no-as-needed -lexecutorch_kernels_optimized -lexecutorch_backend_xnnpack -lexecutorch_threadpool \
    -Wl,--as-needed
