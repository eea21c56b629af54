"""Static checks that keep the Android demo buildable from a fresh clone, the versions it
states consistent with each other and with docs/android.md, and the release build's R8 rules in
place. Standard library only; run by test_all.sh (one line per check, then "N passed, N failed")
and by tests/test_android_demo.py.

Version pairings (checked 2026-12 against Android's release notes):
- AGP 8.9.0: Gradle >= 8.11.1, SDK Build Tools 35.0.0, JDK 17, API level <= 35
  (https://developer.android.com/build/releases/agp-8-9-0-release-notes);
- Android Studio Meerkat 2024.3.1 is the first that runs AGP 8.9 (the compatibility table on
  https://developer.android.com/studio/releases: Meerkat 3.2-8.9, Ladybug Feature Drop 3.2-8.8).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Callable

DEMO = Path(__file__).resolve().parents[1]
ROOT = DEMO.parent
APP = DEMO / "app"
ASSETS = APP / "src" / "main" / "assets"
JAVA = APP / "src" / "main" / "java" / "org" / "ceaedge" / "demo"
BUNDLED = ("cea-edge.pte", "cea-edge-fp32.pte")

# AGP (major.minor) -> (minimum Gradle, highest API level, first Android Studio that runs it, its version).
AGP = {
    "8.9": ((8, 11, 1), 35, "Meerkat", "2024.3.1"),
    "8.10": ((8, 11, 1), 36, "Meerkat Feature Drop", "2024.3.2"),
    "8.11": ((8, 13), 36, "Narwhal", "2025.1.1"),
}
JDK = 17


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def android_section() -> str:
    """The Android page of the docs (docs/android.md), where the build, install and benchmark steps live."""
    path = ROOT / "docs" / "android.md"
    assert path.is_file(), "docs/android.md is missing"
    return read(path)


def gradle_property(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}=(\S+)$", read(DEMO / "gradle.properties"), re.MULTILINE)
    assert match, f"{name} missing from android_demo/gradle.properties"
    return match.group(1)


def agp_version() -> str:
    match = re.search(r'id\("com\.android\.application"\) version "([\d.]+)"', read(DEMO / "build.gradle.kts"))
    assert match, "no com.android.application version in android_demo/build.gradle.kts"
    return match.group(1)


def gradle_version() -> str:
    match = re.search(r"gradle-([\d.]+)-(?:bin|all)\.zip", read(DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties"))
    assert match, "no distributionUrl in gradle-wrapper.properties"
    return match.group(1)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def check_androidx() -> str:
    assert gradle_property("android.useAndroidX") == "true", "android.useAndroidX must be true (the AAR needs androidx.core)"
    return "android.useAndroidX=true"


def check_executorch_version() -> str:
    pins = tomllib.loads(read(ROOT / "pyproject.toml"))["project"]["optional-dependencies"]["deploy"]
    pinned = next(pin.split("==")[1] for pin in pins if pin.startswith("executorch=="))
    gradle = gradle_property("executorchVersion")
    app = re.search(r'EXECUTORCH_VERSION = "([^"]+)"', read(JAVA / "ModelStore.java"))
    assert app, "ModelStore.EXECUTORCH_VERSION missing"
    assert gradle == pinned == app.group(1), f"gradle {gradle}, pyproject {pinned}, ModelStore {app.group(1)}"
    build = read(APP / "build.gradle.kts")
    assert 'implementation("org.pytorch:executorch-android:$executorchVersion")' in build
    assert f"org.pytorch:executorch-android:{pinned}" in android_section(), "docs/android.md states another coordinate"
    return f"org.pytorch:executorch-android:{pinned} (gradle.properties, pyproject deploy pin, ModelStore, docs/android.md)"


def check_tool_versions() -> str:
    agp = agp_version()
    key = ".".join(agp.split(".")[:2])
    assert key in AGP, f"AGP {agp}: add its Gradle/API/Studio pairing to check_build.AGP from its release notes"
    min_gradle, max_api, studio, studio_version = AGP[key]
    gradle = gradle_version()
    assert version_tuple(gradle) >= min_gradle, f"AGP {agp} needs Gradle >= {min_gradle}, the wrapper names {gradle}"
    build = read(APP / "build.gradle.kts")
    for name in ("compileSdk", "targetSdk"):
        level = int(re.search(rf"{name} = (\d+)", build).group(1))
        assert level <= max_api, f"{name} {level} is above AGP {agp}'s highest API level {max_api}"
    readme = android_section()
    for text in (f"AGP {agp}", f"Gradle {gradle}", f"{studio} ({studio_version})", f"JDK {JDK}"):
        assert text in readme, f"docs/android.md does not say {text!r}"
    assert "Ladybug or" not in readme, "docs/android.md still names Ladybug, which cannot run AGP 8.9"
    assert f"gradle wrapper --gradle-version {gradle}" in readme, "docs/android.md does not say how to make the wrapper"
    return f"AGP {agp}, Gradle {gradle}, Android Studio {studio} {studio_version}+, JDK {JDK} (wrapper, build, docs/android.md)"


def check_keep_rules() -> str:
    rules = APP / "proguard-rules.pro"
    assert rules.is_file(), "app/proguard-rules.pro is missing"
    text = "\n".join(line for line in read(rules).splitlines() if not line.lstrip().startswith("#"))
    for rule in ("-keep class org.pytorch.executorch.** { *; }", "-keep class com.facebook.jni.** { *; }",
                 "native <methods>;", "@com.facebook.jni.annotations.DoNotStrip"):
        assert rule in text, f"proguard-rules.pro lacks {rule!r}"
    release = re.search(r"release \{(.*?)\n        \}", read(APP / "build.gradle.kts"), re.DOTALL)
    assert release, "no release build type in app/build.gradle.kts"
    assert "isMinifyEnabled = true" in release.group(1), "the release build does not run R8"
    assert re.search(r'proguardFiles\(.*"proguard-rules\.pro"\)', release.group(1)), \
        "the release build type does not use proguard-rules.pro"
    return "keep rules for org.pytorch.executorch.**, com.facebook.jni.**, native methods; used by release (R8 on)"


def check_assets() -> str:
    sizes = []
    for name in BUNDLED:
        asset = ASSETS / name
        assert asset.is_file(), f"{name} is not in the assets: run android_demo/tools/bundle_model.sh"
        head = asset.read_bytes()[:8]
        assert head[4:8] == b"ET12", f"{name} is not an ExecuTorch program (header {head!r})"
        assert f'"{name}"' in read(JAVA / "ModelStore.java") or name == "cea-edge.pte", f"ModelStore does not bundle {name}"
        assert name in read(APP / "build.gradle.kts"), f"checkModelAsset does not check {name}"
        sizes.append(f"{name} {asset.stat().st_size / 1e6:.2f} MB")
    return ", ".join(sizes)


def check_benchmark_command() -> str:
    manifest = read(APP / "src" / "main" / "AndroidManifest.xml")
    assert re.search(r'android:name="\.BenchmarkActivity"\s+[^>]*android:exported="true"', manifest), \
        "BenchmarkActivity is not exported in the manifest"
    extras = set(re.findall(r'static final String EXTRA_\w+ = "(\w+)"', read(JAVA / "BenchmarkActivity.java")))
    readme = android_section()
    package = re.search(r'applicationId = "([\w.]+)"', read(APP / "build.gradle.kts")).group(1)
    command = re.search(r"adb shell am start -n (\S+)(.*)", readme)
    assert command, "docs/android.md has no adb shell am start command"
    assert command.group(1) == f"{package}/.BenchmarkActivity", command.group(1)
    used = set(re.findall(r"--e[zifs] (\w+)", command.group(2)))
    assert "benchmark" in used and used <= extras, f"docs/android.md passes {sorted(used)}, the activity reads {sorted(extras)}"
    name = re.search(r'FILE_NAME = "([^"]+)"', read(JAVA / "BenchmarkRun.java")).group(1)
    assert f"/sdcard/Android/data/{package}/files/{name}" in readme, "docs/android.md's adb pull path is not where the app writes"
    assert "python -m cea_edge.report" in readme and "--add-profile" in readme
    return f"adb shell am start -n {package}/.BenchmarkActivity --ez benchmark true; extras {sorted(extras)}"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("AndroidX flag", check_androidx),
    ("ExecuTorch coordinate and version", check_executorch_version),
    ("Studio / AGP / Gradle / JDK", check_tool_versions),
    ("R8 keep rules in the release build", check_keep_rules),
    ("bundled programs", check_assets),
    ("benchmark intent and docs command", check_benchmark_command),
]


def main() -> int:
    passed = failed = 0
    for name, check in CHECKS:
        try:
            detail = check()
        except (AssertionError, OSError, KeyError, AttributeError, StopIteration) as error:
            print(f"FAIL {name}: {error}")
            failed += 1
        else:
            print(f"PASS {name}: {detail}")
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
