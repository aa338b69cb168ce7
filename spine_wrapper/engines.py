"""The engine-specific part of the warehouse: where the raw tables live on each target.

DuckDB (the default) is the warehouse itself. On Spark, the wrapper keeps speaking DuckDB SQL
to a small in-memory DuckDB *mirror*: the relations the ledger reads are copied into it from
Spark (through Arrow), the loader parses files into it exactly as on DuckDB, and whatever the
wrapper appended to its raw tables is handed back to Spark as Parquet landing files when the
connection closes. Every raw table is append-only (DOMAIN.md §3), so "what was appended" is
simply the rows past the ones copied in.

Spark is reached through an *endpoint*, one of two:
- `session` (SessionEndpoint): an in-process local pyspark session. dbt-spark's `session`
  method calls `SparkSession.builder.getOrCreate()`, so the loader and the in-process dbt share
  one session and one metastore.
- `thrift` (ThriftEndpoint): a Spark Thrift server (HiveServer2 protocol, e.g. a cluster's SQL
  endpoint), over a PyHive connection, as dbt-spark's `thrift` method talks to it. Only SQL
  crosses it: no pyspark session, no metastore client in this process. Landing files go to a
  folder every executor reads (ThriftServer.landing) and are inserted with
  `insert into raw.x select ... from parquet.`<file>``.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from . import relations
from .paths import PROJECT_DIR

# Spark DDL of the raw tables (the same columns as warehouse.RAW_DDL). Plain Parquet; the rows
# are partitioned by capture_id like every capture-keyed model.
SPARK_RAW_DDL = (
    "create database if not exists raw",
    """
    create table if not exists raw.finra_rows (
        capture_id string, line_number int, raw_line string, field_count int,
        tier_raw string, week_ending_raw string, last_update_date_raw string, symbol_raw string,
        issue_name string, venue_name string, mpid_raw string, shares_raw string,
        trades_raw string, capture_week_ending date, week_start_raw string,
        initial_published_date_raw string, summary_type_raw string, firm_crd_raw string
    ) using parquet partitioned by (capture_id)
    """,
    """
    create table if not exists raw.captures (
        capture_id string, run_id string, week_ending date, tier string, source_file string,
        file_sha256 string, layout string, expected_field_count int, rows_read int,
        calc_versions string, captured_at timestamp, file_size bigint, file_mtime_ns bigint,
        week_source string, delimiter string, field_order string
    ) using parquet
    """,
    """
    create table if not exists raw.capture_events (
        capture_id string, run_id string, status string, event_at timestamp, detail string
    ) using parquet
    """,
    """
    create table if not exists raw.test_results (
        invocation_id string, run_id string, test_name string, model_name string,
        severity string, status string, failures bigint, message string, failing_rows string,
        recorded_at timestamp
    ) using parquet
    """,
)

# Columns added to SPARK_RAW_DDL's tables after Spark warehouses existed: ensure_raw_tables
# adds them to a warehouse that lacks them (table -> column definitions, in DDL order).
SPARK_ADDED_COLUMNS = {"captures": ("delimiter string", "field_order string")}

# Raw tables copied whole into the mirror (small: one row per capture, event or test), and
# the one that starts empty there (the rows of earlier captures are never read back).
MIRRORED_RAW = ("captures", "capture_events", "test_results")
APPENDED_RAW = ("finra_rows", "captures", "capture_events", "test_results")  # rows before events
# dbt relations the ledger queries, copied when they exist.
LEDGER_RELATIONS = (
    relations.LATEST_CAPTURES,
    relations.CAPTURE_WINDOWS,
    relations.CAPTURES_MART,
    relations.REJECTS_MART,
)

SPARK_METHODS = ("session", "thrift")


class SparkUnavailable(Exception):
    """Spark cannot be reached: pyspark, Java or PyHive is missing, the Thrift server does not
    answer, or it cannot read what the wrapper hands it."""


@dataclass(frozen=True)
class ThriftServer:
    """A Spark Thrift server (the `thrift` method): where it listens, whom to connect as, and
    the landing folder: a path this machine writes and every Spark executor reads (a shared
    mount), through which new raw rows reach the cluster. None only for readers."""

    host: str
    port: int = 10000
    user: str | None = None
    landing: Path | None = None

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ValueError("the Thrift server's host is empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port (1-65535)")
        if self.landing is not None:
            object.__setattr__(self, "landing", self.landing.expanduser().resolve())

    @property
    def url(self) -> str:
        return f"thrift://{self.host}:{self.port}"


def spark_unavailable_reason() -> str | None:
    """Why a local Spark session cannot start here, or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install -e '.[spark]'"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime: install one (e.g. apt-get install default-jre-headless)"
    return None


