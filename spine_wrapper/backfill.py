"""The data path, top-down: plan -> load -> dbt build -> publication result."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from . import dbt, ledger, relations, resources
from .discover import SourceFile, discover
from .formats import PUBLICATION_DELAY
from .load import (
    Capture,
    capture_id_for,
    file_digest,
    file_stamp,
    load_captures,
    new_run_stamp,
)
from .progress import Progress
from .warehouse import Warehouse, connect, copy_mart_captures
from .weeks import fridays

WINDOW_DAYS = 35  # a 6-week window reaches 5 Fridays back

NEW = "new"
REVISED = "revised"
STALE = "stale"
UP_TO_DATE = "up to date"
MISSING = "missing file"
FAILED_EARLIER = "failed earlier"
FILE_ERROR = "file error"
TO_LOAD = (NEW, REVISED, STALE, FAILED_EARLIER)
CHUNK_WEEKS = 156  # longer ranges are built three years at a time, oldest first


@dataclass
class Partition:
    """One (week, tier) of a backfill: what the plan decided and, later, what happened."""

    week_ending: date
    tier: str
    action: str
    source: SourceFile | None = None
    detail: str = ""
    capture_id: str | None = None
    status: str | None = None
    rows_read: int | None = None
    rows_accepted: int | None = None
    rows_finra_totals: int | None = None
    rows_rejected: int | None = None
    file_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "published" or self.action == UP_TO_DATE


@dataclass
class BackfillResult:
    """A backfill's partitions, the dbt nodes that failed or warned, files that were skipped."""

    run_id: str | None
    partitions: list[Partition]
    failed_nodes: list[dbt.NodeResult] = field(default_factory=list)
    warned_nodes: list[dbt.NodeResult] = field(default_factory=list)
    skipped_files: list[SourceFile] = field(default_factory=list)
    dbt_error: str | None = None  # why the run stopped: dbt's exception, or the loader's
    rejects_by_code: dict[str, int] = field(default_factory=dict)
    failing_rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    orphans: list[str] = field(default_factory=list)
    # wall seconds per stage: plan (discover and identify the files), load, build (every
    # `dbt build` of the run, publication included)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.partitions) and self.dbt_error is None

    @property
    def out_of_memory(self) -> bool:
        """Whether DuckDB ran out of memory, in the loader or in a dbt node."""
        messages = [self.dbt_error, *(node.message for node in self.failed_nodes)]
        return any(resources.is_out_of_memory(message) for message in messages)


def plan(
    warehouse: Warehouse,
    start: date,
    end: date,
    tiers: list[str],
    source_dir: Path,
    calc_versions: dict[str, str],
    force: bool = False,
    week_rule: str = PUBLICATION_DELAY,
) -> tuple[list[Partition], list[SourceFile]]:
    """Decide per (week, tier) what a backfill would do. Writes nothing.

    Files whose size and mtime are those recorded when they were loaded are not read again
    (their SHA-256 is known), so planning a long history stays fast.
    """
    published: dict[tuple[date, str], ledger.PublishedCapture] = {}
    statuses: dict[tuple[date, str], str] = {}
    fingerprints: dict[str, tuple[int, int, str]] = {}
    incomplete: dict[str, list[str]] = {}
    if warehouse.exists():
        with connect(warehouse, read_only=True) as con:
            published = ledger.latest_published(con, start, end, tiers)
            statuses = ledger.newest_status(con, start, end, tiers)
            fingerprints = ledger.file_fingerprints(con)
            ids = [latest.capture_id for latest in published.values()]
            if ids:
                copy_mart_captures(warehouse, con, start, end)
                incomplete = ledger.missing_mart_rows(con, ids, start, end)

    def known_digest(path: Path) -> str | None:
        known = fingerprints.get(str(path))
        return known[2] if known is not None and known[:2] == file_stamp(path) else None

    files = discover(
        source_dir,
        already_verified=lambda path: known_digest(path) is not None,
        week_rule=week_rule,
        warehouse=None if warehouse.on_spark else warehouse.path,
        workers=resources.duckdb_resources(os.environ).threads,
    )
    by_partition: dict[tuple[date, str], list[SourceFile]] = {}
    skipped: list[SourceFile] = []
    for found in files:
        if found.identified:
            by_partition.setdefault((found.week_ending, found.tier), []).append(found)
        else:
            skipped.append(found)
    partitions: list[Partition] = []
    reloading: dict[str, list[date]] = {tier: [] for tier in tiers}
    for week in fridays(start, end):
        for tier in tiers:
            partition = _decide(
                week,
                tier,
                by_partition.get((week, tier), []),
                published,
                statuses,
                calc_versions,
                force,
                reloading[tier],
                known_digest,
                incomplete,
            )
            if partition.action in TO_LOAD:
                reloading[tier].append(week)
            partitions.append(partition)
    _blame_unplaced_files(partitions, skipped)
    return partitions, skipped


