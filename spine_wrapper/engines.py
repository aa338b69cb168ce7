"""The engine-specific part of the warehouse: where the raw tables live on each target.

DuckDB (the default) is the warehouse itself. On Spark, the wrapper keeps speaking DuckDB SQL
to a small in-memory DuckDB *mirror*: the relations the ledger reads are copied into it from
the Spark session (through Arrow), the loader parses files into it exactly as on DuckDB, and
whatever the wrapper appended to its raw tables is handed back to Spark as Parquet landing
files when the connection closes. Every raw table is append-only (DOMAIN.md §3), so "what was
appended" is simply the rows past the ones copied in. dbt-spark's `session` method calls
`SparkSession.builder.getOrCreate()`, so the loader and the in-process dbt share one session
and one metastore.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
        week_source string
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


class SparkUnavailable(Exception):
    """pyspark or a Java runtime is missing."""


def spark_unavailable_reason() -> str | None:
    """Why a local Spark session cannot start here, or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install -e '.[spark]'"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime: install one (e.g. apt-get install default-jre-headless)"
    return None


def session_settings(spark_dir: Path) -> dict[str, str]:
    """The Spark settings of the `spark` target in profiles.yml, rendered for `spark_dir`.

    Read from the profile so that the wrapper's session and a hand-run `dbt` use the same
    warehouse directory and metastore: one place to change them.
    """
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


def ensure_raw_tables(spark: Any) -> None:
    for statement in SPARK_RAW_DDL:
        spark.sql(statement)


def relation_exists(spark: Any, name: str) -> bool:
    schema, table = name.split(".")
    return bool(spark.catalog.databaseExists(schema)) and bool(
        spark.catalog.tableExists(f"{schema}.{table}")
    )


def to_arrow(spark: Any, sql: str) -> Any:
    """A Spark query's result as an Arrow table, timestamps as naive UTC like DuckDB's."""
    import pyarrow as pa

    table = spark.sql(sql).toArrow()
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(index).cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
            table = table.set_column(index, pa.field(field.name, pa.timestamp("us")), naive)
    return table


def capture_id_first(table: Any) -> Any:
    """Spark stores a table's partition column last: put capture_id back in front, where
    the models (and so the DuckDB tables) have it."""
    if "capture_id" not in table.column_names:
        return table
    names = ["capture_id", *(n for n in table.column_names if n != "capture_id")]
    return table.select(names)


def _copy_in(con: duckdb.DuckDBPyConnection, spark: Any, sql: str, into: str) -> None:
    """Run `sql` on Spark and land its result in the mirror: `into` is a DuckDB statement
    prefix such as `create table main.x as` or `insert into raw.x by name`."""
    con.register("spark_result", to_arrow(spark, sql))
    try:
        con.execute(f"{into} select * from spark_result")
    finally:
        con.unregister("spark_result")


@contextmanager
def spark_mirror(
    spark_dir: Path, raw_ddl: tuple[str, ...], read_only: bool
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection shaped like the DuckDB warehouse, backed by the Spark warehouse.

    Raw tables and the ledger's relations are copied in; on a clean exit of a writable
    connection, the rows appended to the raw tables go to Spark (rows first, events last, so
    a capture is never `loaded` without its rows).
    """
    spark = spark_session(spark_dir)
    if read_only and not relation_exists(spark, "raw.captures"):
        raise FileNotFoundError(
            f"no Spark warehouse in {spark_dir}: run `spine-dbt backfill --target spark` first"
        )
    ensure_raw_tables(spark)
    con = duckdb.connect()
    try:
        for statement in raw_ddl:
            con.execute(statement)
        for schema in sorted({name.split(".")[0] for name in LEDGER_RELATIONS}):
            con.execute(f"create schema if not exists {schema}")
        for table in MIRRORED_RAW:
            _copy_in(con, spark, f"select * from raw.{table}", f"insert into raw.{table} by name")
        if read_only:
            for name in LEDGER_RELATIONS:
                if relation_exists(spark, name):
                    _copy_in(con, spark, f"select * from {name}", f"create table {name} as")
        copied = {
            table: con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
            for table in APPENDED_RAW
        }
        yield con
        if not read_only:
            _hand_over(con, spark, spark_dir, copied)
    finally:
        con.close()


def _hand_over(
    con: duckdb.DuckDBPyConnection, spark: Any, spark_dir: Path, copied: dict[str, int]
) -> None:
    """Append the mirror's new raw rows to Spark through one Parquet landing file per table."""
    landing = spark_dir / "landing" / uuid.uuid4().hex
    landing.mkdir(parents=True)
    try:
        for table in APPENDED_RAW:
            # DuckDB's rowid numbers a table's rows in insertion order when nothing was
            # deleted, which holds for these append-only tables.
            new_rows = f"select * from raw.{table} where rowid >= {int(copied[table])}"
            path = landing / f"{table}.parquet"
            if not con.execute(f"copy ({new_rows}) to '{path}' (format parquet)").fetchall()[0][0]:
                continue  # COPY returns the rows written: nothing new in this table
            target_columns = spark.table(f"raw.{table}").columns  # partition column last
            spark.read.parquet(str(path)).select(*target_columns).write.insertInto(f"raw.{table}")
    finally:
        shutil.rmtree(landing, ignore_errors=True)
