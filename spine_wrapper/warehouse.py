"""The one place that opens the warehouse: path, single-writer lock, raw tables.

Two locks guard a DuckDB warehouse: spine-dbt's own `<db>.lock` (one spine-dbt writer at a
time) and DuckDB's lock on the file itself, which any process may hold (a hand-run `dbt`, a
DuckDB session, a BI tool). Both end in WarehouseBusy; DuckDB's is retried for a while first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from . import engines, relations, resources

TARGETS = ("duckdb", "spark")


@dataclass(frozen=True)
class Warehouse:
    """The warehouse a command works on, passed from the CLI to every library call.

    `target` is the dbt target: `duckdb` (the file at `path`, from --db) or `spark`. On Spark,
    `thrift` says where the Spark Thrift server is (the `thrift` method: a cluster's SQL
    endpoint); without it, Spark is a local session whose warehouse and metastore live in
    `spark_dir` (the `session` method). `location` is the local path that identifies it:
    the DuckDB file, the Spark dir, or for a Thrift server a name under the Spark dir (only
    dbt's state goes there). Paths are absolute.
    """

    path: Path
    target: str = "duckdb"
    spark_dir: Path | None = None
    thrift: engines.ThriftServer | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; known: {', '.join(TARGETS)}")
        if self.target == "spark" and self.spark_dir is None:
            raise ValueError("the spark target needs a --spark-dir")
        if self.thrift is not None and self.target != "spark":
            raise ValueError("a Thrift server is a spark target's")
        object.__setattr__(self, "path", self.path.expanduser().resolve())
        if self.spark_dir is not None:
            object.__setattr__(self, "spark_dir", self.spark_dir.expanduser().resolve())

    @property
    def on_spark(self) -> bool:
        return self.target == "spark"

    @property
    def spark_method(self) -> str | None:
        """`session` or `thrift` on Spark (dbt-spark's connection method), else None."""
        if not self.on_spark:
            return None
        return "thrift" if self.thrift is not None else "session"

    @property
    def location(self) -> Path:
        """The DuckDB file, or on Spark the dir (whatever --db says); for a Thrift server,
        `<spark dir>/thrift_<host>_<port>`, where only dbt's state is kept."""
        if self.on_spark:
            assert self.spark_dir is not None
            if self.thrift is not None:
                name = f"thrift_{self.thrift.host}_{self.thrift.port}"
                return self.spark_dir / re.sub(r"[^A-Za-z0-9_-]", "_", name)
            return self.spark_dir
        return self.path

    def exists(self) -> bool:
        """Whether the warehouse has been created (the DuckDB file, the Spark metastore, or
        on a Thrift server its raw.captures table)."""
        if self.thrift is not None:
            assert self.spark_dir is not None
            with engines.endpoint(self.spark_dir, self.thrift) as spark:
                return spark.relation_exists("raw.captures")
        if self.on_spark:
            return (self.location / "metastore_db").exists()
        return self.path.exists()

    def __str__(self) -> str:
        return self.thrift.url if self.thrift is not None else str(self.location)


def _lock_base(warehouse: Warehouse) -> Path:
    return warehouse.location / "spark-warehouse" if warehouse.on_spark else warehouse.path


RAW_DDL = (
    "create schema if not exists raw",
    """
    create table if not exists raw.finra_rows (
        capture_id varchar not null,
        line_number integer not null,
        raw_line varchar,
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
        week_source varchar,
        delimiter varchar,
        field_order varchar
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
    # null raw_line: a line the capture's field_order rebuilds (load.field_order)
    "alter table raw.finra_rows alter column raw_line drop not null",
    "alter table raw.captures add column if not exists delimiter varchar",
    "alter table raw.captures add column if not exists field_order varchar",
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
    """Another process holds the database: a spine-dbt writer, or any holder of DuckDB's lock."""


class NotAWarehouse(Exception):
    """The --db path cannot be opened as a DuckDB database: another kind of file, a folder, a
    file of a newer DuckDB, or one this user may not open."""


LOCK_TIMEOUT_VARIABLE = "SPINE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds a command retries while another process holds the file
LOCK_POLL_SECONDS = 0.25
DUCKDB_LOCK_ERROR = "Could not set lock on file"
DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (?P<process>.+?) \(PID (?P<pid>\d+)\)")


def lock_timeout() -> float:
    """How long to retry while another process holds DuckDB's file lock: SPINE_LOCK_TIMEOUT
    seconds (default 30; 0 gives up at once). ValueError when it is not a number >= 0."""
    raw = os.environ.get(LOCK_TIMEOUT_VARIABLE, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also rejects nan
        raise ValueError(f"{LOCK_TIMEOUT_VARIABLE} must be a number of seconds >= 0, not {raw!r}")
    return seconds


def lock_holder(message: str) -> str | None:
    """Who holds the file, when `message` is DuckDB's lock conflict (else None): e.g.
    `/usr/bin/python3 PID 1234`, or `another process` when DuckDB does not say."""
    if DUCKDB_LOCK_ERROR not in message:
        return None
    found = DUCKDB_HOLDER.search(message)
    return f"{found['process']} PID {found['pid']}" if found else "another process"


@dataclass
class LockWait:
    """One operation's wait for DuckDB's file lock: a deadline `timeout` seconds after it
    started (None: no deadline, as with --wait), polled every LOCK_POLL_SECONDS."""

    db_path: Path
    timeout: float | None = field(default_factory=lock_timeout)
    started: float = field(default_factory=time.monotonic)

    def retry(self, holder: str) -> None:
        """Sleep one poll interval, or raise WarehouseBusy naming `holder` once time is up."""
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            raise WarehouseBusy(
                f"database busy (held by {holder}, per DuckDB): {self.db_path}; still held"
                f" after {self.timeout:g} s ({LOCK_TIMEOUT_VARIABLE}); wait for it to finish"
                " or pass --wait"
            )
        time.sleep(LOCK_POLL_SECONDS)

    def open(
        self, read_only: bool = False, config: dict[str, object] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """duckdb.connect, retried while another process holds the file."""
        while True:
            try:
                return duckdb.connect(str(self.db_path), read_only=read_only, config=config or {})
            except duckdb.IOException as exc:
                holder = lock_holder(str(exc))
                if holder is None:
                    raise
                self.retry(holder)

    def until_writable(self) -> None:
        """Return once this process could open the DuckDB file for writing (at once when the
        file does not exist yet)."""
        if self.db_path.exists():
            self.open().close()


@contextmanager
def locked(warehouse: Warehouse, wait: bool = False) -> Iterator[None]:
    """Hold the single-writer lock of `warehouse` (a `<db>.lock` file beside the DuckDB file).

    Raises WarehouseBusy naming the holder's PID unless `wait` is set. With `wait` it waits
    for that lock, then until no other process holds DuckDB's lock on the file either (a
    hand-run dbt, a DuckDB session). On Spark the lock file is
    `<spark dir>/spark-warehouse.lock`, and the same error names the Spark dir. On a Thrift
    server, which writers on other machines share, it is a lease kept in the warehouse
    (`_leased`).
    """
    if warehouse.thrift is not None:
        with _leased(warehouse, warehouse.thrift, wait):
            yield
        return
    db_path = _lock_base(warehouse)
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
            if wait and not warehouse.on_spark:
                LockWait(warehouse.path, timeout=None).until_writable()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


LEASE_POLL_SECONDS = 2.0


@contextmanager
def _leased(warehouse: Warehouse, server: engines.ThriftServer, wait: bool) -> Iterator[None]:
    """The writer lease of a Thrift server's warehouse (engines.try_acquire): held while the
    block runs, renewed in the background, released at the end. Another holder's unexpired
    lease raises WarehouseBusy naming it, or with `wait` is polled until it ends."""
    assert warehouse.spark_dir is not None
    holder = engines.lease_holder_name()
    while True:
        with engines.endpoint(warehouse.spark_dir, server) as spark:
            lease_id, other = engines.try_acquire(spark, holder)
        if lease_id is not None:
            break
        if not wait:
            held = (
                f"{other.holder} since {other.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until"
                f" {other.expires_at:%H:%M:%S}"
                if other is not None
                else "another writer"
            )
            raise WarehouseBusy(
                f"database busy (held by {held}): {warehouse}; wait for it to finish or pass --wait"
            )
        time.sleep(LEASE_POLL_SECONDS + random.random())
    try:
        with engines.renewing(server, warehouse.spark_dir, lease_id, holder):
            yield
    finally:
        try:
            with engines.endpoint(warehouse.spark_dir, server) as spark:
                engines.release(spark, lease_id, holder)
        except (engines.SparkUnavailable, engines.SparkQueryError):
            pass  # the server went away: the lease expires by itself (engines.LEASE_SECONDS)


def copy_models(
    warehouse: Warehouse,
    con: duckdb.DuckDBPyConnection,
    tables: Iterable[str],
    where: str,
    columns: str = "*",
) -> None:
    """On Spark, bring `columns` of the rows matching `where` (Spark SQL) of dbt's models
    `tables` into the mirror `con`, which connect() fills with the ledger's relations only
    (engines.copy_rows); on DuckDB `con` is the warehouse itself and holds them already."""
    if not warehouse.on_spark:
        return
    assert warehouse.spark_dir is not None
    with engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark:
        engines.copy_rows(con, spark, tables, where, columns)


def copy_capture_marts(
    warehouse: Warehouse, con: duckdb.DuckDBPyConnection, capture_ids: list[str]
) -> None:
    """On Spark, the capture-keyed marts' rows of `capture_ids` into the mirror `con` (what
    `verify` compares); nothing on DuckDB."""
    copy_models(
        warehouse,
        con,
        [relations.in_marts(mart) for mart in relations.CAPTURE_KEYED_MARTS],
        f"capture_id in {engines.in_list(capture_ids)}",
    )


def copy_mart_captures(
    warehouse: Warehouse, con: duckdb.DuckDBPyConnection, first: date, last: date
) -> None:
    """On Spark, which captures of weeks `first`..`last` each served mart has rows of, into
    the mirror `con` as tables of the marts' names (capture_id, week_ending): what
    ledger.missing_mart_rows reads to check published ⇒ complete. Nothing on DuckDB."""
    copy_models(
        warehouse,
        con,
        [relations.in_marts(mart) for mart in relations.SERVED_MARTS],
        f"week_ending between date '{first}' and date '{last}'",
        columns="distinct capture_id, week_ending",
    )


@contextmanager
def connect(warehouse: Warehouse, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the DuckDB file (creating the raw tables when writable) and always close it.

    The connection must be closed before dbt runs: DuckDB allows one writer per file. While
    another process holds the file (DuckDB's lock), it retries for SPINE_LOCK_TIMEOUT seconds,
    then raises WarehouseBusy naming the holder. On the spark target it is a DuckDB mirror of
    the Spark warehouse instead (engines.spark_mirror): the same SQL reads it, and rows
    appended to its raw tables go to Spark on close. A file DuckDB cannot open (another kind
    of file, a newer DuckDB's) raises NotAWarehouse; a missing one, read-only, FileNotFoundError.
    """
    if warehouse.on_spark:
        assert warehouse.spark_dir is not None
        with (
            engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark,
            engines.spark_mirror(spark, RAW_DDL, read_only, str(warehouse)) as mirror,
        ):
            yield mirror
        return
    db_path = warehouse.path
    if read_only and not db_path.exists():
        raise FileNotFoundError(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = LockWait(db_path).open(
            read_only=read_only,
            config={
                # the same bounds as dbt gets (dbt.dbt_environment): spill rather than grow
                **resources.duckdb_resources(os.environ).settings(),
                "preserve_insertion_order": False,
            },
        )
    except (duckdb.IOException, duckdb.CatalogException) as exc:  # its lock: WarehouseBusy
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotAWarehouse(f"cannot open {db_path} as a DuckDB warehouse: {reason}") from exc
    try:
        if not read_only:
            for statement in RAW_DDL:
                con.execute(statement)
        yield con
    finally:
        con.close()
