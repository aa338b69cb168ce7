"""The `spine-dbt` command group and the operator's data path: plan, load, backfill, status,
and the sample data (generate, demo). Options come from options.py; the commands over existing
captures live in cli_captures.py, the analyst's in cli_analyst.py."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import backfill as backfill_lib
from . import dbt, ledger, options, relations, report, resources
from .cli_analyst import docs_command, report_command
from .cli_captures import COMMANDS as CAPTURE_COMMANDS
from .cli_captures import echo_json
from .errors import check_warehouse, reported
from .generate import generate
from .options import CONTEXT, Sources, WeekRange
from .paths import DEFAULT_DEMO_DIR, PROJECT_DIR
from .progress import Progress
from .warehouse import Warehouse, connect, copy_mart_captures, lock_timeout, locked
from .weeks import fridays_ending

DEMO_END = date(2025, 12, 26)
DEMO_WEEKS = 10
DEMO_TIERS = ["NMS_TIER_1", "NMS_TIER_2", "OTC"]


class SpineGroup(click.Group):
    """The command group, and the one place errors are reported (errors.reported): one line
    `Error: <what>; <hint>`, exit 2 (arguments, environment) or 1 (what was asked for is not
    there or did not happen); the traceback only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:  # the settings every command reads, checked before any runs
            lock_timeout()
            resources.duckdb_resources(os.environ)
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
@options.debug_option
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
    Every command that touches the warehouse takes --target duckdb|spark (SPINE_TARGET),
    on Spark a local session or, with --spark-method thrift, a cluster's Thrift server;
    every command that prints a result takes --json.
    """


@main.command(context_settings=CONTEXT)
@options.range_options()
@options.source_options
@options.warehouse_options
@options.force_option
@options.dry_run_option
@options.retry_failed_option
@options.json_option
@options.report_option
@options.progress_option
@options.chunk_weeks_option
@options.wait_option
def backfill(
    week_range: WeekRange,
    sources: Sources,
    warehouse: Warehouse,
    force: bool,
    dry_run: bool,
    retry_failed: bool,
    as_json: bool,
    report_path: Path | None,
    progress: bool,
    chunk_weeks: int,
    wait: bool,
) -> None:
    """Load the weekly files of a Friday range and build and publish them with `dbt build`.

    Each (week, tier) that is new, revised, stale or failed earlier is loaded as a new
    capture; one `dbt build` builds them all; they are published only if every
    error-severity test passes. Exit 0 when every requested week is published or up to
    date, 1 when something is not, 2 on a usage error. --json prints the run report
    instead of the summary; --report PATH also writes it to a file.

    \b
    Example:
      spine-dbt backfill --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    report_path = options.report_path(report_path)
    if dry_run:
        _show_plan(warehouse, week_range, sources, force, as_json)
        return
    started = time.monotonic()
    with locked(warehouse, wait=wait):
        result = backfill_lib.backfill(
            warehouse,
            week_range.first,
            week_range.last,
            week_range.tiers,
            sources.source_dir,
            sources.calc_versions,
            force,
            retry_failed,
            week_rule=sources.week_rule,
            progress=Progress() if progress else None,
            chunk_weeks=chunk_weeks,
        )
    timings = {**result.timings, "total": round(time.monotonic() - started, 3)}
    payload = report.run_report(result, timings)
    if as_json:
        echo_json(payload)
    else:
        click.echo(report.backfill_summary(result))
    if report_path:
        report_path.write_text(json.dumps(payload, indent=2, default=str))
    if result.out_of_memory:
        hint = resources.out_of_memory_hint(resources.duckdb_resources(os.environ))
        click.echo(f"Error: {hint}", err=True)
    sys.exit(0 if result.ok else 1)


