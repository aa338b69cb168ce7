"""Click commands only: parse and validate options, call the library, print."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import backfill as backfill_lib
from . import dbt, ledger, options, report
from .cli_analyst import NotFound, check_warehouse, docs_command, report_command, reported
from .export import FORMATS, PUBLIC_TABLES
from .export import export as export_tables
from .generate import LAYOUTS, generate
from .paths import DEFAULT_DEMO_DIR, PROJECT_DIR
from .progress import Progress
from .warehouse import connect, current_target, exists, lock_timeout, locked
from .weeks import fridays, fridays_ending, parse_date

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEMO_END = date(2025, 12, 26)
DEMO_WEEKS = 10
DEMO_TIERS = ["NMS_TIER_1", "NMS_TIER_2", "OTC"]
CAPTURES_HINT = "`spine-dbt captures --week <Friday>` lists a week's captures and their runs"


class SpineGroup(click.Group):
    """The command group, and the one place errors are reported (cli_analyst.reported): one
    line `Error: <what>; <hint>`, exit 2 (arguments, environment) or 1 (what was asked for is
    not there or did not happen); the traceback only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            lock_timeout()
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            raise reported(exc, debug=bool(ctx.params.get("debug"))) from None


@click.group(cls=SpineGroup, context_settings=CONTEXT)
@click.version_option(package_name="spine-dbt")
@click.option(
    "--debug",
    is_flag=True,
    envvar="SPINE_DEBUG",
    show_envvar=True,
    help="Print the Python traceback of an error (for bug reports).",
)
def main(debug: bool) -> None:
    """Backfill FINRA OTC Transparency weekly files into trusted, capture-keyed dbt marts.

    \b
    The operator's playbook:
      spine-dbt plan      what a backfill would do, per week and tier
      spine-dbt backfill  load, build, test and publish a range of weeks
      spine-dbt status    completeness matrix of a range (exit 1 on gaps)
      spine-dbt captures  every capture of a week
      spine-dbt rollback  remove a capture or a run; the previous capture is latest again
      spine-dbt verify    determinism check between two captures
      spine-dbt quality   test results of a run, with failing rows
      spine-dbt docs      the dbt docs lineage site (--serve, --static)
      spine-dbt report    one self-contained HTML page of a week
      spine-dbt export    the public tables as Parquet or CSV files

    \b
    Every command that touches the warehouse takes --target duckdb|spark (SPINE_TARGET).
    """


def _range_options(func: Callable[..., Any], tier_required: bool = True) -> Callable[..., Any]:
    for decorate in reversed(
        [
            options.start_option,
            options.end_option,
            options.weeks_back_option,
            options.tier_option if tier_required else options.tier_all_option,
            options.max_weeks_option,
            options.yes_option,
        ]
    ):
        func = decorate(func)
    return func


def _range_options_all_tiers(func: Callable[..., Any]) -> Callable[..., Any]:
    return _range_options(func, tier_required=False)


def _parse_common(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    max_weeks: int,
    yes: bool,
) -> tuple[date, date, list[str]]:
    first, last = options.parse_range(start, end, weeks_back)
    options.check_range_size(first, last, max_weeks, yes)
    return first, last, options.parse_tiers(tier_values)


def _echo_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))