def _blame_unplaced_files(partitions: list[Partition], skipped: list[SourceFile]) -> None:
    """A partition with no file, where a skipped file's week could be read but not its tier,
    is a `file error` naming that file rather than a `missing file`: the file is probably its
    own, and needs fixing rather than downloading."""
    for found in skipped:
        if found.week_ending is None or found.tier is not None:
            continue
        for p in partitions:
            if p.week_ending == found.week_ending and p.action == MISSING:
                p.action = FILE_ERROR
                p.detail = f"{found.path} {found.error} (its week is this one, its tier unknown)"


def _decide(
    week: date,
    tier: str,
    candidates: list[SourceFile],
    published: dict[tuple[date, str], ledger.PublishedCapture],
    statuses: dict[tuple[date, str], str],
    calc_versions: dict[str, str],
    force: bool,
    reloading: list[date],
    known_digest: Callable[[Path], str | None],
    incomplete: dict[str, list[str]],
) -> Partition:
    if not candidates:
        return Partition(week, tier, MISSING, detail="no file for this week and tier")
    if len(candidates) > 1:
        names = ", ".join(str(c.path) for c in candidates)
        return Partition(week, tier, FILE_ERROR, detail=f"two or more files for it: {names}")
    source = candidates[0]
    if source.error:
        return Partition(week, tier, FILE_ERROR, source, detail=f"{source.path} {source.error}")
    latest = published.get((week, tier))
    if latest is None:
        failed = statuses.get((week, tier)) == "failed"
        return Partition(week, tier, FAILED_EARLIER if failed else NEW, source)
    if force:
        return Partition(week, tier, NEW, source, detail="--force")
    if latest.capture_id in incomplete:
        missing = ", ".join(incomplete[latest.capture_id])
        return Partition(week, tier, REVISED, source, detail=f"latest has no rows in {missing}")
    sha = known_digest(source.path) or _digest(source)
    if sha != latest.file_sha256:
        return Partition(
            week,
            tier,
            REVISED,
            source,
            detail="file changed since its latest capture",
            file_sha256=sha,
        )
    if latest.calc_versions != calc_versions:
        return Partition(week, tier, REVISED, source, detail="calc versions changed")
    earlier = [w for w in reloading if week - timedelta(days=WINDOW_DAYS) <= w < week]
    if earlier:
        return Partition(week, tier, STALE, source, detail=f"window includes reloaded {earlier[0]}")
    stale = ledger.stale_window_weeks(latest, published)
    if stale:
        return Partition(week, tier, STALE, source, detail=f"window read an old {stale[0]}")
    return Partition(week, tier, UP_TO_DATE, source, capture_id=latest.capture_id)


def _digest(source: SourceFile) -> str:
    """The file's SHA-256: the one taken while discovery read it, if the file is unchanged."""
    if source.sha256 and source.stamp == file_stamp(source.path):
        return source.sha256
    return file_digest(source.path)


def load(
    warehouse: Warehouse,
    partitions: list[Partition],
    calc_versions: dict[str, str],
    now: datetime | None = None,
) -> str | None:
    """Load every partition the plan marked to load under one run; returns the run id.

    `now` fixes the run's stamp, so that the chunks of one backfill share one run id.
    """
    chosen = [p for p in partitions if p.action in TO_LOAD]
    if not chosen:
        return None
    now = now or datetime.now(UTC)
    stamp = new_run_stamp(now)
    run_id = f"run_{stamp}"
    captures = []
    for p in chosen:
        assert p.source is not None
        p.capture_id = capture_id_for(p.tier, p.week_ending.isoformat(), stamp)
        size_mtime = file_stamp(p.source.path)
        sha = p.file_sha256 or _digest(p.source)
        captures.append(Capture(p.capture_id, run_id, p.source, sha, size_mtime))
    with connect(warehouse) as con:
        loaded = load_captures(con, captures, calc_versions, now.replace(tzinfo=None))
    for p in chosen:
        outcome = loaded[p.capture_id or ""]
        p.rows_read = outcome.rows_read
        p.status = "failed" if outcome.error else "loaded"
        p.detail = outcome.error or p.detail
    return run_id


