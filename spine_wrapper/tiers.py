"""Canonical tiers and their spellings, read from the dbt seed so both sides agree."""

from __future__ import annotations

import csv
from functools import cache

from .paths import SEEDS_DIR

TIERS = ("NMS_TIER_1", "NMS_TIER_2", "OTC")


def alias_key(text: str) -> str:
    """Same comparison key as the dbt macro `alias_key`: trim, upper, drop space/_/-."""
    return text.strip().upper().replace(" ", "").replace("_", "").replace("-", "")


@cache
def _aliases() -> dict[str, str]:
    with (SEEDS_DIR / "tier_aliases.csv").open(newline="", encoding="utf-8") as handle:
        table = {alias_key(row["alias"]): row["tier"] for row in csv.DictReader(handle)}
    table.update({alias_key(tier): tier for tier in TIERS})
    return table


@cache
def publication_delay_weeks() -> dict[str, int]:
    """Tier -> weeks FINRA publishes after the week (the publication_delays seed)."""
    with (SEEDS_DIR / "publication_delays.csv").open(newline="", encoding="utf-8") as handle:
        return {row["tier"]: int(row["delay_weeks"]) for row in csv.DictReader(handle)}


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
