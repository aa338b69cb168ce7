"""Captures and their status log, read from the warehouse: what is published, from which file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb


@dataclass(frozen=True)
class PublishedCapture:
    """The latest (newest published) capture of one (week, tier)."""

    capture_id: str
    week_ending: date
    tier: str
    file_sha256: str
    calc_versions: dict[str, str]
    window_inputs: dict[date, str | None]  # window week -> input capture it was built from


def _relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def latest_published(
    con: duckdb.DuckDBPyConnection, start: date, end: date, tiers: list[str]
) -> dict[tuple[date, str], PublishedCapture]:
    """The latest capture of every (week, tier) between start-35 days and end, with its inputs."""
    if not _relation_exists(con, "intermediate", "int_captures_latest"):
        return {}
    rows = con.execute(
        """
        select l.capture_id, l.week_ending, l.tier, c.file_sha256, c.calc_versions,
               w.window_week_ending, w.input_capture_id
        from intermediate.int_captures_latest as l
        inner join raw.captures as c on l.capture_id = c.capture_id
        left join intermediate.int_capture_windows_resolved as w on l.capture_id = w.capture_id
        where l.week_ending between ? - interval 35 day and ? and list_contains(?, l.tier)
        """,
        [start, end, tiers],
    ).fetchall()
    found: dict[tuple[date, str], PublishedCapture] = {}
    for capture_id, week, tier, sha, versions, window_week, input_id in rows:
        key = (week, tier)
        if key not in found:
            found[key] = PublishedCapture(capture_id, week, tier, sha, json.loads(versions), {})
        if window_week is not None:
            found[key].window_inputs[window_week] = input_id
    return found


def newest_status(
    con: duckdb.DuckDBPyConnection, start: date, end: date, tiers: list[str]
) -> dict[tuple[date, str], str]:
    """The current status of the newest capture of each (week, tier) in the range."""
    if not _relation_exists(con, "main", "finra_otc_transparency_captures"):
        return {}
    rows = con.execute(
        """
        select week_ending, tier, arg_max(status, captured_at)
        from main.finra_otc_transparency_captures
        where week_ending between ? and ? and list_contains(?, tier)
        group by week_ending, tier
        """,
        [start, end, tiers],
    ).fetchall()
    return {(week, tier): status for week, tier, status in rows}


def capture_rows(con: duckdb.DuckDBPyConnection, capture_ids: list[str]) -> list[tuple]:
    """Status and row counts of captures: (id, status, read, accepted, rejected, detail)."""
    if not capture_ids:
        return []
    return con.execute(
        """
        select capture_id, status, rows_read, rows_accepted, rows_rejected, status_detail
        from main.finra_otc_transparency_captures
        where list_contains(?, capture_id)
        """,
        [capture_ids],
    ).fetchall()


# Public marts compared by `diff_captures`, with the columns that legitimately differ between
# two captures of the same file (ids and timestamps) left out.
CAPTURE_KEYED_MARTS = (
    "finra_otc_transparency_symbol_summary",
    "finra_otc_transparency_venue_share",
    "finra_otc_transparency_symbol_venue_share",
    "finra_otc_transparency_symbol_concentration",
    "finra_otc_transparency_symbol_rolling_6w",
    "finra_otc_transparency_liquidity_score",
    "finra_otc_transparency_research_snapshot",
    "finra_otc_transparency_rejects",
)
VOLATILE_COLUMNS = {"capture_id", "captured_at", "run_id", "input_capture_ids", "source_file"}


def diff_captures(
    con: duckdb.DuckDBPyConnection, capture_a: str, capture_b: str, limit: int = 20
) -> list[tuple[str, str, tuple]]:
    """Mart rows of capture_a missing from capture_b and vice versa (ids and times excluded).

    Returns (table, "only in A" | "only in B", row) tuples, at most `limit` per table and side.
    """
    differences: list[tuple[str, str, tuple]] = []
    for table in CAPTURE_KEYED_MARTS:
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'main' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            if row[0] not in VOLATILE_COLUMNS
        ]
        select = ", ".join(f'"{name}"' for name in columns)
        for label, first, second in (
            ("only in A", capture_a, capture_b),
            ("only in B", capture_b, capture_a),
        ):
            rows = con.execute(
                f"select {select} from main.{table} where capture_id = ?"
                f" except all select {select} from main.{table} where capture_id = ?"
                f" limit {int(limit)}",
                [first, second],
            ).fetchall()
            differences += [(table, label, row) for row in rows]
    return differences
