#!/usr/bin/env bash
# Packaging check: build, sign and inspect an APK of the demo app with Debian's Android tools,
# without Gradle, the Android Gradle Plugin or the ExecuTorch AAR (none can be had on this
# machine kind; see ../shared/docs/android-notes.md and docs/android.md).
#
# It proves the app's sources and resources compile against the API-23 android.jar (so the
# app calls nothing newer without a guard), that the code dexes (Java 8, no lambdas), and that
# the package is well formed: resources linked, both .pte programs (int8, fp32) stored uncompressed in the assets,
# aligned, signed (apksigner verify), with the launcher activity (aapt2 dump badging).
# It is NOT the app a user installs: the ExecuTorch classes are compiled against the host test
# double (android_demo/hostjni) and left out of the dex, and no native library is packaged.
# The Gradle build in Android Studio makes the real APK.
#
# Usage: android_demo/tools/package_apk.sh [--out FILE.apk]
#   needs both programs in the assets (tools/bundle_model.sh) and, when missing, installs Debian's
#   aapt, apksigner and zipalign (apt-get) and fetches the API-23 android.jar and dx from
#   Debian's bullseye suite into $CEA_ANDROID_TOOLS (default ~/.cache/cea-edge/android).
# Prints one line per check, the APK's size, then "N passed, N failed"; exits non-zero when any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
demo="$(cd "$here/.." && pwd)"
app="$demo/app"
tools="${CEA_ANDROID_TOOLS:-$HOME/.cache/cea-edge/android}"
out="$demo/build/cea-edge-demo-packaging-check.apk"
if [[ "${1:-}" == "--out" ]]; then out="$2"; fi

passed=0
failed=0
check() { # check NAME COMMAND...: run it, print PASS/FAIL
    local name="$1"; shift
    if "$@" > "$work/check.log" 2>&1; then
        echo "PASS $name"; passed=$((passed + 1))
    else
        echo "FAIL $name"; sed 's/^/    /' "$work/check.log" | tail -n 20; failed=$((failed + 1))
    fi
}
die() { echo "error: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---- tools ----
as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; elif command -v sudo > /dev/null; then sudo "$@"; else "$@"; fi; }
if ! command -v aapt2 > /dev/null || ! command -v apksigner > /dev/null || ! command -v zipalign > /dev/null; then
    command -v apt-get > /dev/null || die "aapt2, apksigner and zipalign are missing and there is no apt-get"
    echo "installing Debian's aapt, apksigner, zipalign" >&2
    as_root apt-get install -y --no-install-recommends aapt apksigner zipalign >&2 \
        || { as_root apt-get update >&2 && as_root apt-get install -y --no-install-recommends aapt apksigner zipalign >&2; } \
        || die "could not install aapt, apksigner, zipalign"
fi
android_jar="$(ls "$tools"/usr/share/java/com.android.android-23.jar 2>/dev/null || true)"
dx_jar="$(ls "$tools"/usr/share/java/com.android.dx*.jar 2>/dev/null | head -n 1 || true)"
if [[ -z "$android_jar" || -z "$dx_jar" ]]; then
    # The mirror the system's apt already uses (deb822 .sources or classic sources.list).
    mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1 || true)"
    if [[ -z "$mirror" ]]; then
        mirror="$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed 's/\[[^]]*\]//' \
            | awk '{print $2}' | grep -v security | head -n 1 || true)"
    fi
    [[ -n "$mirror" ]] || die "no Debian mirror in the apt sources to fetch bullseye's libandroid-23-java and dalvik-exchange from"
    apt_dir="$work/apt"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$tools"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" > "$apt_dir/sources.list"
    apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
    echo "fetching libandroid-23-java and dalvik-exchange (bullseye) into $tools" >&2
    apt-get "${apt_options[@]}" update > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; die "apt-get update (bullseye) failed"; }
    (cd "$apt_dir" && apt-get "${apt_options[@]}" download libandroid-23-java dalvik-exchange) > "$work/apt.log" 2>&1 \
        || { cat "$work/apt.log" >&2; die "could not download libandroid-23-java and dalvik-exchange"; }
    for deb in "$apt_dir"/*.deb; do dpkg-deb -x "$deb" "$tools"; done
    android_jar="$(ls "$tools"/usr/share/java/com.android.android-23.jar)"
    dx_jar="$(ls "$tools"/usr/share/java/com.android.dx*.jar | head -n 1)"
fi
[[ -f "$android_jar" && -f "$dx_jar" ]] || die "no android.jar or dx.jar under $tools"
# The programs the app bundles: the int8 one it enhances with and the fp32 one the benchmark compares.
assets=("$app/src/main/assets/cea-edge.pte" "$app/src/main/assets/cea-edge-fp32.pte")
for asset in "${assets[@]}"; do
    [[ -f "$asset" ]] || die "no $(basename "$asset") in the assets: run android_demo/tools/bundle_model.sh first"
done

# ---- what Gradle's manifest merger would inject, read from app/build.gradle.kts (one source) ----
gradle_value() { sed -n "s/^ *$1 = \"\\{0,1\\}\\([^\" ]*\\)\"\\{0,1\\}.*/\\1/p" "$app/build.gradle.kts" | head -n 1; }
package="$(gradle_value applicationId)"
min_sdk="$(gradle_value minSdk)"
target_sdk="$(gradle_value targetSdk)"
version_code="$(gradle_value versionCode)"
version_name="$(gradle_value versionName)"
[[ -n "$package" && -n "$min_sdk" && -n "$target_sdk" && -n "$version_code" && -n "$version_name" ]] \
    || die "could not read applicationId/minSdk/targetSdk/versionCode/versionName from app/build.gradle.kts"
