"""Captures and their status log, read from the warehouse: what is published, from which file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from . import relations


@dataclass(frozen=True)
class PublishedCapture:
    """The latest (newest published) capture of one (week, tier)."""

    capture_id: str
    week_ending: date
    tier: str
    file_sha256: str
    calc_versions: dict[str, str]
    window_inputs: dict[date, str | None]  # window week -> input capture it was built from


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether `relation` (`schema.name`, from the relations registry) exists."""
    schema, name = relation.split(".")
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
    if not relation_exists(con, relations.LATEST_CAPTURES):
        return {}
    rows = con.execute(
        f"""
        select l.capture_id, l.week_ending, l.tier, c.file_sha256, c.calc_versions,
               w.window_week_ending, w.input_capture_id
        from {relations.LATEST_CAPTURES} as l
        inner join raw.captures as c on l.capture_id = c.capture_id
        left join {relations.CAPTURE_WINDOWS} as w on l.capture_id = w.capture_id
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


def stale_window_weeks(
    latest: PublishedCapture, published: dict[tuple[date, str], PublishedCapture]
) -> list[date]:
    """Earlier window weeks whose latest capture is no longer the one `latest` was built from."""
    stale = []
    for window_week, input_id in sorted(latest.window_inputs.items()):
        current = published.get((window_week, latest.tier))
        if (
            window_week != latest.week_ending
            and (current.capture_id if current else None) != input_id
        ):
            stale.append(window_week)
    return stale


def newest_status(
    con: duckdb.DuckDBPyConnection, start: date, end: date, tiers: list[str]
) -> dict[tuple[date, str], str]:
    """The current status of the newest capture of each (week, tier) in the range."""
    if not relation_exists(con, relations.CAPTURES_MART):
        return {}
    rows = con.execute(
        f"""
        select week_ending, tier, arg_max(status, captured_at)
        from {relations.CAPTURES_MART}
        where week_ending between ? and ? and list_contains(?, tier)
        group by week_ending, tier
        """,
        [start, end, tiers],
    ).fetchall()
    return {(week, tier): status for week, tier, status in rows}


def capture_rows(con: duckdb.DuckDBPyConnection, capture_ids: list[str]) -> list[tuple]:
    """Status and row counts of captures: (id, status, read, accepted, FINRA totals, rejected,
    detail)."""
    if not capture_ids or not relation_exists(con, relations.CAPTURES_MART):
        return []  # the build failed before it made the captures view
    return con.execute(
        f"""
        select capture_id, status, rows_read, rows_accepted, rows_finra_totals, rows_rejected,
            status_detail
        from {relations.CAPTURES_MART}
        where list_contains(?, capture_id)
        """,
        [capture_ids],
    ).fetchall()


# Public marts compared by `diff_captures`, with the columns that legitimately differ between
# two captures of the same file (ids and timestamps) left out.
VOLATILE_COLUMNS = {"capture_id", "captured_at", "run_id", "input_capture_ids", "source_file"}


def diff_captures(
    con: duckdb.DuckDBPyConnection, capture_a: str, capture_b: str, limit: int = 20
) -> list[tuple[str, str, tuple]]:
    """Mart rows of capture_a missing from capture_b and vice versa (ids and times excluded).

    Returns (table, "only in A" | "only in B", row) tuples, at most `limit` per table and side.
    """
    differences: list[tuple[str, str, tuple]] = []
    for table in relations.CAPTURE_KEYED_MARTS:
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [relations.MARTS_SCHEMA, table],
            ).fetchall()
            if row[0] not in VOLATILE_COLUMNS
        ]
        select = ", ".join(f'"{name}"' for name in columns)
        for label, first, second in (
            ("only in A", capture_a, capture_b),
            ("only in B", capture_b, capture_a),
        ):
            rows = con.execute(
                f"select {select} from {relations.in_marts(table)} where capture_id = ?"
                f" except all select {select} from {relations.in_marts(table)}"
                " where capture_id = ?"
                f" limit {int(limit)}",
                [first, second],
            ).fetchall()
            differences += [(table, label, row) for row in rows]
    return differences


def capture_exists(con: duckdb.DuckDBPyConnection, capture_ids: list[str]) -> list[str]:
    """The ids among `capture_ids` that raw.captures does not know."""
    known = {
        row[0]
        for row in con.execute(
            "select capture_id from raw.captures where list_contains(?, capture_id)", [capture_ids]
        ).fetchall()
    }
    return [capture_id for capture_id in capture_ids if capture_id not in known]


def run_captures(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Every capture of a run that is not rolled back yet."""
    return [
        row[0]
        for row in con.execute(
            f"select capture_id from {relations.CAPTURES_MART}"
            " where run_id = ? and status <> 'rolled_back' order by capture_id",
            [run_id],
        ).fetchall()
    ]


def dependent_captures(con: duckdb.DuckDBPyConnection, capture_ids: list[str]) -> list[str]:
    """Captures (not yet rolled back) whose 6-week windows read any of `capture_ids`,
    transitively: rolling those back too keeps every remaining window consistent.

    The CLI's preview of what the dbt macro `rollback_captures` rolls back with them: the
    macro runs the same query itself (so a hand-run `dbt run-operation` cascades alike), and
    tests/python/test_operations.py holds the two to the same set."""
    if not relation_exists(con, relations.CAPTURE_WINDOWS):
        return []
    chosen = set(capture_ids)
    frontier = list(capture_ids)
    while frontier:
        rows = con.execute(
            f"""
            select distinct w.capture_id
            from {relations.CAPTURE_WINDOWS} as w
            inner join {relations.CAPTURES_MART} as c on w.capture_id = c.capture_id
            where list_contains(?, w.input_capture_id) and c.status <> 'rolled_back'
            """,
            [frontier],
        ).fetchall()
        frontier = [row[0] for row in rows if row[0] not in chosen]
        chosen.update(frontier)
    return sorted(chosen - set(capture_ids))


@dataclass(frozen=True)
class Cell:
    """One (week, tier) of the completeness matrix."""

    state: str  # published | failed | missing | stale | loaded | incomplete
    captures: int
    latest: str | None
    detail: str = ""


def completeness(
    con: duckdb.DuckDBPyConnection, weeks: list[date], tiers: list[str]
) -> dict[tuple[date, str], Cell]:
    """Per (week, tier): published (with capture count), failed, loaded, stale or missing."""
    if not relation_exists(con, relations.CAPTURES_MART):
        return {(w, t): Cell("missing", 0, None) for w in weeks for t in tiers}
    counts = {
        (week, tier): (count, newest_status)
        for week, tier, count, newest_status in con.execute(
            f"""
            select week_ending, tier, count(*), arg_max(status, captured_at)
            from {relations.CAPTURES_MART}
            where list_contains(?, week_ending) and list_contains(?, tier)
            group by week_ending, tier
            """,
            [weeks, tiers],
        ).fetchall()
    }
    published = latest_published(con, min(weeks), max(weeks), tiers)
    cells: dict[tuple[date, str], Cell] = {}
    for week in weeks:
        for tier in tiers:
            count, newest = counts.get((week, tier), (0, None))
            latest = published.get((week, tier))
            if latest is None:
                state = newest if newest in ("failed", "loaded") else "missing"
                detail = "every capture rolled back" if newest == "rolled_back" else ""
                cells[(week, tier)] = Cell(state, count, None, detail)
                continue
            stale = stale_window_weeks(latest, published)
            state = "stale" if stale else "published"
            detail = f"window read an old {min(stale)}" if stale else ""
            cells[(week, tier)] = Cell(state, count, latest.capture_id, detail)
    latest_ids = [cell.latest for cell in cells.values() if cell.latest]
    for capture_id, marts in missing_mart_rows(con, latest_ids, min(weeks), max(weeks)).items():
        key = (date.fromisoformat(capture_id.split(":")[1]), capture_id.split(":")[0])
        cell = cells[key]
        detail = f"published, but no rows in {', '.join(marts)}"
        cells[key] = Cell("incomplete", cell.captures, cell.latest, detail)
    return cells


def missing_mart_rows(
    con: duckdb.DuckDBPyConnection, capture_ids: list[str], first: date, last: date
) -> dict[str, list[str]]:
    """Published ⇒ complete (DOMAIN.md §3), checked: capture id -> the served marts with no
    row for it, among `capture_ids` (weeks `first`..`last`) that have accepted rows."""
    if not capture_ids or not relation_exists(con, relations.CAPTURES_MART):
        return {}
    with_rows = [
        row[0]
        for row in con.execute(
            f"select capture_id from {relations.CAPTURES_MART}"
            " where list_contains(?, capture_id) and rows_accepted > 0",
            [capture_ids],
        ).fetchall()
    ]
    missing: dict[str, list[str]] = {}
    for mart in relations.SERVED_MARTS:
        if not relation_exists(con, relations.in_marts(mart)):
            continue
        present = {
            row[0]
            for row in con.execute(
                f"select distinct capture_id from {relations.in_marts(mart)}"
                " where week_ending between ? and ? and list_contains(?, capture_id)",
                [first, last, with_rows],
            ).fetchall()
        }
        for capture_id in with_rows:
            if capture_id not in present:
                missing.setdefault(capture_id, []).append(mart)
    return missing


def rows_as_dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """The rows of an executed query, each as a dict keyed by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def captures_of_week(
    con: duckdb.DuckDBPyConnection, week: date, tiers: list[str]
) -> list[dict[str, object]]:
    """Every capture of a week (and tiers), newest first, as dicts."""
    cursor = con.execute(
        f"""
        select capture_id, run_id, tier, week_source, status, status_at, rows_read,
               rows_accepted, rows_finra_totals, rows_rejected, source_file, file_sha256,
               calc_versions, captured_at, status_detail
        from {relations.CAPTURES_MART}
        where week_ending = ? and list_contains(?, tier)
        order by captured_at desc, capture_id desc
        """,
        [week, tiers],
    )
    return rows_as_dicts(cursor)


def test_results(con: duckdb.DuckDBPyConnection, run_id: str | None) -> list[dict[str, object]]:
    """Test outcomes of one run (default: the newest run that recorded any), worst first."""
    if run_id is None:
        newest = con.execute(
            "select run_id from raw.test_results where run_id is not null"
            " order by recorded_at desc limit 1"
        ).fetchone()
        if newest is None:
            return []
        run_id = newest[0]
    cursor = con.execute(
        """
        select run_id, test_name, model_name, severity, status, failures, failing_rows,
               recorded_at
        from raw.test_results
        where run_id = ?
        order by case status when 'fail' then 0 when 'error' then 1 when 'warn' then 2 else 3 end,
                 recorded_at desc, test_name
        """,
        [run_id],
    )
    return rows_as_dicts(cursor)


def rejects_by_code(con: duckdb.DuckDBPyConnection, capture_ids: list[str]) -> dict[str, int]:
    """Rejected rows of the given captures counted by primary reason code."""
    if not capture_ids or not relation_exists(con, relations.REJECTS_MART):
        return {}
    return dict(
        con.execute(
            f"select reason_code, count(*) from {relations.REJECTS_MART}"
            " where list_contains(?, capture_id) group by reason_code order by reason_code",
            [capture_ids],
        ).fetchall()
    )


# The capture statuses in lifecycle order (macros/capture_events.sql, capture_statuses()).
STATUSES = ("loaded", "published", "failed", "rolled_back")


def append_events(
    con: duckdb.DuckDBPyConnection,
    capture_ids: list[str],
    status: str,
    detail: str,
    at: datetime,
) -> None:
    """Append one `status` event per capture (the wrapper's side of the events log; dbt's is
    the macro `append_capture_events`). `at` is UTC; naive timestamps are stored."""
    if status not in STATUSES:
        raise ValueError(f"not a capture status: {status!r}")
    if capture_ids:
        con.execute(
            "insert into raw.capture_events (capture_id, run_id, status, event_at, detail)"
            " select capture_id, run_id, ?, ?, ? from raw.captures"
            " where list_contains(?, capture_id)",
            [status, at.replace(tzinfo=None), detail, capture_ids],
        )


def fail_orphans(con: duckdb.DuckDBPyConnection, now: datetime) -> list[str]:
    """Append a `failed` event to every capture whose current status is `loaded` (read from
    the model that defines it, stg_finra__captures; before dbt ever ran, from the loader's
    own events)."""
    if relation_exists(con, relations.CAPTURE_STATUS):
        query = f"select capture_id from {relations.CAPTURE_STATUS} where status = 'loaded'"
    else:
        query = (
            "select capture_id from raw.capture_events group by capture_id"
            " having arg_max(status, event_at) = 'loaded'"
        )
    orphans = sorted(row[0] for row in con.execute(query).fetchall())
    append_events(
        con,
        orphans,
        "failed",
        "orphaned: its run ended before dbt build published it; superseded by a new run",
        now,
    )
    return orphans


def file_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, str]]:
    """source file -> (size, mtime_ns, sha256) as of its newest capture: a file with the same
    size and mtime is not read again to plan (it loaded once, so it is readable UTF-8)."""
    has_stamps = con.execute(
        "select count(*) from information_schema.columns"
        " where table_schema = 'raw' and table_name = 'captures' and column_name = 'file_size'"
    ).fetchone()[0]
    if not has_stamps:  # a warehouse from before file stamps were recorded
        return {}
    rows = con.execute(
        """
        select source_file, arg_max(file_size, captured_at), arg_max(file_mtime_ns, captured_at),
               arg_max(file_sha256, captured_at)
        from raw.captures
        where file_size is not null
        group by source_file
        """
    ).fetchall()
    return {path: (size, mtime, sha) for path, size, mtime, sha in rows}