@main.command(context_settings=CONTEXT)
@_range_options
@options.source_dir_option
@options.week_rule_option
@options.db_option
@options.target_options
@options.calc_version_option
@click.option("--force", is_flag=True, help="Load and rebuild partitions that are up to date.")
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `spine-dbt plan`).")
@click.option(
    "--retry-failed", is_flag=True, help="Only re-attempt partitions whose last capture failed."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the run report (partitions, captures, rows, rejects, failing tests) here.",
)
@click.option("--progress/--no-progress", default=True, help="Print dbt nodes as they finish.")
@click.option(
    "--chunk-weeks",
    envvar="SPINE_CHUNK_WEEKS",
    show_envvar=True,
    type=click.IntRange(min=1),
    default=backfill_lib.CHUNK_WEEKS,
    show_default=True,
    help="Build long ranges this many weeks at a time, oldest first.",
)
@options.wait_option
def backfill(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    max_weeks: int,
    yes: bool,
    source_dir: Path,
    week_rule: str,
    db: Path | None,
    calc_values: tuple[str, ...],
    force: bool,
    dry_run: bool,
    retry_failed: bool,
    json_path: Path | None,
    progress: bool,
    chunk_weeks: int,
    wait: bool,
) -> None:
    """Load the weekly files of a Friday range and build and publish them with `dbt build`.

    Each (week, tier) that is new, revised, stale or failed earlier is loaded as a new
    capture; one `dbt build` builds them all; they are published only if every
    error-severity test passes. Exit 0 when every requested week is published or up to
    date, 1 when something is not, 2 on a usage error.

    \b
    Example:
      spine-dbt backfill --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    first, last, tiers = _parse_common(start, end, weeks_back, tier_values, max_weeks, yes)
    calc_versions = options.parse_calc_versions(calc_values)
    db_path = options.database(db)
    if dry_run:
        _show_plan(
            db_path, first, last, tiers, (source_dir, week_rule), calc_versions, force, False
        )
        return
    started = time.monotonic()
    with locked(db_path, wait=wait):
        result = backfill_lib.backfill(
            db_path,
            first,
            last,
            tiers,
            source_dir,
            calc_versions,
            force,
            retry_failed,
            week_rule=week_rule,
            progress=Progress() if progress else None,
            chunk_weeks=chunk_weeks,
        )
    click.echo(report.backfill_summary(result))
    if json_path:
        payload = report.run_report(result, {"total": round(time.monotonic() - started, 3)})
        json_path.write_text(json.dumps(payload, indent=2, default=str))
    sys.exit(0 if result.ok else 1)


def _show_plan(
    db_path: Path,
    first: date,
    last: date,
    tiers: list[str],
    sources: tuple[Path, str],
    calc_versions: dict[str, str],
    force: bool,
    as_json: bool,
) -> None:
    source_dir, week_rule = sources
    partitions, skipped = backfill_lib.plan(
        db_path, first, last, tiers, source_dir, calc_versions, force, week_rule
    )
    rows = [
        {
            "week_ending": p.week_ending.isoformat(),
            "tier": p.tier,
            "plan": p.action,
            "file": str(p.source.path) if p.source else None,
            "detail": p.detail,
        }
        for p in partitions
    ]
    if as_json:
        _echo_json({"partitions": rows, "skipped_files": [str(f.path) for f in skipped]})
    else:
        click.echo(
            report.table(
                ["week", "tier", "plan", "file", "detail"],
                [[r["week_ending"], r["tier"], r["plan"], r["file"], r["detail"]] for r in rows],
            )
        )
        for found in skipped:
            click.echo(f"skipped {found.path}: {found.error}")


@main.command(context_settings=CONTEXT)
@_range_options
@options.source_dir_option
@options.week_rule_option
@options.db_option
@options.target_options
@options.calc_version_option
@click.option("--force", is_flag=True, help="Plan up-to-date partitions as new.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    max_weeks: int,
    yes: bool,
    source_dir: Path,
    week_rule: str,
    db: Path | None,
    calc_values: tuple[str, ...],
    force: bool,
    as_json: bool,
) -> None:
    """Show what a backfill would do per (week, tier), and from which file. Writes nothing.

    new, revised (file changed since the latest published capture), stale (its 6-week window
    includes a week that changed), up to date, missing file, failed earlier, file error.

    \b
    Example:
      spine-dbt plan --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    first, last, tiers = _parse_common(start, end, weeks_back, tier_values, max_weeks, yes)
    calc_versions = options.parse_calc_versions(calc_values)
    sources = (source_dir, week_rule)
    _show_plan(options.database(db), first, last, tiers, sources, calc_versions, force, as_json)


