"""The public tables (DOMAIN.md §7) as files: Parquet or CSV, one per table, on either target."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from . import engines, relations
from .warehouse import Warehouse, connect

FORMATS = ("parquet", "csv")
Reader = Callable[[str, str], str]


def _where(start: date | None, end: date | None, tiers: list[str] | None) -> str:
    """A filter on week_ending and tier; dates and canonical tiers are validated by the CLI."""
    conditions = ["true"]
    if start is not None:
        conditions.append(f"week_ending >= date '{start.isoformat()}'")
    if end is not None:
        conditions.append(f"week_ending <= date '{end.isoformat()}'")
    if tiers:
        conditions.append("tier in (" + ", ".join(f"'{t}'" for t in tiers) + ")")
    return " and ".join(conditions)


@contextmanager
def _public_rows(warehouse: Warehouse) -> Iterator[tuple[duckdb.DuckDBPyConnection, Reader]]:
    """A DuckDB connection and a reader: (table, filter) -> a relation of that connection.

    On Spark each table is read through the session or the Thrift server into Arrow, so the
    same DuckDB COPY writes the files of both targets, with the same types.
    """
    if not warehouse.on_spark:
        with connect(warehouse, read_only=True) as con:
            yield (
                con,
                lambda table, where: f"(select * from {relations.in_marts(table)} where {where})",
            )
        return
    assert warehouse.spark_dir is not None
    with engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark:
        con = duckdb.connect()

        def read(table: str, where: str) -> str:
            rows = spark.to_arrow(f"select * from {relations.in_marts(table)} where {where}")
            con.register(table, engines.capture_id_first(rows))
            return table

        try:
            yield con, read
        finally:
            con.close()


def export(
    warehouse: Warehouse,
    out: Path,
    fmt: str,
    start: date | None = None,
    end: date | None = None,
    tiers: list[str] | None = None,
) -> dict[str, int]:
    """Write every public table to `out/<table>.<fmt>`; returns the rows written per table.

    An `out` that cannot be created or written raises OSError naming it, before any query."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):  # else DuckDB's COPY fails with an IOException per file
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))
    where = _where(start, end, tiers)
    options = "format parquet" if fmt == "parquet" else "format csv, header true"
    written: dict[str, int] = {}
    with _public_rows(warehouse) as (con, read):
        for table in relations.PUBLIC_TABLES:
            relation = read(table, where)
            path = out / f"{table}.{fmt}"
            copy = f"copy (select * from {relation}) to '{path}' ({options})"
            written[table] = con.execute(copy).fetchall()[0][0]  # COPY returns the rows written
    return written