def build(
    warehouse: Warehouse,
    run_id: str,
    start: date,
    end: date,
    tiers: list[str],
    calc_versions: dict[str, str],
    on_event: Callable[[object], None] | None = None,
) -> dbt.DbtOutcome:
    """One `dbt build` over every capture of the run (set-based, all weeks at once)."""
    dbt_vars = {
        "run_id": run_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "tiers": tiers,
        "calc_versions": calc_versions,
    }
    # Unit tests check the SQL, not the data: the test suite runs them, not every backfill.
    # Exposures are no-op nodes (documentation of the data's consumers). On Spark the report's
    # views (untested there) are created by the first `spine-dbt report`, not by every build:
    # views follow the data without one, and each node costs Spark seconds.
    excluded = ["--exclude-resource-type", "unit_test", "--exclude-resource-type", "exposure"]
    if warehouse.on_spark:
        excluded += ["--exclude", relations.REPORT_MODELS_SELECTOR]
    return dbt.invoke("build", warehouse, dbt_vars, on_event=on_event, extra_args=excluded)


def collect(warehouse: Warehouse, result: BackfillResult) -> None:
    """Read back each loaded partition's status and row counts from the captures model."""
    partitions = result.partitions
    ids = [p.capture_id for p in partitions if p.capture_id and p.action in TO_LOAD]
    with connect(warehouse, read_only=True) as con:
        rows = {row[0]: row for row in ledger.capture_rows(con, ids)}
        result.rejects_by_code = ledger.rejects_by_code(con, ids)
        if result.failed_nodes and result.run_id:
            result.failing_rows = {
                str(r["test_name"]): json.loads(str(r["failing_rows"]))
                for r in ledger.test_results(con, result.run_id)
                if r["status"] == "fail" and r["failing_rows"]
            }
    for p in partitions:
        row = rows.get(p.capture_id or "")
        if row and p.action in TO_LOAD:
            _, p.status, p.rows_read, p.rows_accepted, p.rows_finra_totals, p.rows_rejected = row[
                :6
            ]
            detail = row[6]
            if p.status == "failed":
                p.detail = detail or ""


def backfill(
    warehouse: Warehouse,
    start: date,
    end: date,
    tiers: list[str],
    source_dir: Path,
    calc_versions: dict[str, str],
    force: bool = False,
    retry_failed: bool = False,
    progress: Progress | None = None,
    chunk_weeks: int = CHUNK_WEEKS,
    week_rule: str = PUBLICATION_DELAY,
) -> BackfillResult:
    """Plan, load the partitions that need it under one run, build them, report the outcome.

    Captures left `loaded` by an interrupted earlier run are marked failed first (their run
    can never publish them), so re-running the same command completes the range. Long
    ranges are cut into chunks of `chunk_weeks` weeks, each loaded and built in turn, oldest
    first (later windows read the chunks before them); a chunk that fails stops the run.
    """
    say = progress.stage if progress else (lambda message: None)
    cleaned = clean_orphans(warehouse)
    say(f"planning {start}..{end} {', '.join(tiers)} from {source_dir}")
    started = time.monotonic()
    partitions, skipped = plan(
        warehouse, start, end, tiers, source_dir, calc_versions, force, week_rule
    )
    planned = time.monotonic() - started
    if retry_failed:
        for p in partitions:
            if p.action in TO_LOAD and p.action != FAILED_EARLIER:
                p.action, p.detail = "not retried", "--retry-failed only re-attempts failed weeks"
    result = BackfillResult(None, partitions, skipped_files=skipped, orphans=cleaned)
    result.timings = {"plan": round(planned, 3), "load": 0.0, "build": 0.0}
    now = datetime.now(UTC)
    weeks = fridays(start, end)
    for first in range(0, len(weeks), chunk_weeks):
        chunk_weeks_list = weeks[first : first + chunk_weeks]
        chunk = [p for p in partitions if p.week_ending in chunk_weeks_list]
        to_load = sum(1 for p in chunk if p.action in TO_LOAD)
        if to_load:
            say(f"loading {to_load} files for {chunk_weeks_list[0]}..{chunk_weeks_list[-1]}")
        try:
            started = time.monotonic()
            run_id = load(warehouse, chunk, calc_versions, now)
            result.timings["load"] = round(result.timings["load"] + time.monotonic() - started, 3)
            if run_id is None:
                continue
            result.run_id = run_id
            started = time.monotonic()
            build_chunk(
                warehouse, result, chunk, run_id, chunk_weeks_list, tiers, calc_versions, progress
            )
            result.timings["build"] = round(result.timings["build"] + time.monotonic() - started, 3)
        except duckdb.OutOfMemoryException as exc:  # the loader's (dbt's is a node error)
            result.dbt_error = f"out of memory: {str(exc).splitlines()[0]}"
            _fail_chunk(warehouse, chunk, result)
        if result.out_of_memory:
            say(resources.out_of_memory_hint(resources.duckdb_resources(os.environ)))
        published = sorted({str(p.week_ending) for p in chunk if p.status == "published"})
        say(
            f"published {len(published)} weeks" + (f": {', '.join(published)}" if published else "")
        )
        if not all(p.status == "published" for p in chunk if p.action in TO_LOAD):
            for later in partitions:
                if later.week_ending > chunk_weeks_list[-1] and later.action in TO_LOAD:
                    later.action = "not attempted"
                    later.detail = "an earlier chunk of weeks did not publish"
            break
    return result