def thrift_unavailable_reason() -> str | None:
    """Why this process cannot talk to a Thrift server, or None when it can (PyHive)."""
    try:
        from pyhive import hive  # noqa: F401
    except ImportError:
        return "PyHive is not installed: pip install -e '.[spark]'"
    return None


# Keys of the profile's server_side_parameters that a Thrift server applies to a new session
# (HiveServer2's `set:hiveconf:<key>`); the plain keys are the local session's (a Thrift server
# ignores them silently: its static settings are its own).
THRIFT_SETTING_PREFIX = "set:hiveconf:"


def profile_settings(spark_dir: Path) -> dict[str, str]:
    """The server_side_parameters of the `spark` target in profiles.yml, rendered for
    `spark_dir`: one place for the settings of the wrapper's Spark and of dbt's."""
    import jinja2
    import yaml

    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())
    settings = profile["spine_dbt"]["outputs"]["spark"].get("server_side_parameters", {})
    env = {**os.environ, "SPINE_SPARK_DIR": str(spark_dir)}

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"environment variable {name} is not set")
        return default

    jinja = jinja2.Environment()
    return {
        key: jinja.from_string(str(value)).render(env_var=env_var)
        for key, value in settings.items()
    }


def session_settings(spark_dir: Path) -> dict[str, str]:
    """The Spark settings of a local session in `spark_dir` (profiles.yml), so that the
    wrapper's session and a hand-run `dbt` use the same warehouse directory and metastore."""
    return {
        key: value
        for key, value in profile_settings(spark_dir).items()
        if not key.startswith(THRIFT_SETTING_PREFIX)
    }


def thrift_settings(spark_dir: Path) -> dict[str, str]:
    """The session settings (`set:hiveconf:` keys of profiles.yml) the wrapper's Thrift
    connections open with, as dbt's do: UTC, no ANSI mode, dynamic partition overwrite."""
    return {
        key: value
        for key, value in profile_settings(spark_dir).items()
        if key.startswith(THRIFT_SETTING_PREFIX)
    }


WAREHOUSE_DIR_SETTING = "spark.sql.warehouse.dir"


def spark_session(spark_dir: Path) -> Any:
    """The process's Spark session, with its warehouse and metastore under `spark_dir`.

    One per process (a JVM holds one Derby metastore): when a session is already running on
    another dir (Spark's own record of it, its warehouse dir), that is an error.
    """
    reason = spark_unavailable_reason()
    if reason:
        raise SparkUnavailable(reason)
    from pyspark.sql import SparkSession

    settings = session_settings(spark_dir)
    active = SparkSession.getActiveSession()
    if active is not None:
        running = active.conf.get(WAREHOUSE_DIR_SETTING)
        if _local_dir(running) != _local_dir(settings[WAREHOUSE_DIR_SETTING]):
            raise RuntimeError(
                f"this process already runs Spark on {running}; one --spark-dir per process"
            )
        return active
    spark_dir.mkdir(parents=True, exist_ok=True)
    (spark_dir / "tmp").mkdir(exist_ok=True)
    builder = SparkSession.builder.master(os.environ.get("SPINE_SPARK_MASTER", "local[2]"))
    builder = builder.appName("spine-dbt")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _local_dir(setting: str | None) -> Path | None:
    """A warehouse-dir setting as a local path (Spark may report it as a `file:` URL)."""
    if not setting:
        return None
    return Path(setting.removeprefix("file:").removeprefix("//")).resolve()


# ---------------------------------------------------------------- endpoints


class Endpoint(Protocol):
    """What the wrapper needs of Spark: run a statement, read a query as Arrow, look up a
    relation and a table's columns, append a Parquet file (written in `landing`) to a table."""

    landing: Path | None

    def sql(self, statement: str) -> None: ...

    def to_arrow(self, query: str) -> Any: ...

    def relation_exists(self, name: str) -> bool: ...

    def table_columns(self, name: str) -> list[str]: ...

    def append_parquet(self, table: str, path: Path) -> None: ...