sed "s|<manifest |<manifest package=\"$package\" |" "$app/src/main/AndroidManifest.xml" > "$work/AndroidManifest.xml"

# ---- resources ----
mkdir -p "$work/gen" "$work/classes" "$work/double" "$work/assets"
cp "${assets[@]}" "$work/assets/"
check "aapt2 compiles the resources" aapt2 compile --dir "$app/src/main/res" -o "$work/res.zip"
check "aapt2 links them against API 23 (manifest, R, assets with the .pte stored)" \
    aapt2 link -I "$android_jar" --manifest "$work/AndroidManifest.xml" -o "$work/base.apk" --java "$work/gen" \
    --min-sdk-version "$min_sdk" --target-sdk-version "$target_sdk" --version-code "$version_code" \
    --version-name "$version_name" -A "$work/assets" -0 .pte "$work/res.zip"

# ---- code: the ExecuTorch API double is on the class path only, never in the dex ----
find "$demo/hostjni/java" -name '*.java' > "$work/double-sources"
javac --release 8 -nowarn -encoding UTF-8 -d "$work/double" @"$work/double-sources" 2> "$work/javac.log" \
    || { cat "$work/javac.log" >&2; die "the ExecuTorch API double does not compile"; }
{ find "$app/src/main/java" "$demo/core/src/main/java" "$work/gen" -name '*.java'; } > "$work/sources"
# -bootclasspath android.jar: java.* as Android 6 has it, so a JDK-only API (java.nio.file...) fails here too.
check "the app and core compile against android.jar (API $min_sdk) as Java 8" \
    javac -source 8 -target 8 -Xlint:-options -Xlint:deprecation -encoding UTF-8 -bootclasspath "$android_jar" \
    -cp "$work/double" -d "$work/classes" @"$work/sources"
check "no invokedynamic (lambdas, method references) in the classes" \
    bash -c "! javap -c -p \$(find '$work/classes' -name '*.class') | grep -q invokedynamic"
check "dx turns the classes into classes.dex (min SDK $min_sdk)" \
    java -jar "$dx_jar" --dex --min-sdk-version="$min_sdk" --output="$work/classes.dex" "$work/classes"
check "the dex defines the app and core classes, and not the ExecuTorch double" python3 - "$work/classes.dex" <<'PY'
import struct
import sys

dex = open(sys.argv[1], "rb").read()


