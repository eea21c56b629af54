"""Recipes as data: finding the bundled TOML files and reading one with clear errors.

Every stage that reads recipes (export, quantization) types and validates its own fields;
this module locates the files, reads a TOML document with clear errors and checks its keys.
It also reads the JSON documents users pass in (imported profiles, baseline reports).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from cea_edge.errors import CeaError

REPOSITORY = Path(__file__).resolve().parents[1]


def recipe_dirs(kind: str) -> tuple[Path, Path]:
    """Where bundled recipes of ``kind`` ("export", "quantization") live, in search order.

    The repository's folder (a source checkout or an editable install), then
    <prefix>/share/cea-edge/<kind>/, where pyproject's data-files put them on a regular install.
    """
    return REPOSITORY / kind, Path(sys.prefix) / "share" / "cea-edge" / kind


def bundled_recipe(kind: str, name: str, folders: tuple[Path, ...] | None = None) -> Path:
    """The bundled ``<name>.toml`` of ``kind``; CeaError when no folder has it."""
    candidates = [folder / f"{name}.toml" for folder in folders or recipe_dirs(kind)]
    for path in candidates:
        if path.is_file():
            return path
    raise CeaError(f"no bundled {kind} recipe '{name}' at '{candidates[0]}'; "
                   f"pass --recipe PATH (copy one from the repository's {kind}/ folder)")


# The top-level key that marks each kind of recipe, and the command that reads it: a recipe of one kind passed
# to the other stage is named for what it is (instead of "unknown keys" or "a [train] table is missing").
RECIPE_KINDS = {"export": ("target", "python -m cea_edge.export --recipe"),
                "quantization": ("scheme", "python -m cea_edge.quantize --recipe")}


def read_toml(path: str | Path, what: str = "recipe", kind: str | None = None) -> dict[str, Any]:
    """A TOML file's document; a missing file, a folder, invalid TOML (and, given ``kind``, a recipe of another
    kind) is an error naming it as ``what`` ("recipe", "bars file")."""
    path = Path(path)
    if not path.is_file():
        problem = ("does not exist" if not path.exists() else "is a folder; give a TOML file" if path.is_dir()
                   else "is not a regular file (a pipe, socket or device); give a TOML file")
        raise CeaError(f"{what} '{path}' {problem}")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CeaError(f"{what} '{path}' is not valid TOML: {error}") from None
    if kind is not None:
        for other, (marker, command) in RECIPE_KINDS.items():
            if other != kind and marker in document and RECIPE_KINDS[kind][0] not in document:
                raise CeaError(f"recipe '{path}' is {_a(other)} recipe (it states '{marker}'; {command} reads it), not "
                               f"{_a(kind)} recipe: pass one of the {kind}/ folder, or an edited copy")
    return document


def read_json(path: str | Path, flag: str) -> Any:
    """A JSON document a user passed with ``flag``; unreadable or invalid JSON is one error naming both."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CeaError(f"{flag} '{path}' cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CeaError(f"{flag} '{path}' is not JSON ({error})") from None


def check_keys(source: str, values: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = (),
               table: str | None = None, renamed: dict[str, str] | None = None) -> None:
    """Every ``required`` key, any ``optional`` one and no other: a recipe that states its values
    is the one source of them (no code default stands in for a key left out).

    renamed: old key -> new key, for a clearer error than "unknown key" on recipes written before a rename.
    """
    where = f" in [{table}]" if table else ""
    for old, new in (renamed or {}).items():
        if old in values:
            raise CeaError(f"recipe {source}: key '{old}'{where} is now called '{new}'; rename it")
    known = (*required, *optional)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise CeaError(f"recipe {source}: unknown key(s) {unknown}{where}; known keys: {', '.join(known)}")
    missing = [key for key in required if key not in values]
    if missing:
        raise CeaError(f"recipe {source}: missing key(s) {missing}{where}; the recipe is the one source of these "
                       "values (copy the bundled recipe and edit it)")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def read_recipe(path: str | Path, tables: tuple[str, ...] = (), kind: str | None = None) -> dict[str, Any]:
    """Read a recipe (of ``kind``, see read_toml) into one flat dict: top-level keys plus the keys of the named tables.

    A key given twice, a table that is not a table and invalid TOML are errors naming the
    file; which keys belong is the caller's check_keys.
    """
    document = read_toml(path, kind=kind)
    values = {key: value for key, value in document.items() if key not in tables}
    for table in tables:
        section = document.get(table, {})
        if not isinstance(section, dict):
            raise CeaError(f"recipe {path}: '{table}' must be a table ([{table}])")
        twice = set(values) & set(section)
        if twice:
            raise CeaError(f"recipe {path}: {sorted(twice)} given twice")
        values |= section
    return values


def check_type(source: str, name: str, value: Any, kind: type | tuple[type, ...]) -> None:
    """A recipe value of the wrong type is an error (bool is not an int here: `tile = true`)."""
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join({int: "an integer", float: "a number", str: "a string", list: "a list"}[k] for k in kinds)
        raise CeaError(f"recipe {source}: '{name}' must be {names}, got {value!r}")