def _naive_utc(table: Any) -> Any:
    """Timestamps as naive UTC, like DuckDB's."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(index).cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
            table = table.set_column(index, pa.field(field.name, pa.timestamp("us")), naive)
    return table


class SessionEndpoint:
    """An in-process pyspark session (the `session` method)."""

    def __init__(self, spark: Any, landing: Path) -> None:
        self.spark = spark
        self.landing: Path | None = landing

    def sql(self, statement: str) -> None:
        self.spark.sql(statement)

    def to_arrow(self, query: str) -> Any:
        return _naive_utc(self.spark.sql(query).toArrow())

    def relation_exists(self, name: str) -> bool:
        schema, table = name.split(".")
        return bool(self.spark.catalog.databaseExists(schema)) and bool(
            self.spark.catalog.tableExists(f"{schema}.{table}")
        )

    def table_columns(self, name: str) -> list[str]:
        return list(self.spark.table(name).columns)

    def append_parquet(self, table: str, path: Path) -> None:
        columns = self.table_columns(table)  # partition column last
        self.spark.read.parquet(str(path)).select(*columns).write.insertInto(table)


class ThriftEndpoint:
    """A Spark Thrift server over one PyHive connection (the `thrift` method)."""

    FETCH_ROWS = 10_000  # rows per round trip

    def __init__(self, connection: Any, server: ThriftServer) -> None:
        self.connection = connection
        self.server = server
        self.landing: Path | None = server.landing

    def _execute(self, statement: str) -> Any:
        cursor = self.connection.cursor(arraysize=self.FETCH_ROWS)
        try:
            cursor.execute(statement)
        except Exception as exc:
            cursor.close()
            raise SparkQueryError(statement, _server_message(exc)) from None
        return cursor

    def sql(self, statement: str) -> None:
        self._execute(statement).close()

    def rows(self, query: str) -> list[tuple]:
        cursor = self._execute(query)
        try:
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def to_arrow(self, query: str) -> Any:
        """The result as an Arrow table typed from the server's result schema (decimals with
        their precision and scale; dates, which the protocol sends as text, as dates)."""
        import pyarrow as pa

        cursor = self._execute(query)
        try:
            schema = _result_schema(cursor)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        arrays = [
            pa.array(_python_values(values, kind), type=kind)
            for values, (_, kind) in zip(columns, schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=pa.schema(schema))

    def relation_exists(self, name: str) -> bool:
        schema, table = name.split(".")
        if not self.rows(f"show databases like '{schema}'"):
            return False
        return bool(self.rows(f"show tables in {schema} like '{table}'"))

    def table_columns(self, name: str) -> list[str]:
        cursor = self._execute(f"select * from {name} limit 0")
        try:
            return [column[0].split(".")[-1] for column in cursor.description]
        finally:
            cursor.close()

    def append_parquet(self, table: str, path: Path) -> None:
        columns = ", ".join(f"`{c}`" for c in self.table_columns(table))  # partition column last
        try:
            self.sql(f"insert into {table} select {columns} from parquet.`{path}`")
        except SparkQueryError as exc:
            if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                raise SparkUnavailable(
                    f"the Spark cluster at {self.server.url} cannot read the landing file"
                    f" {path}: SPINE_SPARK_LANDING ({self.landing}) must be a folder every"
                    " Spark executor reads (a shared mount)"
                ) from None
            raise


class SparkQueryError(Exception):
    """A statement the Thrift server refused or failed, with the server's own message."""

    def __init__(self, statement: str, message: str) -> None:
        head = " ".join(statement.split())[:200]
        super().__init__(f"Spark failed {head!r}: {message}")


def _server_message(exc: Exception) -> str:
    """The server's error message from a PyHive OperationalError (its TStatus), else str()."""
    for arg in getattr(exc, "args", ()):
        status = getattr(arg, "status", None)
        if status is not None and getattr(status, "errorMessage", None):
            return str(status.errorMessage).strip().splitlines()[0]
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _result_schema(cursor: Any) -> list[tuple[str, Any]]:
    """(name, Arrow type) of each column of the cursor's result, from the server's result-set
    metadata (the call PyHive's `description` makes, whose type qualifiers it drops)."""
    from TCLIService import ttypes

    request = ttypes.TGetResultSetMetadataReq(cursor._operationHandle)
    response = cursor._connection.client.GetResultSetMetadata(request)
    return [
        (column.columnName.split(".")[-1], _arrow_type(column.typeDesc.types[0]))
        for column in response.schema.columns
    ]


