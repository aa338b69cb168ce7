"""The one place that opens the warehouse: path, single-writer lock, raw tables."""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import engines

TARGETS = ("duckdb", "spark")


@dataclass(frozen=True)
class Target:
    """The dbt target the wrapper works on: `duckdb` (the file given by --db) or `spark` (a
    local session whose warehouse and metastore live in `spark_dir`)."""

    name: str = "duckdb"
    spark_dir: Path | None = None


_target = Target()


def use_target(name: str, spark_dir: Path | None = None) -> Target:
    """Select the target for this process (the CLI does, from --target / --spark-dir)."""
    global _target
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    if name == "spark" and spark_dir is None:
        raise ValueError("the spark target needs a --spark-dir")
    _target = Target(name, spark_dir.expanduser().resolve() if spark_dir else None)
    return _target


def current_target() -> Target:
    return _target


def exists(db_path: Path) -> bool:
    """Whether the warehouse has been created (the DuckDB file, or the Spark metastore)."""
    if _target.name == "spark":
        assert _target.spark_dir is not None
        return (_target.spark_dir / "metastore_db").exists()
    return db_path.exists()


def _lock_base(db_path: Path) -> Path:
    if _target.name == "spark":
        assert _target.spark_dir is not None
        return _target.spark_dir / "spark-warehouse"
    return db_path


RAW_DDL = (
    "create schema if not exists raw",
    """
    create table if not exists raw.finra_rows (
        capture_id varchar not null,
        line_number integer not null,
        raw_line varchar not null,
        field_count integer not null,
        tier_raw varchar,
        week_ending_raw varchar,
        last_update_date_raw varchar,
        symbol_raw varchar,
        issue_name varchar,
        venue_name varchar,
        mpid_raw varchar,
        shares_raw varchar,
        trades_raw varchar,
        capture_week_ending date,
        week_start_raw varchar,
        initial_published_date_raw varchar,
        summary_type_raw varchar,
        firm_crd_raw varchar
    )
    """,
    """
    create table if not exists raw.captures (
        capture_id varchar not null,
        run_id varchar not null,
        week_ending date not null,
        tier varchar not null,
        source_file varchar not null,
        file_sha256 varchar not null,
        layout varchar not null,
        expected_field_count integer not null,
        rows_read integer not null,
        calc_versions varchar not null,
        captured_at timestamp not null,
        file_size bigint,
        file_mtime_ns bigint,
        week_source varchar
    )
    """,
    # warehouses made before these columns existed
    "alter table raw.captures add column if not exists file_size bigint",
    "alter table raw.captures add column if not exists file_mtime_ns bigint",
    "alter table raw.finra_rows add column if not exists capture_week_ending date",
    *(
        f"alter table raw.finra_rows add column if not exists {column} varchar"
        for column in (
            "week_start_raw",
            "initial_published_date_raw",
            "summary_type_raw",
            "firm_crd_raw",
        )
    ),
    # null on captures loaded before it: they were placed by the previous-Friday rule
    "alter table raw.captures add column if not exists week_source varchar",
    """
    create table if not exists raw.capture_events (
        capture_id varchar not null,
        run_id varchar not null,
        status varchar not null,
        event_at timestamp not null,
        detail varchar
    )
    """,
    """
    create table if not exists raw.test_results (
        invocation_id varchar not null,
        run_id varchar,
        test_name varchar not null,
        model_name varchar,
        severity varchar,
        status varchar not null,
        failures bigint,
        message varchar,
        failing_rows varchar,
        recorded_at timestamp not null
    )
    """,
)


class WarehouseBusy(Exception):
    """Another spine-dbt process holds the database."""


@contextmanager
def locked(db_path: Path, wait: bool = False) -> Iterator[None]:
    """Hold the single-writer lock of `db_path` (a `<db>.lock` file beside it).

    Raises WarehouseBusy naming the holder's PID unless `wait` is set. On Spark the lock
    file is `<spark dir>/spark-warehouse.lock`, and the same error names the Spark dir.
    """
    db_path = _lock_base(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    with lock_path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not wait:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise WarehouseBusy(
                        f"database busy (held by PID {holder}): {db_path}; "
                        "wait for it to finish or pass --wait"
                    ) from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def connect(db_path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file (creating the raw tables when writable) and always close it.

    The connection must be closed before dbt runs: DuckDB allows one writer per file. On the
    spark target it is a DuckDB mirror of the Spark warehouse instead (engines.spark_mirror):
    the same SQL reads it, and rows appended to its raw tables go to Spark on close.
    """
    if _target.name == "spark":
        assert _target.spark_dir is not None
        with engines.spark_mirror(_target.spark_dir, RAW_DDL, read_only) as mirror:
            yield mirror
        return
    if read_only and not db_path.exists():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(db_path),
        read_only=read_only,
        config={
            # the same bound as profiles.yml gives dbt: spill to disk rather than grow
            "memory_limit": os.environ.get("SPINE_MEMORY_LIMIT", "1200MB"),
            "preserve_insertion_order": False,
        },
    )
    try:
        if not read_only:
            for statement in RAW_DDL:
                con.execute(statement)
        yield con
    finally:
        con.close()