def _show_plan(
    warehouse: Warehouse, week_range: WeekRange, sources: Sources, force: bool, as_json: bool
) -> None:
    partitions, skipped = backfill_lib.plan(
        warehouse,
        week_range.first,
        week_range.last,
        week_range.tiers,
        sources.source_dir,
        sources.calc_versions,
        force,
        sources.week_rule,
    )
    rows = [
        [p.week_ending.isoformat(), p.tier, p.action, str(p.source.path) if p.source else None]
        + [p.detail]
        for p in partitions
    ]
    if as_json:
        keys = ["week_ending", "tier", "plan", "file", "detail"]
        echo_json(
            {
                "partitions": [dict(zip(keys, row, strict=True)) for row in rows],
                "skipped_files": [str(f.path) for f in skipped],
            }
        )
        return
    click.echo(report.table(["week", "tier", "plan", "file", "detail"], rows))
    for found in skipped:
        click.echo(f"skipped {found.path}: {found.error}")


@main.command(context_settings=CONTEXT)
@options.range_options()
@options.source_options
@options.warehouse_options
@options.force_option
@options.json_option
def plan(
    week_range: WeekRange, sources: Sources, warehouse: Warehouse, force: bool, as_json: bool
) -> None:
    """Show what a backfill would do per (week, tier), and from which file. Writes nothing.

    new, revised (file changed since the latest published capture), stale (its 6-week window
    includes a week that changed), up to date, missing file, failed earlier, file error.

    \b
    Example:
      spine-dbt plan --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    _show_plan(warehouse, week_range, sources, force, as_json)


@main.command(context_settings=CONTEXT)
@options.range_options()
@options.source_options
@options.warehouse_options
@options.force_option
@options.wait_option
def load(
    week_range: WeekRange, sources: Sources, warehouse: Warehouse, force: bool, wait: bool
) -> None:
    """Load the files of a range as new captures (status `loaded`) without building them.

    Prints the `dbt build` command that builds and publishes exactly these captures, for
    users who run dbt by hand.

    \b
    Example:
      spine-dbt load --start 2025-12-12 --end 2025-12-26 --tier OTC \\
          --source-dir ../shared/data/finra
    """
    first, last, tiers = week_range.first, week_range.last, week_range.tiers
    with locked(warehouse, wait=wait):
        partitions, _ = backfill_lib.plan(
            warehouse,
            first,
            last,
            tiers,
            sources.source_dir,
            sources.calc_versions,
            force,
            sources.week_rule,
        )
        run_id = backfill_lib.load(warehouse, partitions, sources.calc_versions)
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
        "calc_versions": sources.calc_versions,
    }
    click.echo(f"loaded run {run_id}; build and publish it with:")
    where = f"SPINE_DB={warehouse.path}"
    if warehouse.on_spark:
        env = dbt.dbt_environment(warehouse, {})
        shown = ["SPINE_TARGET", "SPINE_SPARK_DIR"]
        if warehouse.thrift is not None:
            shown += ["SPINE_SPARK_METHOD", "SPINE_SPARK_HOST", "SPINE_SPARK_PORT"]
            shown += ["SPINE_SPARK_USER"] if "SPINE_SPARK_USER" in env else []
        where = " ".join(f"{key}={env[key]}" for key in shown)
    click.echo(
        f"  {where} dbt build --project-dir {PROJECT_DIR} --profiles-dir {PROJECT_DIR}"
        f" --target-path {dbt.target_path(warehouse)} --log-path {dbt.log_path(warehouse)}"
        f" --vars '{json.dumps(dbt_vars, sort_keys=True)}'"
    )
    sys.exit(0 if all(p.action in backfill_lib.TO_LOAD or p.ok for p in partitions) else 1)


@main.command(context_settings=CONTEXT)
@options.range_options(all_tiers_by_default=True)
@options.warehouse_options
@options.json_option
def status(week_range: WeekRange, warehouse: Warehouse, as_json: bool) -> None:
    """Completeness matrix of a range: weeks as rows, tiers as columns. Exit 1 on gaps.

    ✓n published (n captures so far), ✗ failed, · missing, ~ stale (its window read a
    capture that is no longer the latest), … loaded but not built, ! published but its rows
    are missing from a mart (published ⇒ complete does not hold: roll it back and backfill).

    \b
    Example:
      spine-dbt status --start 2025-12-12 --end 2025-12-26 --tier all
    """
    weeks, tiers = week_range.weeks, week_range.tiers
    if warehouse.exists():
        with connect(warehouse, read_only=True) as con:
            copy_mart_captures(warehouse, con, min(weeks), max(weeks))
            cells = ledger.completeness(con, weeks, tiers)
    else:
        cells = {(w, t): ledger.Cell("missing", 0, None) for w in weeks for t in tiers}
    if as_json:
        echo_json(
            [
                {"week_ending": w.isoformat(), "tier": t, **cells[(w, t)].__dict__}
                for w in weeks
                for t in tiers
            ]
        )
    else:
        click.echo(report.completeness_matrix(cells, weeks, tiers))
    sys.exit(1 if any(cell.state != "published" for cell in cells.values()) else 0)


@main.command("generate", context_settings=CONTEXT)
@options.generated_weeks_option
@options.tier_option(default_all=True)
@options.end_option
@options.out_option("Folder for the files.")
@options.scale_option
@options.seed_option
@options.layout_option
def generate_files(
    weeks: int,
    tiers: list[str],
    end: date | None,
    out: Path,
    scale: str,
    seed: int,
    layout: str,
) -> None:
    """Write deterministic FINRA-format weekly files (for demos and benchmarks), the last
    one for --end (default: 2025-12-26).

    One file per week and tier, dated as FINRA publishes it (the Monday after the week plus
    the tier's delay, or the next business day after a holiday) and named
    finra_otc_weekly_<tier>_<YYYYMMDD of that date>.<psv|csv|json>.

    \b
    Example:
      spine-dbt generate --weeks 156 --tier all --scale realistic --out /tmp/finra
      spine-dbt generate --weeks 6 --tier OTC --layout api --out /tmp/finra-api
    """
    written = generate(out, weeks, tiers, end or DEMO_END, scale=scale, seed=seed, layout=layout)
    click.echo(f"wrote {len(written)} files to {out}")


@main.command(context_settings=CONTEXT)
@options.out_option("Folder for the generated sample files (replaced).", default=DEFAULT_DEMO_DIR)
@options.warehouse_options
def demo(out: Path, warehouse: Warehouse) -> None:
    """Generate deterministic sample weeks and backfill them, then a FINRA revision of one week.

    Ten Fridays ending 2025-12-26, all three tiers, a few bad rows per file. The second
    backfill shows a revised week becoming a new capture and the later weeks whose 6-week
    windows include it being rebuilt; everything else stays up to date.

    \b
    Example:
      spine-dbt demo
      spine-dbt demo --out /tmp/finra-demo --db /tmp/demo.duckdb
    """
    if warehouse.exists():
        check_warehouse(warehouse)  # before generating the files
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
    click.echo(f"generated {len(written) - 1} weekly files in {weeks_dir}; warehouse {warehouse}")
    results = []
    with locked(warehouse):
        for title in ("backfill of the sample weeks", "the same backfill again"):
            if results:
                shutil.move(str(revision), str(weeks_dir / revision.name))
                title = f"FINRA revised {revision.name}: {title}"
            click.echo(f"\n== {title} ==")
            result = backfill_lib.backfill(
                warehouse, start, DEMO_END, DEMO_TIERS, weeks_dir, calc_versions
            )
            click.echo(report.backfill_summary(result))
            results.append(result)
    click.echo(
        f"\nthe marts are in {warehouse} (schema {relations.MARTS_SCHEMA}), e.g. select * from"
        f" {relations.in_marts(relations.PUBLIC_TABLES[1])};"
        f"\ncheck it: spine-dbt status --start {start} --end {DEMO_END} --tier all --db {warehouse}"
    )
    sys.exit(0 if all(r.ok for r in results) else 1)


for command in (*CAPTURE_COMMANDS, docs_command, report_command):
    main.add_command(command)