def build_chunk(
    warehouse: Warehouse,
    result: BackfillResult,
    chunk: list[Partition],
    run_id: str,
    weeks: list[date],
    tiers: list[str],
    calc_versions: dict[str, str],
    progress: Progress | None = None,
) -> None:
    """Build a loaded chunk until every capture is decided: dbt fails the captures whose tests
    failed and skips the rest after them, so the rest is built again while that makes
    progress; what is still `loaded` at the end is failed (a run never leaves one behind)."""
    say = progress.stage if progress else (lambda message: None)
    waiting = [p for p in chunk if p.status == "loaded"]  # else every file failed to load
    while waiting:
        say(f"dbt build of {len(waiting)} captures (run {run_id})")
        outcome = build(
            warehouse,
            run_id,
            weeks[0],
            weeks[-1],
            tiers,
            calc_versions,
            progress.on_event if progress else None,
        )
        result.failed_nodes += outcome.failed
        result.warned_nodes += outcome.warned
        if outcome.exception:
            result.dbt_error = outcome.exception
        collect(warehouse, result)
        still = [p for p in chunk if p.status == "loaded"]
        if outcome.exception or len(still) in (0, len(waiting)):
            break
        waiting = still
    unfinished = [p.capture_id for p in chunk if p.status == "loaded" and p.capture_id]
    if unfinished:
        fail_unfinished(warehouse, unfinished, result.dbt_error)
        collect(warehouse, result)


def _fail_chunk(warehouse: Warehouse, chunk: list[Partition], result: BackfillResult) -> None:
    """After the loader ran out of memory: its transaction left nothing behind, or, when the
    chunk was loaded, its captures still `loaded` are failed. Every partition it was to load
    ends failed, saying why."""
    loaded = [p.capture_id for p in chunk if p.status == "loaded" and p.capture_id]
    if loaded:
        fail_unfinished(warehouse, loaded, result.dbt_error)
    for p in chunk:
        if p.action in TO_LOAD and p.status != "published":
            p.status, p.detail = "failed", result.dbt_error or "out of memory"


def fail_unfinished(warehouse: Warehouse, capture_ids: list[str], dbt_error: str | None) -> None:
    """Give the captures a run could not finish (dbt stopped before deciding them) a `failed`
    event, so that none is left `loaded`."""
    reason = (dbt_error or "dbt build ended without publishing it").splitlines()[0][:300]
    with connect(warehouse) as con:
        ledger.append_events(
            con, capture_ids, "failed", f"not published: {reason}", datetime.now(UTC)
        )


def clean_orphans(warehouse: Warehouse) -> list[str]:
    """Mark failed every capture still `loaded` whose run was interrupted (the caller holds the
    warehouse lock, so no run of ours is in progress). Returns their ids."""
    if not warehouse.exists():
        return []
    with connect(warehouse) as con:
        return ledger.fail_orphans(con, datetime.now(UTC).replace(tzinfo=None))


def rollback(warehouse: Warehouse, capture_ids: list[str], detail: str) -> dbt.DbtOutcome:
    """Roll back `capture_ids` and the later captures whose windows read them (the dbt macro
    `rollback_captures` finds those, as it does when run by hand), removing their rows from
    every capture-keyed model in one transaction; then take a capture-history snapshot so the
    change is recorded now."""
    outcome = dbt.invoke(
        "run-operation rollback_captures",
        warehouse,
        extra_args=["--args", json.dumps({"capture_ids": capture_ids, "detail": detail})],
    )
    if not outcome.success or warehouse.on_spark:
        return outcome  # no snapshot on Spark (dbt_project.yml): the events log records it
    # The snapshot reads the view int_captures_latest: replace it first, so that a warehouse
    # last built by an earlier release is snapshotted with today's columns (`latest_since`).
    refreshed = dbt.invoke("run", warehouse, extra_args=["--select", "int_captures_latest"])
    if not refreshed.success:
        return refreshed
    return dbt.invoke("snapshot", warehouse)