def _arrow_type(entry: Any) -> Any:
    import pyarrow as pa
    from TCLIService.ttypes import TTypeId

    primitive = entry.primitiveEntry
    if primitive is None:  # arrays, maps, structs: the protocol sends them as JSON text
        return pa.string()
    kind = primitive.type
    if kind == TTypeId.DECIMAL_TYPE:
        qualifiers = (primitive.typeQualifiers.qualifiers or {}) if primitive.typeQualifiers else {}
        precision = getattr(qualifiers.get("precision"), "i32Value", None) or 38
        scale = getattr(qualifiers.get("scale"), "i32Value", None) or 0
        return pa.decimal128(precision, scale)
    simple = {
        TTypeId.BOOLEAN_TYPE: pa.bool_(),
        TTypeId.TINYINT_TYPE: pa.int8(),
        TTypeId.SMALLINT_TYPE: pa.int16(),
        TTypeId.INT_TYPE: pa.int32(),
        TTypeId.BIGINT_TYPE: pa.int64(),
        TTypeId.FLOAT_TYPE: pa.float32(),
        TTypeId.DOUBLE_TYPE: pa.float64(),
        TTypeId.TIMESTAMP_TYPE: pa.timestamp("us"),  # the session's time zone: UTC
        TTypeId.BINARY_TYPE: pa.binary(),
        TTypeId.DATE_TYPE: pa.date32(),
        TTypeId.NULL_TYPE: pa.null(),
    }
    return simple.get(kind, pa.string())


def _python_values(values: tuple, kind: Any) -> list:
    """PyHive's values as Arrow takes them: dates arrive as ISO text."""
    import pyarrow as pa

    if pa.types.is_date32(kind):
        return [date.fromisoformat(v) if isinstance(v, str) else v for v in values]
    if pa.types.is_timestamp(kind):
        return [datetime.fromisoformat(v) if isinstance(v, str) else v for v in values]
    return list(values)


def connect_thrift(server: ThriftServer, spark_dir: Path) -> Any:
    """A PyHive connection to `server`, its session set up as dbt's (profiles.yml)."""
    reason = thrift_unavailable_reason()
    if reason:
        raise SparkUnavailable(reason)
    from pyhive import hive

    # Thrift's socket logs a refused connection itself; the error below says it once.
    logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)
    try:
        return hive.connect(
            host=server.host,
            port=server.port,
            username=server.user or getpass.getuser(),
            configuration=thrift_settings(spark_dir),
        )
    except Exception as exc:  # refused, unknown host, a server that is not HiveServer2
        raise SparkUnavailable(
            f"cannot open a session on the Spark Thrift server {server.url}: "
            f"{_server_message(exc)}; is it running (scripts/spark-cluster status)?"
        ) from None


@contextmanager
def endpoint(spark_dir: Path, server: ThriftServer | None) -> Iterator[Endpoint]:
    """The Spark the warehouse is on: the Thrift `server`, else the local session in
    `spark_dir`. A Thrift connection is closed on exit; the session lives on (one per
    process, shared with dbt)."""
    if server is None:
        yield SessionEndpoint(spark_session(spark_dir), spark_dir / "landing")
        return
    connection = connect_thrift(server, spark_dir)
    try:
        yield ThriftEndpoint(connection, server)
    finally:
        with contextlib.suppress(Exception):  # the server may be gone: nothing to release
            connection.close()


def capture_id_first(table: Any) -> Any:
    """Spark stores a table's partition column last: put capture_id back in front, where
    the models (and so the DuckDB tables) have it."""
    if "capture_id" not in table.column_names:
        return table
    names = ["capture_id", *(n for n in table.column_names if n != "capture_id")]
    return table.select(names)