def uleb(at):
    value = shift = 0
    while True:
        byte = dex[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def string(index):
    (offset,) = struct.unpack_from("<I", dex, struct.unpack_from("<I", dex, 0x3C)[0] + 4 * index)
    length, at = uleb(offset)
    return dex[at:at + length].decode("utf-8", "replace")  # class names here are ASCII


string_ids, type_ids = struct.unpack_from("<I", dex, 0x3C)[0], struct.unpack_from("<I", dex, 0x44)[0]
count, offset = struct.unpack_from("<II", dex, 0x60)
defined = {string(struct.unpack_from("<I", dex, type_ids + 4 * struct.unpack_from("<I", dex, offset + 32 * i)[0])[0])
           for i in range(count)}
for name in ("Lorg/ceaedge/demo/MainActivity;", "Lorg/ceaedge/demo/ExecuTorchTileModel;",
             "Lorg/ceaedge/demo/PhotoJob;", "Lorg/ceaedge/demo/BenchmarkActivity;", "Lorg/ceaedge/demo/ModelHost;",
             "Lorg/ceaedge/core/Enhancer;", "Lorg/ceaedge/core/PngWriter;", "Lorg/ceaedge/core/Benchmark;",
             "Lorg/ceaedge/core/JobGate;", "Lorg/ceaedge/core/RunMarker;"):
    assert name in defined, f"{name} is not defined in classes.dex"
double = sorted(name for name in defined if name.startswith("Lorg/pytorch/"))
assert not double, f"the host test double was packaged: {double}"
print(f"{len(defined)} classes defined")
PY
cp "$work/base.apk" "$work/unaligned.apk"
check "classes.dex added to the package" bash -c "cd '$work' && zip -q unaligned.apk classes.dex"
check "zipalign -p 4" zipalign -p -f 4 "$work/unaligned.apk" "$work/aligned.apk"

# ---- sign with a throwaway key (a debug-style keystore made here, never committed) ----
keytool -genkeypair -keystore "$work/debug.keystore" -storepass android -keypass android -alias demo \
    -keyalg RSA -keysize 2048 -validity 3650 -dname "CN=cea-edge packaging check" > "$work/keytool.log" 2>&1 \
    || { cat "$work/keytool.log" >&2; die "keytool could not make a signing key"; }
check "apksigner sign" apksigner sign --ks "$work/debug.keystore" --ks-pass pass:android --key-pass pass:android \
    --ks-key-alias demo --min-sdk-version "$min_sdk" --out "$work/app.apk" "$work/aligned.apk"
check "apksigner verify" apksigner verify --min-sdk-version "$min_sdk" "$work/app.apk"
check "zipalign -c verifies the alignment" zipalign -c -p 4 "$work/app.apk"
aapt2 dump badging "$work/app.apk" > "$work/badging.txt" 2>&1 || true
check "aapt2 dump badging: package, SDKs and the launcher activity" bash -c "
    grep -q \"package: name='$package' versionCode='$version_code' versionName='$version_name'\" '$work/badging.txt' &&
    grep -q \"sdkVersion:'$min_sdk'\" '$work/badging.txt' && grep -q \"targetSdkVersion:'$target_sdk'\" '$work/badging.txt' &&
    grep -q \"launchable-activity: name='$package.MainActivity'\" '$work/badging.txt'"
check "the benchmark activity is in the manifest, exported (adb shell am start reaches it)" bash -c "
    aapt2 dump xmltree --file AndroidManifest.xml '$work/app.apk' > '$work/manifest.txt' &&
    grep -A4 'E: activity' '$work/manifest.txt' | grep -q '$package.BenchmarkActivity\\|\\.BenchmarkActivity' &&
    grep -A6 'BenchmarkActivity' '$work/manifest.txt' | grep -q 'exported.*=true'"
check "both .pte programs are in the assets, stored uncompressed and byte-identical" python3 - "$work/app.apk" "${assets[@]}" <<'PY'
import os
import sys
import zipfile
with zipfile.ZipFile(sys.argv[1]) as apk:
    for asset in sys.argv[2:]:
        info = apk.getinfo("assets/" + os.path.basename(asset))
        assert info.compress_type == zipfile.ZIP_STORED, f"{info.filename} is deflated"
        assert apk.read(info) == open(asset, "rb").read(), f"{info.filename} in the APK differs from the asset"
    names = apk.namelist()
    assert "classes.dex" in names and "AndroidManifest.xml" in names and "resources.arsc" in names, names
PY

mkdir -p "$(dirname "$out")"
cp "$work/app.apk" "$out.part.$$"
mv -f "$out.part.$$" "$out"
grep -E "^(package|sdkVersion|targetSdkVersion|launchable-activity)" "$work/badging.txt" | sed 's/^/    /'
apk_bytes=$(stat -c %s "$out")
asset_sizes=""
for asset in "${assets[@]}"; do asset_sizes+="$(basename "$asset") $(stat -c %s "$asset") bytes; "; done
echo "APK: ${out} -- a packaging check, not the installable app (no AAR classes or native libraries)"
echo "APK size: $apk_bytes bytes ($(awk -v b="$apk_bytes" 'BEGIN {printf "%.2f", b / 1e6}') MB); assets: ${asset_sizes%; }"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
