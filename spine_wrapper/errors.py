"""The errors a user can cause, and the one place they become one line and an exit code.

The group (cli.SpineGroup) hands every exception a command lets through to `reported`: an
error a user can cause becomes `Error: <what>; <hint>` and exit 2 (the arguments or the
environment stop the command) or 1 (what was asked for is not there or did not happen); a bug
becomes one line asking for a report. The traceback only with --debug.
"""

from __future__ import annotations

import errno
import os
import traceback
from pathlib import Path

import click
import duckdb

from . import engines, resources
from .warehouse import NotAWarehouse, Warehouse, WarehouseBusy, connect

DB_HINT = "point --db (or SPINE_DB) at a spine-dbt warehouse, or at a new file to create one"
NOT_BUILT_HINT = "is --db a spine-dbt warehouse? `spine-dbt backfill` builds one"


def first_line(message: object) -> str:
    """The first non-empty line of an exception's text (DuckDB's add the query after it)."""
    return next((line.strip() for line in str(message).splitlines() if line.strip()), "")


class SpineError(click.ClickException):
    """An error a user can cause, printed as one line `Error: <message>; <hint>`."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)


class NotFound(SpineError):
    """Exit 1: what was asked for is not there (no warehouse yet, an unknown capture or run)
    or did not happen."""

    exit_code = 1


class EnvironmentProblem(SpineError):
    """Exit 2, like a usage error: the environment stops the command (a --db that is not a
    DuckDB file, an output folder that cannot be created, a busy warehouse); nothing ran."""

    exit_code = 2


class DatabaseBusy(EnvironmentProblem):
    """WarehouseBusy as the CLI reports it: its one-line message and exit 2."""


def _os_error(exc: OSError) -> SpineError:
    """An OSError on a path (an output folder under a regular file, no permission, a full
    disk) as one line naming the path and what is in the way."""
    if exc.filename is None:
        return EnvironmentProblem(first_line(exc), "check the paths given and the free disk space")
    path = Path(os.fsdecode(exc.filename))
    reason = exc.strerror or first_line(exc)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return EnvironmentProblem(
                f"cannot create {path}: {blocker} is a file, not a folder",
                "choose another path (or move that file away)",
            )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return EnvironmentProblem(
            f"cannot write {path}: {reason}",
            "choose a path you may write to, or fix its permissions",
        )
    if exc.errno == errno.ENOSPC:
        return EnvironmentProblem(f"cannot write {path}: {reason}", "free some disk space")
    return EnvironmentProblem(f"{path}: {reason}", "check the path")


def user_error(exc: Exception) -> SpineError | None:
    """The one-line error for an exception a user can cause (None: a bug, not a user error).

    Exit 2: a busy warehouse, a --db DuckDB cannot open, Spark out of reach (no pyspark or
    PyHive, a Thrift server that does not answer), an OSError on a path given (cannot
    create or write it). Exit 1: no warehouse (FileNotFoundError with a message of ours, no
    errno), a warehouse without the table asked for (not built yet, or another DuckDB file),
    DuckDB out of memory (the message names the settings to change), a statement a Thrift
    server failed (its message).
    """
    if isinstance(exc, WarehouseBusy):
        return DatabaseBusy(str(exc))
    if isinstance(exc, engines.SparkUnavailable):
        return EnvironmentProblem(str(exc))
    if isinstance(exc, engines.SparkQueryError):
        return NotFound(str(exc), "check the Spark Thrift server's log")
    if isinstance(exc, NotAWarehouse):
        return EnvironmentProblem(str(exc), DB_HINT)
    if isinstance(exc, FileNotFoundError) and exc.errno is None:
        return NotFound(first_line(exc))
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, duckdb.CatalogException):
        return NotFound(
            f"the warehouse lacks what was asked for: {first_line(exc)}", NOT_BUILT_HINT
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return NotFound(resources.out_of_memory_hint(resources.duckdb_resources(os.environ)))
    if isinstance(exc, duckdb.IOException):
        return EnvironmentProblem(first_line(exc), "check the path, its permissions and disk space")
    return None


def reported(exc: Exception, debug: bool = False) -> BaseException:
    """What the group raises for an exception a command let through: its one-line error
    (user_error), or for anything else (a bug) one line saying so, exit 1. With `debug` the
    traceback is printed first, and a bug is raised as it is."""
    error = user_error(exc)
    if debug:
        if error is None:
            return exc
        click.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
    if error is None:
        error = click.ClickException(
            f"unexpected {type(exc).__name__}: {first_line(exc)}; a bug in spine-dbt: run again"
            " with --debug and report the traceback"
        )
    return error


def require_warehouse(warehouse: Warehouse) -> None:
    """Raise NotFound when there is no warehouse yet (`spine-dbt backfill` makes one)."""
    if not warehouse.exists():
        raise NotFound(f"no warehouse at {warehouse}: run `spine-dbt backfill` first")


def check_warehouse(warehouse: Warehouse) -> None:
    """Raise NotFound when there is no warehouse, NotAWarehouse when DuckDB cannot open it:
    before a dbt command, which would log a traceback of its own."""
    require_warehouse(warehouse)
    if not warehouse.on_spark:
        with connect(warehouse, read_only=True):
            pass