def ensure_raw_tables(spark: Endpoint) -> None:
    """Create the raw tables Spark lacks, and add SPARK_ADDED_COLUMNS to older ones."""
    for statement in SPARK_RAW_DDL:
        spark.sql(statement)
    for table, definitions in SPARK_ADDED_COLUMNS.items():
        present = set(spark.table_columns(f"raw.{table}"))
        missing = [d for d in definitions if d.split()[0] not in present]
        if missing:
            spark.sql(f"alter table raw.{table} add columns ({', '.join(missing)})")


# ---------------------------------------------------------------- the mirror


def _copy_in(con: duckdb.DuckDBPyConnection, spark: Endpoint, sql: str, into: str) -> None:
    """Run `sql` on Spark and land its result in the mirror: `into` is a DuckDB statement
    prefix such as `create table main.x as` or `insert into raw.x by name`."""
    con.register("spark_result", spark.to_arrow(sql))
    try:
        con.execute(f"{into} select * from spark_result")
    finally:
        con.unregister("spark_result")


@contextmanager
def spark_mirror(
    spark: Endpoint, raw_ddl: tuple[str, ...], read_only: bool, name: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection shaped like the DuckDB warehouse, backed by the Spark warehouse
    behind `spark` (`name` says which, in errors).

    Raw tables and the ledger's relations are copied in; on a clean exit of a writable
    connection, the rows appended to the raw tables go to Spark (rows first, events last, so
    a capture is never `loaded` without its rows).
    """
    if read_only and not spark.relation_exists("raw.captures"):
        raise FileNotFoundError(
            f"no Spark warehouse in {name}: run `spine-dbt backfill --target spark` first"
        )
    if not read_only and spark.landing is None:
        raise SparkUnavailable(
            f"writing to {name} needs a landing folder every Spark executor reads: set"
            " SPINE_SPARK_LANDING (--spark-landing)"
        )
    ensure_raw_tables(spark)
    con = duckdb.connect()
    try:
        for statement in raw_ddl:
            con.execute(statement)
        for schema in sorted({relation.split(".")[0] for relation in LEDGER_RELATIONS}):
            con.execute(f"create schema if not exists {schema}")
        for table in MIRRORED_RAW:
            _copy_in(con, spark, f"select * from raw.{table}", f"insert into raw.{table} by name")
        if read_only:
            for relation in LEDGER_RELATIONS:
                if spark.relation_exists(relation):
                    _copy_in(con, spark, f"select * from {relation}", f"create table {relation} as")
        copied = {
            table: con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
            for table in APPENDED_RAW
        }
        yield con
        if not read_only:
            _hand_over(con, spark, copied)
    finally:
        con.close()


def copy_rows(
    con: duckdb.DuckDBPyConnection,
    spark: Endpoint,
    tables: Iterable[str],
    where: str,
    columns: str = "*",
) -> None:
    """Copy `columns` of the rows matching `where` (Spark SQL) of each of `tables`
    (`schema.name`, dbt's models) from Spark into the mirror `con`, as tables of the same
    names: for the commands that read models the mirror does not hold (`verify`, `report`,
    plan's published ⇒ complete check). A table Spark does not have is left out."""
    wanted = list(tables)
    present: set[str] = set()
    databases = set(spark.to_arrow("show databases").column(0).to_pylist())
    for schema in sorted({table.split(".")[0] for table in wanted} & databases):
        names = spark.to_arrow(f"show tables in {schema}").column(1).to_pylist()
        present.update(f"{schema}.{name}" for name in names)
    for table in wanted:
        if table not in present:
            continue
        con.execute(f"create schema if not exists {table.split('.')[0]}")
        sql = f"select {columns} from {table} where {where}"
        _copy_in(con, spark, sql, f"create or replace table {table} as")


def in_list(values: Iterable[str]) -> str:
    """`values` as a Spark SQL list of string literals: `('a', 'b')`."""
    return "(" + ", ".join(f"'{_quote(value)}'" for value in values) + ")"


def _hand_over(con: duckdb.DuckDBPyConnection, spark: Endpoint, copied: dict[str, int]) -> None:
    """Append the mirror's new raw rows to Spark through one Parquet landing file per table."""
    assert spark.landing is not None
    landing = spark.landing / uuid.uuid4().hex
    landing.mkdir(parents=True)
    try:
        for table in APPENDED_RAW:
            # DuckDB's rowid numbers a table's rows in insertion order when nothing was
            # deleted, which holds for these append-only tables.
            new_rows = f"select * from raw.{table} where rowid >= {int(copied[table])}"
            path = landing / f"{table}.parquet"
            if not con.execute(f"copy ({new_rows}) to '{path}' (format parquet)").fetchall()[0][0]:
                continue  # COPY returns the rows written: nothing new in this table
            spark.append_parquet(f"raw.{table}", path)
    finally:
        shutil.rmtree(landing, ignore_errors=True)


# ---------------------------------------------------------------- the writer lease

# On a Thrift server the single-writer rule must hold across machines, so the lock lives in
# the warehouse: an append-only table of lease events. A writer appends `acquire` (with an
# expiry, from the server's clock), then reads the unexpired, unreleased leases: the holder is
# the earliest acquire. Any other writer appends `release` for its own and is busy. The holder
# appends `renew` rows while it works (so a crashed writer blocks others for at most
# LEASE_SECONDS) and `release` when done.
LEASE_TABLE = "raw.writer_leases"
LEASE_DDL = (
    "create database if not exists raw",
    f"""
    create table if not exists {LEASE_TABLE} (
        lease_id string, holder string, event string, at timestamp, expires_at timestamp
    ) using parquet
    """,
)
LEASE_SECONDS = 180
RENEW_SECONDS = 45


@dataclass(frozen=True)
class Lease:
    lease_id: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def lease_holder_name() -> str:
    return f"PID {os.getpid()} on {socket.gethostname()}"


def _append_lease_event(spark: Endpoint, lease_id: str, holder: str, event: str) -> None:
    expiry = (
        "cast(null as timestamp)"
        if event == "release"
        else f"current_timestamp() + interval {LEASE_SECONDS} seconds"
    )
    spark.sql(
        f"insert into {LEASE_TABLE} select '{lease_id}', '{_quote(holder)}', '{event}',"
        f" current_timestamp(), {expiry}"
    )


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def active_leases(spark: Endpoint) -> list[Lease]:
    """Unexpired, unreleased leases, the holder first (earliest acquire, then lease id)."""
    table = spark.to_arrow(
        f"""
        select lease_id, max(holder) as holder,
               min(case when event = 'acquire' then at end) as acquired_at,
               max(expires_at) as expires_at
        from {LEASE_TABLE}
        group by lease_id
        having max(case when event = 'release' then 1 else 0 end) = 0
           and min(case when event = 'acquire' then at end) is not null
           and max(expires_at) > current_timestamp()
        order by acquired_at, lease_id
        """
    )
    return [Lease(**row) for row in table.to_pylist()]


def try_acquire(spark: Endpoint, holder: str) -> tuple[str | None, Lease | None]:
    """Append an acquire for `holder`: (its lease id, None) when it holds the lease, else
    (None, the lease that does) after releasing its own.

    An acquire whose timestamp is earlier than ours but whose insert finished after our read
    would be missed; so the holder reads twice, the second time once as long again as its own
    insert took has passed (a concurrent insert takes about as long).
    """
    for statement in LEASE_DDL:
        spark.sql(statement)
    lease_id = uuid.uuid4().hex
    started = time.monotonic()
    _append_lease_event(spark, lease_id, holder, "acquire")
    took = time.monotonic() - started
    for check in range(2):
        leases = active_leases(spark)
        if not leases or leases[0].lease_id != lease_id:
            _append_lease_event(spark, lease_id, holder, "release")
            return None, next((lease for lease in leases if lease.lease_id != lease_id), None)
        if check == 0:
            time.sleep(max(took, 0.5))
    return lease_id, None


def release(spark: Endpoint, lease_id: str, holder: str) -> None:
    _append_lease_event(spark, lease_id, holder, "release")


@contextmanager
def renewing(server: ThriftServer, spark_dir: Path, lease_id: str, holder: str) -> Iterator[None]:
    """Renew the lease every RENEW_SECONDS while the block runs (a thread, its own
    connections: a PyHive connection is not shared between threads)."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            try:
                with endpoint(spark_dir, server) as spark:
                    _append_lease_event(spark, lease_id, holder, "renew")
            except Exception:  # noqa: BLE001, S112 - the next renewal tries again
                continue

    thread = threading.Thread(target=renew, name="spine-lease-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
