"""Calc versions (DOMAIN §5), read from the dbt seed so the CLI and dbt agree."""

from __future__ import annotations

import csv
from functools import cache

from .paths import SEEDS_DIR


@cache
def _seed() -> dict[str, dict[str, tuple[str, bool]]]:
    """calc_name -> version -> (status, is_current)."""
    table: dict[str, dict[str, tuple[str, bool]]] = {}
    with (SEEDS_DIR / "calc_versions.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            current = row["is_current"].strip().lower() == "true"
            table.setdefault(row["calc_name"], {})[row["version"]] = (row["status"], current)
    return table


def _version_number(version: str) -> int:
    return int(version.lstrip("v"))


def resolve(requested: list[str]) -> tuple[dict[str, str], list[str]]:
    """`calc=vN` options -> the full calc_name -> version map, plus deprecation warnings.

    Unset calcs take their current version. Raises ValueError for a malformed option, an
    unknown calc or version (naming the known ones) or a sunset version.
    """
    seed = _seed()
    chosen = {
        name: next(v for v, (_, current) in versions.items() if current)
        for name, versions in seed.items()
    }
    warnings: list[str] = []
    for option in requested:
        name, sep, version = option.partition("=")
        name, version = name.strip(), version.strip()
        if not sep or not name or not version:
            raise ValueError(f"--calc-version {option!r} is not of the form calc=vN")
        if name not in seed:
            raise ValueError(f"unknown calc {name!r}; known calcs: {', '.join(sorted(seed))}")
        known = sorted(seed[name], key=_version_number)
        if version not in seed[name]:
            raise ValueError(
                f"unknown {name} version {version!r}; known versions: {', '.join(known)}"
            )
        status = seed[name][version][0]
        if status == "sunset":
            raise ValueError(f"{name} {version} is sunset; known versions: {', '.join(known)}")
        if status == "deprecated":
            warnings.append(f"{name} {version} is deprecated")
        chosen[name] = version
    return chosen, warnings
