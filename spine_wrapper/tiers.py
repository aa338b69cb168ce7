"""Canonical tiers, their spellings and publication delays, read from the dbt seeds the models
join (tier_aliases, publication_delays), so both sides agree. The rules that remain written
twice, the spelling key (the dbt macro `alias_key`) and the tier list Jinja checks before a
seed can be read (the macro `canonical_tiers`), are held to these by tests/python/test_parity.py.
"""

from __future__ import annotations

import csv
from functools import cache

from .paths import SEEDS_DIR


def _seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def publication_delay_weeks() -> dict[str, int]:
    """Tier -> weeks FINRA publishes after the week (the publication_delays seed, one row per
    canonical tier)."""
    return {row["tier"]: int(row["delay_weeks"]) for row in _seed_rows("publication_delays")}


# The canonical tiers, in the seed's order (NMS_TIER_1, NMS_TIER_2, OTC).
TIERS: tuple[str, ...] = tuple(publication_delay_weeks())


def alias_key(text: str) -> str:
    """The dbt macro `alias_key`'s comparison key, as the model applies it to a trimmed field:
    upper-cased, spaces, `_` and `-` removed. Only spaces: SQL's trim() keeps a tab or line
    break, and so a spelling with one is no tier on either side."""
    return text.upper().replace(" ", "").replace("_", "").replace("-", "")


@cache
def _aliases() -> dict[str, str]:
    """Spelling key -> canonical tier: each alias of the tier_aliases seed, and each tier it
    names under its own name (stg_finra__rows_validated's `tier_keys`)."""
    rows = _seed_rows("tier_aliases")
    table = {alias_key(row["alias"]): row["tier"] for row in rows}
    table.update({alias_key(row["tier"]): row["tier"] for row in rows})
    return table


def canonical_tier(text: str) -> str | None:
    """The canonical tier for a spelling, or None when it is not a known tier."""
    return _aliases().get(alias_key(text))


def parse_tiers(values: tuple[str, ...] | list[str]) -> list[str]:
    """CLI --tier values (spellings or `all`) to sorted canonical tiers; ValueError if unknown."""
    chosen: set[str] = set()
    for value in values:
        if value.strip().lower() == "all":
            chosen.update(TIERS)
            continue
        tier = canonical_tier(value)
        if tier is None:
            raise ValueError(
                f"unknown tier {value!r}; use one of {', '.join(TIERS)} (or a spelling such as "
                "'NMS Tier 1', 'T2', 'OTCE'), or 'all'"
            )
        chosen.add(tier)
    return sorted(chosen)
