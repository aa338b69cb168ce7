"""Click commands only: parse and validate options, call the library, print."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from pathlib import Path

import click

from . import backfill as backfill_lib
from . import options
from .generate import generate
from .paths import PROJECT_DIR
from .report import backfill_summary
from .warehouse import WarehouseBusy, locked
from .weeks import fridays_ending

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEMO_END = date(2025, 12, 26)
DEMO_WEEKS = 10


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="spine-dbt")
def main() -> None:
    """Backfill FINRA OTC Transparency weekly files into trusted, capture-keyed dbt marts."""


def _run_backfill(
    db_path: Path,
    start: date,
    end: date,
    tiers: list[str],
    source_dir: Path,
    calc_versions: dict[str, str],
    force: bool,
) -> backfill_lib.BackfillResult:
    result = backfill_lib.backfill(db_path, start, end, tiers, source_dir, calc_versions, force)
    click.echo(backfill_summary(result))
    return result


@main.command(context_settings=CONTEXT)
@options.start_option
@options.end_option
@options.weeks_back_option
@options.tier_option
@options.source_dir_option
@options.db_option
@options.calc_version_option
@click.option("--force", is_flag=True, help="Load and rebuild partitions that are up to date.")
@options.wait_option
def backfill(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    source_dir: Path,
    db: Path | None,
    calc_values: tuple[str, ...],
    force: bool,
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
    first, last = options.parse_range(start, end, weeks_back)
    tiers = options.parse_tiers(tier_values)
    calc_versions = options.parse_calc_versions(calc_values)
    db_path = options.database(db)
    try:
        with locked(db_path, wait=wait):
            result = _run_backfill(db_path, first, last, tiers, source_dir, calc_versions, force)
    except WarehouseBusy as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(0 if result.ok else 1)


@main.command(context_settings=CONTEXT)
@options.start_option
@options.end_option
@options.weeks_back_option
@options.tier_option
@options.source_dir_option
@options.db_option
@options.calc_version_option
@click.option("--force", is_flag=True, help="Load partitions that are up to date too.")
@options.wait_option
def load(
    start: str | None,
    end: str | None,
    weeks_back: int | None,
    tier_values: tuple[str, ...],
    source_dir: Path,
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
    first, last = options.parse_range(start, end, weeks_back)
    tiers = options.parse_tiers(tier_values)
    calc_versions = options.parse_calc_versions(calc_values)
    db_path = options.database(db)
    try:
        with locked(db_path, wait=wait):
            partitions, _ = backfill_lib.plan(
                db_path, first, last, tiers, source_dir, calc_versions, force
            )
            run_id = backfill_lib.load(db_path, partitions, calc_versions)
    except WarehouseBusy as exc:
        raise click.ClickException(str(exc)) from None
    for p in partitions:
        click.echo(
            f"{p.week_ending}  {p.tier:<10}  {p.action:<14}  {p.capture_id or ''}  {p.detail}"
        )
    if run_id is None:
        click.echo("nothing loaded")
        sys.exit(0 if all(p.ok for p in partitions) else 1)
    dbt_vars = {
        "run_id": run_id,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "tiers": tiers,
        "calc_versions": calc_versions,
    }
    click.echo(f"loaded run {run_id}; build and publish it with:")
    click.echo(
        f"  SPINE_DB={db_path} dbt build --project-dir {PROJECT_DIR} --profiles-dir {PROJECT_DIR}"
        f" --vars '{json.dumps(dbt_vars, sort_keys=True)}'"
    )
    sys.exit(0 if all(p.action in backfill_lib.TO_LOAD or p.ok for p in partitions) else 1)


@main.command(context_settings=CONTEXT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=PROJECT_DIR / "demo_data",
    show_default=True,
    help="Folder for the generated sample files (replaced).",
)
@options.db_option
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
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    weeks_dir = out / "weeks"
    tiers = ["NMS_TIER_1", "NMS_TIER_2", "OTC"]
    written = generate(weeks_dir, DEMO_WEEKS, tiers, DEMO_END, revised_week=True)
    pending = out / "pending_revision"
    pending.mkdir()
    revision = Path(shutil.move(str(written[-1]), str(pending / written[-1].name)))
    shutil.rmtree(weeks_dir / "revisions", ignore_errors=True)
    start = fridays_ending(DEMO_END, DEMO_WEEKS)[0]
    calc_versions = options.parse_calc_versions(())
    click.echo(f"generated {len(written) - 1} weekly files in {weeks_dir}; warehouse {db_path}")
    try:
        with locked(db_path):
            click.echo("\n== backfill of the sample weeks ==")
            first = _run_backfill(db_path, start, DEMO_END, tiers, weeks_dir, calc_versions, False)
            shutil.move(str(revision), str(weeks_dir / revision.name))
            click.echo(f"\n== FINRA revised {revision.name}: the same backfill again ==")
            second = _run_backfill(db_path, start, DEMO_END, tiers, weeks_dir, calc_versions, False)
    except WarehouseBusy as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f'\nquery the marts: duckdb {db_path} "select * from '
        'main.finra_otc_transparency_venue_share_latest order by week_ending, tier, rank"'
    )
    sys.exit(0 if first.ok and second.ok else 1)
