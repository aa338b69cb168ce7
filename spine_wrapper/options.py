"""Reusable Click options, each with its SPINE_* environment variable, and their parsing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import calcs, formats, tiers, warehouse, weeks
from .paths import DEFAULT_DB, DEFAULT_SPARK_DIR, describe_default, resolve_db

db_option = click.option(
    "--db",
    envvar="SPINE_DB",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_envvar=True,
    help=f"DuckDB warehouse file (made absolute). [default: {describe_default(DEFAULT_DB)}]",
)
source_dir_option = click.option(
    "--source-dir",
    envvar="SPINE_SOURCE_DIR",
    show_envvar=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder scanned recursively for FINRA weekly files (identified by content, not name).",
)
week_rule_option = click.option(
    "--week-rule",
    envvar="SPINE_WEEK_RULE",
    show_envvar=True,
    type=click.Choice(formats.WEEK_RULES),
    default=formats.WEEK_RULES[0],
    show_default=True,
    help="How files without a week column (the legacy export) are placed: the week FINRA"
    " published them for (publication date minus the tier's delay), or previous-friday: the"
    " Friday before lastUpdateDate, as warehouses built before that rule were.",
)
start_option = click.option("--start", help="First Friday of the range (YYYY-MM-DD).")
end_option = click.option("--end", help="Last Friday of the range (YYYY-MM-DD), inclusive.")
weeks_back_option = click.option(
    "--weeks-back",
    type=click.IntRange(min=1),
    help="The N Fridays ending at --end (or at the last Friday on or before today).",
)
TIER_HELP = (
    "Tier: NMS_TIER_1, NMS_TIER_2, OTC (any spelling, e.g. 'NMS Tier 1', T2) or 'all'. Repeatable."
)
tier_option = click.option("--tier", "tier_values", multiple=True, required=True, help=TIER_HELP)
tier_all_option = click.option(
    "--tier", "tier_values", multiple=True, default=("all",), show_default=True, help=TIER_HELP
)
calc_version_option = click.option(
    "--calc-version",
    "calc_values",
    multiple=True,
    metavar="CALC=vN",
    help="Calc version to compute, e.g. liquidity_score=v2 (default: the current versions).",
)
max_weeks_option = click.option(
    "--max-weeks",
    envvar="SPINE_MAX_WEEKS",
    show_envvar=True,
    type=click.IntRange(min=1),
    default=520,
    show_default=True,
    help="Refuse ranges longer than this many weeks unless --yes is given.",
)
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask; accept long ranges.")
target_option = click.option(
    "--target",
    envvar="SPINE_TARGET",
    show_envvar=True,
    type=click.Choice(warehouse.TARGETS),
    default="duckdb",
    show_default=True,
    help="dbt target: the embedded DuckDB file (--db) or Apache Spark (--spark-dir).",
)
spark_dir_option = click.option(
    "--spark-dir",
    envvar="SPINE_SPARK_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SPARK_DIR,
    show_default=DEFAULT_SPARK_DIR.is_absolute() or describe_default(DEFAULT_SPARK_DIR),
    help="Spark target: where the local session keeps its warehouse and metastore.",
)


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --target and --spark-dir to a command and select the target before it runs, so
    the command itself stays target-agnostic."""

    @functools.wraps(func)
    def wrapper(*args: Any, target: str, spark_dir: Path, **kwargs: Any) -> Any:
        warehouse.use_target(target, spark_dir)
        return func(*args, **kwargs)

    return target_option(spark_dir_option(wrapper))


wait_option = click.option(
    "--wait", is_flag=True, help="Wait for another spine-dbt process to release the database."
)


def parse_range(start: str | None, end: str | None, weeks_back: int | None) -> tuple[date, date]:
    """--start/--end (Fridays, start <= end) or --weeks-back; click.BadParameter otherwise."""
    try:
        end_day = weeks.require_friday(weeks.parse_date(end), "--end") if end else None
        if weeks_back is not None:
            if start:
                raise click.BadParameter("--weeks-back cannot be combined with --start")
            return weeks.weeks_back_range(weeks_back, end_day, date.today())
        if not start or end_day is None:
            raise click.BadParameter("give --start and --end (Fridays), or --weeks-back N")
        start_day = weeks.require_friday(weeks.parse_date(start), "--start")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if start_day > end_day:
        raise click.BadParameter(
            f"--start {start_day} is after --end {end_day}; the range is start..end inclusive"
        )
    return start_day, end_day


def check_range_size(start: date, end: date, max_weeks: int, yes: bool) -> None:
    """A range longer than --max-weeks needs --yes (a typo in a year should not load decades)."""
    count = (end - start).days // 7 + 1
    if count > max_weeks and not yes:
        raise click.BadParameter(
            f"{start}..{end} is {count} weeks, more than --max-weeks {max_weeks}; "
            "pass --yes to process it anyway",
            param_hint="--start/--end",
        )


def parse_friday(text: str, what: str) -> date:
    try:
        return weeks.require_friday(weeks.parse_date(text), what)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from None


def parse_tiers(values: tuple[str, ...]) -> list[str]:
    try:
        return tiers.parse_tiers(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tier") from None


def parse_calc_versions(values: tuple[str, ...]) -> dict[str, str]:
    try:
        chosen, warnings = calcs.resolve(list(values))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--calc-version") from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    return chosen


def database(db: Path | None) -> Path:
    return resolve_db(db)
