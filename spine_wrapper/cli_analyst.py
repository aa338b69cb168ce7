"""Click commands of the analyst's view: the dbt docs lineage site and the weekly HTML report;
and the errors every command reports.

Registered on the `spine-dbt` group by cli.py. The functions are named `*_command` so that
importing them never shadows cli.py's `report` module. The error types and `user_error` live
here so that both modules can use them: the group (cli.SpineGroup) turns every exception a user
can cause into one of them, i.e. one line `Error: <what>; <hint>` and exit 2 (the arguments or
the environment stop the command) or 1 (what was asked for is not there or did not happen).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path

import click
import duckdb

from . import dbt, html_report, options, site
from .warehouse import NotAWarehouse, WarehouseBusy, connect, current_target, exists, locked

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
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

    Exit 2: a busy warehouse, a --db DuckDB cannot open, an OSError on a path given (cannot
    create or write it). Exit 1: no warehouse (FileNotFoundError with a message of ours, no
    errno), a warehouse without the table asked for (not built yet, or another DuckDB file).
    """
    if isinstance(exc, WarehouseBusy):
        return DatabaseBusy(str(exc))
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
        return EnvironmentProblem(
            first_line(exc), "raise SPINE_MEMORY_LIMIT, or pass a smaller --chunk-weeks"
        )
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


def check_warehouse(db_path: Path) -> None:
    """Raise NotFound when there is no warehouse, NotAWarehouse when DuckDB cannot open it:
    before a dbt command, which would log a traceback of its own."""
    if not exists(db_path):
        raise NotFound(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    if current_target().name == "duckdb":
        with connect(db_path, read_only=True):
            pass


@click.command("docs", context_settings=CONTEXT)
@options.db_option
@click.option(
    "--target-path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the site is written to [default: the warehouse's dbt target folder,"
    " <warehouse dir>/.spine/<name>-<hash>/target].",
)
@click.option(
    "--static",
    is_flag=True,
    help="Also write static_index.html: the whole site in one file that opens from disk.",
)
@click.option("--serve", is_flag=True, help="Serve the site on 127.0.0.1 after generating it.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port for --serve (0 picks a free one).",
)
@click.option("--no-generate", is_flag=True, help="Serve the site already in --target-path.")
@options.wait_option
def docs_command(
    db: Path | None,
    target_path: Path | None,
    static: bool,
    serve: bool,
    port: int,
    no_generate: bool,
    wait: bool,
) -> None:
    """Generate the dbt docs lineage site against the warehouse (catalog included); serve it.

    The site documents every source, model, column, seed, snapshot, macro, test and
    exposure, with the lineage graph source → staging → intermediate → marts → exposures.
    index.html needs a web server (--serve, on 127.0.0.1 only); --static also writes
    static_index.html, one file that opens from disk.

    \b
    Example:
      spine-dbt docs --serve --port 8080     # then open http://127.0.0.1:8080/
      spine-dbt docs --static --target-path /tmp/site   # open /tmp/site/static_index.html
    """
    db_path = options.database(db)
    target = (target_path or dbt.target_path(db_path)).resolve()
    if no_generate:
        if not (target / "index.html").exists():
            raise click.BadParameter(
                f"no site in {target}; run without --no-generate first", param_hint="--target-path"
            )
    else:
        if not exists(db_path):
            raise NotFound(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
        target.mkdir(parents=True, exist_ok=True)  # an OSError here names the folder
        click.echo(f"generating the docs site from {db_path} ...", err=True)
        with locked(db_path, wait=wait):
            check_warehouse(db_path)
            try:
                page = site.generate(db_path, target, static=static)
            except site.SiteError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {target / 'index.html'} (with manifest.json and catalog.json)")
        if static:
            click.echo(f"wrote {page} (single file: open it from disk, no server needed)")
    if not serve:
        if not static:
            click.echo(
                f"serve it with: spine-dbt docs --serve --no-generate --target-path {target}"
            )
        return
    try:
        server = site.make_server(target, port)
    except site.SiteError as exc:
        raise click.ClickException(f"{exc}; pick another --port") from None
    click.echo(f"serving {target} at {site.url(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@click.command("report", context_settings=CONTEXT)
@click.option("--week", required=True, help="The Friday to report (YYYY-MM-DD).")
@options.tier_all_option
@options.db_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write. [default: report_<week>.html]",
)
@click.option(
    "--movers",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Symbols listed as rising and as falling most over their 6-week window.",
)
@click.option(
    "--min-mover-volume",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Only symbols averaging at least this many shares a week count as movers.",
)
def report_command(
    week: str,
    tier_values: tuple[str, ...],
    db: Path | None,
    out: Path | None,
    movers: int,
    min_mover_volume: int,
) -> None:
    """Write a one-page HTML report of a week: venue shares, concentration, movers, gaps.

    Per tier, from the latest published capture: the venue-share table and bar chart, the
    distribution of the symbols' concentration (HHI), the top movers by 6-week rolling
    trend and the rejected lines by reason code; then the completeness matrix of the last
    12 weeks. One self-contained file (inline SVG charts): it opens without a network.
    Exit 1 when no requested tier has a published capture of the week.

    \b
    Example:
      spine-dbt report --week 2025-12-26 --tier OTC --out report.html
    """
    day = options.parse_friday(week, "--week")
    tiers = options.parse_tiers(tier_values)
    db_path = options.database(db)
    out_path = (out or Path(f"report_{day}.html")).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)  # fail before the queries, naming it
    result = html_report.write_report(
        db_path, day, tiers, out_path, movers=movers, min_mover_volume=min_mover_volume
    )
    if not result.sections:
        click.echo(
            f"no published capture of {day} for {', '.join(tiers)}; nothing written"
            " (see `spine-dbt status`)",
            err=True,
        )
        sys.exit(1)
    click.echo(f"wrote {out_path}")
    for section in result.sections:
        top = section.top_venue
        click.echo(
            f"  {section.tier}: top venue {top.mpid} {top.market_share_pct * 100:.2f} %"
            f" (market_share_pct {top.market_share_pct:.6f}), {len(section.venues)} venues,"
            f" {len(section.concentration):,} symbols, {section.rows_rejected} rejected lines"
        )
    for tier in result.missing_tiers:
        click.echo(f"  {tier}: no published capture of {day}")