@main.command(context_settings=CONTEXT)
@_range_options
@options.source_dir_option
@options.week_rule_option
@options.db_option
@options.target_options
@options.calc_version_option
@click.option("--force", is_flag=True, help="Load partitions that are up to date too.")
@options.wait_option
def load(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    max_weeks: int,
    yes: bool,
    source_dir: Path,
    week_rule: str,
    db: Path | None,
    calc_values: tuple[str, ...],
    force: bool,
    wait: bool,
) -> None:
    """Load the files of a range as new captures (status `loaded`) without building them.

    Prints the `dbt build` command that builds and publishes exactly these captures, for
    users who run dbt by hand.

    \b
    Example:
      spine-dbt load --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    first, last, tiers = _parse_common(start, end, weeks_back, tier_values, max_weeks, yes)
    calc_versions = options.parse_calc_versions(calc_values)
    db_path = options.database(db)
    with locked(db_path, wait=wait):
        partitions, _ = backfill_lib.plan(
            db_path, first, last, tiers, source_dir, calc_versions, force, week_rule
        )
        run_id = backfill_lib.load(db_path, partitions, calc_versions)
    for p in partitions:
        click.echo(
            f"{p.week_ending}  {p.tier:<10}  {p.action:<14}  {p.capture_id or ''}  {p.detail}"
        )
    if run_id is None or not any(p.status == "loaded" for p in partitions):
        click.echo("nothing loaded" if run_id is None else "every file failed as it loaded")
        sys.exit(0 if all(p.ok for p in partitions) else 1)
    dbt_vars = {
        "run_id": run_id,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "tiers": tiers,
        "calc_versions": calc_versions,
    }
    click.echo(f"loaded run {run_id}; build and publish it with:")
    target = current_target()
    where = (
        f"SPINE_TARGET=spark SPINE_SPARK_DIR={target.spark_dir}"
        if target.name == "spark"
        else f"SPINE_DB={db_path}"
    )
    click.echo(
        f"  {where} dbt build --project-dir {PROJECT_DIR} --profiles-dir {PROJECT_DIR}"
        f" --target-path {dbt.target_path(db_path)} --log-path {dbt.log_path(db_path)}"
        f" --vars '{json.dumps(dbt_vars, sort_keys=True)}'"
    )
    sys.exit(0 if all(p.action in backfill_lib.TO_LOAD or p.ok for p in partitions) else 1)


@main.command(context_settings=CONTEXT)
@_range_options_all_tiers
@options.db_option
@options.target_options
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
def status(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    max_weeks: int,
    yes: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Completeness matrix of a range: weeks as rows, tiers as columns. Exit 1 on gaps.

    ✓n published (n captures so far), ✗ failed, · missing, ~ stale (its window read a
    capture that is no longer the latest), … loaded but not built, ! published but its rows
    are missing from a mart (published ⇒ complete does not hold: roll it back and backfill).

    \b
    Example:
      spine-dbt status --start 2025-12-12 --end 2025-12-26 --tier all
    """
    first, last, tiers = _parse_common(start, end, weeks_back, tier_values, max_weeks, yes)
    weeks = fridays(first, last)
    db_path = options.database(db)
    if exists(db_path):
        with connect(db_path, read_only=True) as con:
            cells = ledger.completeness(con, weeks, tiers)
    else:
        cells = {(w, t): ledger.Cell("missing", 0, None) for w in weeks for t in tiers}
    gaps = any(cell.state != "published" for cell in cells.values())
    if as_json:
        _echo_json(
            [
                {"week_ending": w.isoformat(), "tier": t, **cells[(w, t)].__dict__}
                for w in weeks
                for t in tiers
            ]
        )
    else:
        click.echo(report.completeness_matrix(cells, weeks, tiers))
    sys.exit(1 if gaps else 0)


@main.command(context_settings=CONTEXT)
@click.option("--week", required=True, help="The Friday whose captures to list.")
@options.tier_all_option
@options.db_option
@options.target_options
@click.option("--json", "as_json", is_flag=True, help="Print the captures as JSON.")
def captures(week: str, tier_values: tuple[str, ...], db: Path | None, as_json: bool) -> None:
    """Every capture of a week, newest first: status, rows, source file, SHA-256, captured_at.

    \b
    Example:
      spine-dbt captures --week 2025-12-26 --tier OTC
    """
    day = options.parse_friday(week, "--week")
    tiers = options.parse_tiers(tier_values)
    with connect(options.database(db), read_only=True) as con:
        rows = ledger.captures_of_week(con, day, tiers)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo(f"no captures of {day}")
        return
    click.echo(
        report.table(
            [
                "capture",
                "status",
                "read",
                "accepted",
                "totals",
                "rejected",
                "captured_at",
                "sha256",
                "file",
            ],
            [
                [
                    r["capture_id"],
                    r["status"],
                    r["rows_read"],
                    r["rows_accepted"],
                    r["rows_finra_totals"] or None,
                    r["rows_rejected"],
                    r["captured_at"],
                    str(r["file_sha256"])[:12],
                    r["source_file"],
                ]
                for r in rows
            ],
        )
    )


