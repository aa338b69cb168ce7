"""Click commands over the captures already in the warehouse: list them, roll them back,
compare two, read a run's test results, export the public tables.

Registered on the `spine-dbt` group by cli.py.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from . import backfill as backfill_lib
from . import dbt, ledger, options, relations, report
from .errors import NotFound, check_warehouse, require_warehouse
from .export import export as export_tables
from .options import CONTEXT
from .tiers import TIERS
from .warehouse import Warehouse, connect, copy_capture_marts, locked

CAPTURES_HINT = "`spine-dbt captures --week <Friday>` lists a week's captures and their runs"


def echo_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))


@click.command("captures", context_settings=CONTEXT)
@options.week_option
@options.tier_option(default_all=True)
@options.warehouse_options
@options.json_option
def captures_command(week: date, tiers: list[str], warehouse: Warehouse, as_json: bool) -> None:
    """Every capture of a week, newest first: status, rows, source file, SHA-256, captured_at.

    \b
    Example:
      spine-dbt captures --week 2025-12-26 --tier OTC
    """
    with connect(warehouse, read_only=True) as con:
        rows = ledger.captures_of_week(con, week, tiers)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no captures of {week}")
        return
    columns = {
        "capture": "capture_id",
        "status": "status",
        "read": "rows_read",
        "accepted": "rows_accepted",
        "totals": "rows_finra_totals",
        "rejected": "rows_rejected",
        "captured_at": "captured_at",
        "sha256": "file_sha256",
        "file": "source_file",
    }
    shown = [[r[key] for key in columns.values()] for r in rows]
    for row in shown:  # FINRA's totals only where the layout has them; the digest's head
        row[4], row[7] = row[4] or None, str(row[7])[:12]
    click.echo(report.table(list(columns), shown))


@click.command("rollback", context_settings=CONTEXT)
@options.capture_ids_option
@options.run_id_option
@options.warehouse_options
@options.yes_option
@options.wait_option
def rollback_command(
    capture_ids: tuple[str, ...], run_id: str | None, warehouse: Warehouse, yes: bool, wait: bool
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
    require_warehouse(warehouse)  # before locked() makes its folder and lock file
    with locked(warehouse, wait=wait):
        with connect(warehouse, read_only=True) as con:
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
        click.echo("will roll back:\n" + "".join(f"  {c}\n" for c in chosen), nl=False)
        if dependents:
            click.echo("and the later captures whose 6-week windows read them:")
            click.echo("".join(f"  {c}\n" for c in dependents), nl=False)
        options.confirm("proceed?", yes)
        detail = f"rolled back ({'run ' + run_id if run_id else 'by capture id'})"
        # The macro finds the dependents itself (the same query as the preview above).
        outcome = backfill_lib.rollback(warehouse, chosen, detail)
    if not outcome.success:
        raise click.ClickException(f"rollback failed: {outcome.exception}")
    weeks = sorted({capture_id.split(":")[1] for capture_id in chosen + dependents})
    with connect(warehouse, read_only=True) as con:
        click.echo("latest capture now:")
        for week in weeks:
            rows = ledger.captures_of_week(con, date.fromisoformat(week), list(TIERS))
            latest = [r for r in rows if r["status"] == "published"][:1]
            click.echo(
                f"  {week} {latest[0]['tier']}: {latest[0]['capture_id']}"
                if latest
                else f"  {week}: none published"
            )


@click.command("verify", context_settings=CONTEXT)
@options.capture_ids_option
@options.against_option
@options.published_option
@options.limit_option
@options.warehouse_options
def verify_command(
    capture_ids: tuple[str, ...],
    against: str | None,
    published: bool,
    limit: int,
    warehouse: Warehouse,
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
    if published:
        if capture_ids or against:
            raise click.UsageError("--published takes no --capture-id / --against")
        _verify_published(warehouse)
        return
    if len(capture_ids) != 1 or not against:
        raise click.UsageError("give one --capture-id and --against, or --published")
    capture_id = capture_ids[0]
    with connect(warehouse, read_only=True) as con:
        unknown = ledger.capture_exists(con, [capture_id, against])
        if unknown:
            raise NotFound(f"unknown capture ids: {', '.join(unknown)}", CAPTURES_HINT)
        copy_capture_marts(warehouse, con, [capture_id, against])
        differences = ledger.diff_captures(con, capture_id, against, limit)
    if not differences:
        click.echo("identical: every mart row matches (capture ids and timestamps excluded)")
        return
    for table, side, row in differences:
        click.echo(f"{table}  {side}: {row}")
    sys.exit(1)


def _verify_published(warehouse: Warehouse) -> None:
    """`dbt test` over the published warehouse; exit 1 when an error-severity test fails."""
    require_warehouse(warehouse)
    with locked(warehouse):  # the outcome is recorded in raw.test_results
        check_warehouse(warehouse)  # before dbt, which would log a traceback of its own
        outcome = dbt.invoke("test", warehouse, extra_args=["--exclude-resource-type", "unit_test"])
    if outcome.exception:
        raise click.ClickException(f"dbt test failed to run: {outcome.exception}")
    tests = [node for node in outcome.nodes if node.resource_type == "test"]
    for node in outcome.failed + outcome.warned:
        click.echo(f"{node.status}  {node.name}: {node.failures} rows")
    if outcome.failed:
        click.echo(f"{len(outcome.failed)} of {len(tests)} invariants fail on published data")
        sys.exit(1)
    click.echo(f"every invariant holds on the published warehouse ({len(tests)} tests)")


@click.command("quality", context_settings=CONTEXT)
@options.run_id_option
@options.warehouse_options
@options.show_all_option
@options.json_option
def quality_command(
    run_id: str | None, warehouse: Warehouse, show_all: bool, as_json: bool
) -> None:
    """Test results of a run (default: the newest run with test results): fail / warn / pass
    with failing-row counts and failing rows.

    \b
    Example:
      spine-dbt quality
      spine-dbt quality --run-id run_20261124T071828317712Z --json
    """
    with connect(warehouse, read_only=True) as con:
        recorded = ledger.relation_exists(con, relations.TEST_RESULTS)
        results = ledger.test_results(con, run_id) if recorded else []
    if run_id and not results:
        raise NotFound(
            f"no test results of run {run_id}",
            "`spine-dbt quality` without --run-id shows the newest run's",
        )
    if as_json:
        echo_json(results)
        return
    if not results:
        click.echo("no test results recorded")
        return
    click.echo(f"run {results[0]['run_id']}")
    shown = results if show_all else [r for r in results if r["status"] != "pass"]
    if shown:
        columns = ["status", "severity", "test_name", "model_name", "failures"]
        rows = [
            [str(r[key])[:90] if key == "test_name" else r[key] for key in columns] for r in shown
        ]
        click.echo(report.table(["status", "severity", "test", "model", "failing rows"], rows))
    passed = sum(1 for r in results if r["status"] == "pass")
    click.echo(
        f"{passed} of {len(results)} tests passed" + ("" if show_all else " (--all lists them)")
    )
    for r in results:
        if r["failing_rows"]:
            click.echo(f"\n{r['test_name']} failing rows:")
            for row in json.loads(str(r["failing_rows"])):
                click.echo(f"  {row}")


@click.command("export", context_settings=CONTEXT)
@options.out_option("Folder for the files (created; files of the same names are replaced).")
@options.format_option
@options.start_option
@options.end_option
@options.tier_option(default_all=True)
@options.warehouse_options
@options.wait_option
def export_command(
    out: Path,
    fmt: str,
    start: date | None,
    end: date | None,
    tiers: list[str],
    warehouse: Warehouse,
    wait: bool,
) -> None:
    """Write every public table as OUT/<table>.<format>: the `_latest` view of each mart
    (the newest published capture of every week and tier), the rejects and the captures.
    --start/--end/--tier narrow it (default: every week, every tier).

    \b
    Example:
      spine-dbt export --out /tmp/finra-export --format parquet
      spine-dbt export --out /tmp/otc --format csv --start 2025-12-12 --end 2025-12-26 --tier OTC
    """
    if start and end and start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}")
    require_warehouse(warehouse)
    with locked(warehouse, wait=wait):
        written = export_tables(warehouse, out.resolve(), fmt, start, end, tiers)
    for table in relations.PUBLIC_TABLES:
        click.echo(f"{written[table]:>9} rows  {out / f'{table}.{fmt}'}")


COMMANDS = (captures_command, rollback_command, verify_command, quality_command, export_command)
