"""DOMAIN.md's Acceptance figures, checked in the published `_latest` views."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import query


def test_real_files_rows_accepted_and_the_one_reject(real_db: Path) -> None:
    accepted = query(
        real_db, "select count(*) from main.finra_otc_transparency_symbol_venue_share_latest"
    )
    assert accepted == [(15174,)]
    rejects = query(
        real_db,
        "select source_file, line_number, reason_code, reason_codes "
        "from main.finra_otc_transparency_rejects",
    )
    assert len(rejects) == 1
    source_file, line, code, codes = rejects[0]
    assert Path(source_file).name == "finra_otc_weekly_otc_20251229.csv"
    assert (line, code, codes) == (4656, "EMPTY_SYMBOL", "EMPTY_SYMBOL")


def test_real_files_map_to_their_fridays_and_publish(real_db: Path) -> None:
    """Published 2025-12-15/22/29, OTC: four weeks late (DOMAIN.md §1.3, rule 3)."""
    rows = query(
        real_db,
        "select cast(week_ending as varchar), tier, week_source, status, rows_read,"
        " rows_accepted, rows_finra_totals, rows_rejected"
        " from main.finra_otc_transparency_captures order by week_ending",
    )
    assert rows == [
        ("2025-11-14", "OTC", "publication_delay", "published", 5328, 5328, 0, 0),
        ("2025-11-21", "OTC", "publication_delay", "published", 5192, 5192, 0, 0),
        ("2025-11-28", "OTC", "publication_delay", "published", 4655, 4654, 0, 1),
    ]


def test_otcn_market_share(real_db: Path) -> None:
    rows = query(
        real_db,
        "select market_share_pct, rank from main.finra_otc_transparency_venue_share_latest"
        " where mpid = 'OTCN' order by week_ending",
    )
    assert [r[1] for r in rows] == [1, 1, 1]
    assert [r[0] for r in rows] == pytest.approx([0.821884, 0.809065, 0.798351], abs=1e-6)


def test_venue_shares_sum_to_one(real_db: Path) -> None:
    sums = query(
        real_db,
        "select sum(market_share_pct), count(*) from main.finra_otc_transparency_venue_share_latest"
        " group by week_ending",
    )
    assert all(abs(total - 1) < 1e-9 and venues == 9 for total, venues in sums)


def test_aabb_rolling_window(real_db: Path) -> None:
    [(avg, direction, trend, weeks, complete)] = query(
        real_db,
        "select avg_volume, trend_direction, trend_pct, weeks_in_window, is_complete"
        " from main.finra_otc_transparency_symbol_rolling_6w_latest"
        " where symbol = 'AABB' and week_ending = '2025-11-28'",
    )
    assert avg == pytest.approx(3871106.3333333, rel=1e-12)
    assert trend == pytest.approx(-56.0515, abs=1e-4)
    assert (direction, weeks, complete) == ("DOWN", 3, False)


def test_trading_days_of_thanksgiving_week(real_db: Path) -> None:
    days = query(
        real_db,
        "select cast(week_ending as varchar), min(trading_days), max(trading_days)"
        " from main.finra_otc_transparency_research_snapshot_latest group by 1 order by 1",
    )
    assert days == [("2025-11-14", 5, 5), ("2025-11-21", 5, 5), ("2025-11-28", 4, 4)]


def test_fixture_symbol_summaries(fixture_db: Path) -> None:
    rows = query(
        fixture_db,
        "select symbol, total_volume, total_trades, venue_count"
        " from main.finra_otc_transparency_symbol_summary_latest"
        " where week_ending = '2026-01-02' order by symbol",
    )
    assert rows == [("A", 3827870, 64427, 29), ("AA", 3110306, 36056, 21)]


def test_fixture_rolling_is_flat_and_complete(fixture_db: Path) -> None:
    rows = query(
        fixture_db,
        "select symbol, avg_volume, trend_direction, trend_pct, weeks_in_window, is_complete"
        " from main.finra_otc_transparency_symbol_rolling_6w_latest"
        " where week_ending = '2026-01-02' order by symbol",
    )
    assert rows == [
        ("A", 3827870.0, "FLAT", 0.0, 6, True),
        ("AA", 3110306.0, "FLAT", 0.0, 6, True),
    ]


def test_fixture_liquidity_scores(fixture_db: Path) -> None:
    rows = query(
        fixture_db,
        "select symbol, calc_version, liquidity_score"
        " from main.finra_otc_transparency_liquidity_score_latest"
        " where week_ending = '2026-01-02' order by symbol",
    )
    assert rows == [("A", "v1", 1722.89), ("AA", "v1", 1811.46)]