@main.command(context_settings=CONTEXT)
@click.option("--capture-id", "capture_ids", multiple=True, help="Capture to roll back.")
@click.option("--run-id", help="Roll back every capture of this run.")
@options.db_option
@options.target_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@options.wait_option
def rollback(
    capture_ids: tuple[str, ...], run_id: str | None, db: Path | None, yes: bool, wait: bool
) -> None:
    """Remove captures from every capture-keyed model; the previous capture is latest again.

    Later captures whose 6-week windows read a rolled-back capture are rolled back too
    (listed before you confirm), as by `dbt run-operation rollback_captures` run by hand.
    The capture history snapshot records the change.

    \b
    Example:
      spine-dbt rollback --run-id run_20261124T071828317712Z
      spine-dbt rollback --capture-id OTC:2025-12-19:20261124T071828317712Z --yes
    """
    if bool(capture_ids) == bool(run_id):
        raise click.UsageError("give --capture-id (repeatable) or --run-id, not both")
    db_path = options.database(db)
    if not exists(db_path):  # before locked() makes its folder and lock file
        raise NotFound(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    with locked(db_path, wait=wait):
        with connect(db_path, read_only=True) as con:
            chosen = ledger.run_captures(con, run_id) if run_id else list(capture_ids)
            unknown = ledger.capture_exists(con, chosen)
            if unknown:
                raise NotFound(f"unknown capture ids: {', '.join(unknown)}", CAPTURES_HINT)
            if not chosen:
                raise NotFound(
                    f"run {run_id} has no capture to roll back (an unknown run, or rolled back"
                    " already)",
                    CAPTURES_HINT,
                )
            dependents = ledger.dependent_captures(con, chosen)
        click.echo("will roll back:")
        for capture_id in chosen:
            click.echo(f"  {capture_id}")
        if dependents:
            click.echo("and the later captures whose 6-week windows read them:")
            for capture_id in dependents:
                click.echo(f"  {capture_id}")
        if not yes:
            click.confirm("proceed?", abort=True)
        detail = f"rolled back ({'run ' + run_id if run_id else 'by capture id'})"
        # The macro finds the dependents itself (the same query as the preview above).
        outcome = backfill_lib.rollback(db_path, chosen, detail)
    if not outcome.success:
        raise click.ClickException(f"rollback failed: {outcome.exception}")
    weeks = sorted({capture_id.split(":")[1] for capture_id in chosen + dependents})
    with connect(db_path, read_only=True) as con:
        click.echo("latest capture now:")
        for week in weeks:
            for row in ledger.captures_of_week(
                con, parse_date(week), options.parse_tiers(("all",))
            ):
                if row["status"] == "published":
                    click.echo(f"  {week} {row['tier']}: {row['capture_id']}")
                    break
            else:
                click.echo(f"  {week}: none published")


@main.command(context_settings=CONTEXT)
@click.option("--capture-id", help="Capture A.")
@click.option("--against", help="Capture B.")
@click.option(
    "--published",
    is_flag=True,
    help="Instead: run every invariant (dbt test) over the published warehouse.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@options.db_option
@options.target_options
def verify(
    capture_id: str | None, against: str | None, published: bool, limit: int, db: Path | None
) -> None:
    """Determinism check: every mart row of two captures, ids and timestamps excluded.

    Prints the first differences per table and exits 1 if there are any. With --published,
    runs the error-severity tests over the latest published capture of every (week, tier)
    (what `dbt test` without vars does), published ⇒ complete included; exit 1 if any fails.

    \b
    Examples:
      spine-dbt verify --capture-id OTC:2025-12-26:20261124T071828317712Z \\
          --against OTC:2025-12-26:20261125T090000000000Z
      spine-dbt verify --published
    """
    db_path = options.database(db)
    if published:
        if capture_id or against:
            raise click.UsageError("--published takes no --capture-id / --against")
        _verify_published(db_path)
        return
    if not capture_id or not against:
        raise click.UsageError("give --capture-id and --against, or --published")
    with connect(db_path, read_only=True) as con:
        unknown = ledger.capture_exists(con, [capture_id, against])
        if unknown:
            raise NotFound(f"unknown capture ids: {', '.join(unknown)}", CAPTURES_HINT)
        differences = ledger.diff_captures(con, capture_id, against, limit)
    if not differences:
        click.echo("identical: every mart row matches (capture ids and timestamps excluded)")
        return
    for table, side, row in differences:
        click.echo(f"{table}  {side}: {row}")
    sys.exit(1)


def _verify_published(db_path: Path) -> None:
    """`dbt test` over the published warehouse; exit 1 when an error-severity test fails."""
    if not exists(db_path):
        raise NotFound(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    with locked(db_path):  # the outcome is recorded in raw.test_results
        check_warehouse(db_path)  # before dbt, which would log a traceback of its own
        outcome = dbt.invoke("test", db_path, extra_args=["--exclude-resource-type", "unit_test"])
    if outcome.exception:
        raise click.ClickException(f"dbt test failed to run: {outcome.exception}")
    tests = [node for node in outcome.nodes if node.resource_type == "test"]
    for node in outcome.failed + outcome.warned:
        click.echo(f"{node.status}  {node.name}: {node.failures} rows")
    if outcome.failed:
        click.echo(f"{len(outcome.failed)} of {len(tests)} invariants fail on published data")
        sys.exit(1)
    click.echo(f"every invariant holds on the published warehouse ({len(tests)} tests)")


@main.command(context_settings=CONTEXT)
@click.option("--run-id", help="The run (default: the newest run with test results).")
@options.db_option
@options.target_options
@click.option("--all", "show_all", is_flag=True, help="List the passing tests too.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def quality(run_id: str | None, db: Path | None, show_all: bool, as_json: bool) -> None:
    """Test results of a run: fail / warn / pass with failing-row counts and failing rows.

    \b
    Example:
      spine-dbt quality
      spine-dbt quality --run-id run_20261124T071828317712Z --json
    """
    with connect(options.database(db), read_only=True) as con:
        recorded = ledger.relation_exists(con, "raw", "test_results")
        results = ledger.test_results(con, run_id) if recorded else []
    if run_id and not results:
        raise NotFound(
            f"no test results of run {run_id}",
            "`spine-dbt quality` without --run-id shows the newest run's",
        )
    if as_json:
        _echo_json(results)
        return
    if not results:
        click.echo("no test results recorded")
        return
    click.echo(f"run {results[0]['run_id']}")
    shown = results if show_all else [r for r in results if r["status"] != "pass"]
    if shown:
        click.echo(
            report.table(
                ["status", "severity", "test", "model", "failing rows"],
                [
                    [
                        r["status"],
                        r["severity"],
                        str(r["test_name"])[:90],
                        r["model_name"],
                        r["failures"],
                    ]
                    for r in shown
                ],
            )
        )
    passed = sum(1 for r in results if r["status"] == "pass")
    click.echo(
        f"{passed} of {len(results)} tests passed" + ("" if show_all else " (--all lists them)")
    )
    for r in results:
        if r["failing_rows"]:
            click.echo(f"\n{r['test_name']} failing rows:")
            for row in json.loads(str(r["failing_rows"])):
                click.echo(f"  {row}")


@main.command(context_settings=CONTEXT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the files (created; files of the same names are replaced).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@click.option("--start", help="First Friday to export (default: all weeks).")
@click.option("--end", help="Last Friday to export (default: all weeks).")
@click.option(
    "--tier",
    "tier_values",
    multiple=True,
    default=("all",),
    show_default=True,
    help=options.TIER_HELP,
)
@options.db_option
@options.target_options
@options.wait_option
def export(
    out: Path,
    fmt: str,
    start: str | None,
    end: str | None,
    tier_values: tuple[str, ...],
    db: Path | None,
    wait: bool,
) -> None:
    """Write every public table as OUT/<table>.<format>: the `_latest` view of each mart
    (the newest published capture of every week and tier), the rejects and the captures.

    \b
    Example:
      spine-dbt export --out /tmp/finra-export --format parquet
      spine-dbt export --out /tmp/otc --format csv --start 2025-12-12 --end 2025-12-26 --tier OTC
    """
    first = options.parse_friday(start, "--start") if start else None
    last = options.parse_friday(end, "--end") if end else None
    if first and last and first > last:
        raise click.BadParameter(f"--start {first} is after --end {last}")
    tiers = options.parse_tiers(tier_values)
    db_path = options.database(db)
    if not exists(db_path):
        raise NotFound(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
    with locked(db_path, wait=wait):
        written = export_tables(db_path, out.resolve(), fmt, first, last, tiers)
    for table in PUBLIC_TABLES:
        click.echo(f"{written[table]:>9} rows  {out / f'{table}.{fmt}'}")


@main.command("generate", context_settings=CONTEXT)
@click.option("--weeks", type=click.IntRange(min=1), default=8, show_default=True)
@options.tier_all_option
@click.option("--end", default=DEMO_END.isoformat(), show_default=True, help="Last Friday.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--scale", type=click.Choice(["small", "realistic"]), default="small")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--layout",
    type=click.Choice(list(LAYOUTS)),
    default="legacy",
    show_default=True,
    help="legacy: FINRA's pipe-delimited export (.psv); api: the API's text export (quoted"
    " CSV, .csv); json: the API's JSON output (.json). api and json add FINRA's symbol totals.",
)
def generate_files(
    weeks: int,
    tier_values: tuple[str, ...],
    end: str,
    out: Path,
    scale: str,
    seed: int,
    layout: str,
) -> None:
    """Write deterministic FINRA-format weekly files (for demos and benchmarks).

    One file per week and tier, dated as FINRA publishes it (the Monday after the week plus
    the tier's delay, or the next business day after a holiday) and named
    finra_otc_weekly_<tier>_<YYYYMMDD of that date>.<psv|csv|json>.

    \b
    Example:
      spine-dbt generate --weeks 156 --tier all --scale realistic --out /tmp/finra
      spine-dbt generate --weeks 6 --tier OTC --layout api --out /tmp/finra-api
    """
    last = options.parse_friday(end, "--end")
    tiers = options.parse_tiers(tier_values)
    written = generate(out, weeks, tiers, last, scale=scale, seed=seed, layout=layout)
    click.echo(f"wrote {len(written)} files to {out}")


@main.command(context_settings=CONTEXT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DEMO_DIR,
    show_default=True,
    help="Folder for the generated sample files (replaced).",
)
@options.db_option
@options.target_options
def demo(out: Path, db: Path | None) -> None:
    """Generate deterministic sample weeks and backfill them, then a FINRA revision of one week.

    Ten Fridays ending 2025-12-26, all three tiers, a few bad rows per file. The second
    backfill shows a revised week becoming a new capture and the later weeks whose 6-week
    windows include it being rebuilt; everything else stays up to date.

    \b
    Example:
      spine-dbt demo
      spine-dbt demo --out /tmp/finra-demo --db /tmp/demo.duckdb
    """
    db_path = options.database(db)
    if exists(db_path):
        check_warehouse(db_path)  # before generating the files
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    weeks_dir = out / "weeks"
    written = generate(weeks_dir, DEMO_WEEKS, DEMO_TIERS, DEMO_END, revised_week=True)
    pending = out / "pending_revision"
    pending.mkdir()
    revision = Path(shutil.move(str(written[-1]), str(pending / written[-1].name)))
    shutil.rmtree(weeks_dir / "revisions", ignore_errors=True)
    start = fridays_ending(DEMO_END, DEMO_WEEKS)[0]
    calc_versions = options.parse_calc_versions(())
    click.echo(f"generated {len(written) - 1} weekly files in {weeks_dir}; warehouse {db_path}")
    results = []
    with locked(db_path):
        for title in ("backfill of the sample weeks", "the same backfill again"):
            if results:
                shutil.move(str(revision), str(weeks_dir / revision.name))
                title = f"FINRA revised {revision.name}: {title}"
            click.echo(f"\n== {title} ==")
            result = backfill_lib.backfill(
                db_path, start, DEMO_END, DEMO_TIERS, weeks_dir, calc_versions
            )
            click.echo(report.backfill_summary(result))
            results.append(result)
    click.echo(
        f"\nthe marts are in {db_path} (schema main), e.g. "
        "select * from main.finra_otc_transparency_venue_share_latest;"
        f"\ncheck it: spine-dbt status --start {start} --end {DEMO_END} --tier all --db {db_path}"
    )
    sys.exit(0 if all(r.ok for r in results) else 1)


main.add_command(docs_command)
main.add_command(report_command)
