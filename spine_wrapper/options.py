"""Every Click option of spine-dbt, declared once here (dbt-core's params.py style), each with
its SPINE_* environment variable where it has one, and the parsing that turns a group of
options into the one object a command needs (a Warehouse, a WeekRange, Sources).

The commands (cli*.py) only stack these decorators; a test checks that no `click.option(`
appears anywhere else.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click

from . import calcs, formats, tiers, weeks
from .backfill import CHUNK_WEEKS
from .engines import SPARK_METHODS, ThriftServer
from .export import FORMATS
from .generate import LAYOUTS
from .paths import DEFAULT_DB, DEFAULT_SPARK_DIR, describe_default, resolve_db
from .warehouse import TARGETS, Warehouse

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*decorators: Decorator) -> Decorator:
    """Apply option decorators in the order --help lists them."""

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorate in reversed(decorators):
            func = decorate(func)
        return func

    return apply


def _inject(name: str, build: Callable[..., Any], consumed: tuple[str, ...]) -> Decorator:
    """Replace the parameters `consumed` of a command by one keyword `name` = build(**them)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = build(**{key: kwargs.pop(key) for key in consumed})
            return func(*args, **kwargs)

        return wrapper

    return decorate


# ---------------------------------------------------------------- the warehouse

db_option = click.option(
    "--db",
    envvar="SPINE_DB",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_envvar=True,
    help=f"DuckDB warehouse file (made absolute). [default: {describe_default(DEFAULT_DB)}]",
)
target_option = click.option(
    "--target",
    envvar="SPINE_TARGET",
    show_envvar=True,
    type=click.Choice(TARGETS),
    default="duckdb",
    show_default=True,
    help="dbt target: the embedded DuckDB file (--db) or Apache Spark (--spark-method).",
)
spark_dir_option = click.option(
    "--spark-dir",
    envvar="SPINE_SPARK_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_SPARK_DIR,
    show_default=DEFAULT_SPARK_DIR.is_absolute() or describe_default(DEFAULT_SPARK_DIR),
    help="Spark target: where the local session keeps its warehouse and metastore (with"
    " --spark-method thrift, only dbt's state).",
)
# The thrift settings are plain text here and checked only on the spark target, so that a
# SPINE_SPARK_* variable meant for something else (a hand-run dbt, scripts/spark-cluster)
# never stops a DuckDB command.
spark_method_option = click.option(
    "--spark-method",
    envvar="SPINE_SPARK_METHOD",
    show_envvar=True,
    metavar="[session|thrift]",
    default="session",
    show_default=True,
    help="Spark target: `session`, a local in-process Spark in --spark-dir; or `thrift`, a"
    " Spark Thrift server (a cluster's SQL endpoint) at --spark-host/--spark-port, reached"
    " through SQL only.",
)
spark_host_option = click.option(
    "--spark-host",
    envvar="SPINE_SPARK_HOST",
    show_envvar=True,
    help="thrift: the Thrift server's host (required).",
)
spark_port_option = click.option(
    "--spark-port",
    envvar="SPINE_SPARK_PORT",
    show_envvar=True,
    metavar="PORT",
    default="10000",
    show_default=True,
    help="thrift: the Thrift server's port.",
)
spark_user_option = click.option(
    "--spark-user",
    envvar="SPINE_SPARK_USER",
    show_envvar=True,
    help="thrift: the user to connect as [default: this login's name].",
)
spark_landing_option = click.option(
    "--spark-landing",
    envvar="SPINE_SPARK_LANDING",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="thrift: a folder this machine writes and every Spark executor reads (a shared"
    " mount); new raw rows reach the cluster through it as Parquet files (required to write).",
)

SPARK_OPTION_NAMES = {
    "method": "--spark-method (SPINE_SPARK_METHOD)",
    "host": "--spark-host (SPINE_SPARK_HOST)",
    "port": "--spark-port (SPINE_SPARK_PORT)",
}


def _thrift_server(
    method: str, host: str | None, port: str, user: str | None, landing: Path | None
) -> ThriftServer | None:
    """The Thrift server of the spark target, or None for a local session; BadParameter
    naming the option and its variable when a setting is missing or wrong."""
    method = (method or "session").strip().lower()
    if method not in SPARK_METHODS:
        raise click.BadParameter(
            f"{method!r} is not one of {', '.join(SPARK_METHODS)} (`http`, Databricks, is"
            " for a hand-run dbt: README, Running on Spark)",
            param_hint=SPARK_OPTION_NAMES["method"],
        )
    if method == "session":
        return None
    if not (host or "").strip():
        raise click.BadParameter(
            "the Thrift server's host is required with --spark-method thrift",
            param_hint=SPARK_OPTION_NAMES["host"],
        )
    text = str(port).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise click.BadParameter(
            f"{text!r} is not a TCP port (1-65535)", param_hint=SPARK_OPTION_NAMES["port"]
        )
    return ThriftServer(str(host).strip(), int(text), (user or "").strip() or None, landing)


def _warehouse(
    db: Path | None,
    target: str = "duckdb",
    spark_dir: Path | None = None,
    spark_method: str = "session",
    spark_host: str | None = None,
    spark_port: str = "10000",
    spark_user: str | None = None,
    spark_landing: Path | None = None,
) -> Warehouse:
    if target != "spark":
        return Warehouse(resolve_db(db), target)
    thrift = _thrift_server(spark_method, spark_host, spark_port, spark_user, spark_landing)
    return Warehouse(resolve_db(db), target, spark_dir, thrift)


# --db, --target, --spark-* -> `warehouse: Warehouse`
warehouse_options = _stack(
    db_option,
    target_option,
    spark_dir_option,
    spark_method_option,
    spark_host_option,
    spark_port_option,
    spark_user_option,
    spark_landing_option,
    _inject(
        "warehouse",
        _warehouse,
        (
            "db",
            "target",
            "spark_dir",
            "spark_method",
            "spark_host",
            "spark_port",
            "spark_user",
            "spark_landing",
        ),
    ),
)
# --db alone (commands that read what only the DuckDB target has) -> `warehouse: Warehouse`
duckdb_warehouse_option = _stack(db_option, _inject("warehouse", _warehouse, ("db",)))

wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Wait for another process (spine-dbt, a hand-run dbt) to release the database.",
)
yes_option = click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Answer yes to every question: a range longer than --max-weeks, a rollback.",
)


def confirm(question: str, yes: bool, refusal: str | None = None) -> None:
    """Go on when `yes` (--yes); else ask `question` (click.Abort on no). With a `refusal`,
    ask only on a terminal and otherwise raise it as a usage error (it says to pass --yes):
    a script should not hang on, nor silently answer, a question it never saw."""
    if yes:
        return
    if refusal is not None and not sys.stdin.isatty():
        raise click.UsageError(refusal)
    click.confirm(question, abort=True)


# ---------------------------------------------------------------- weeks and tiers


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


def _friday(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    return None if value is None else parse_friday(value, f"--{param.name}")


def _tiers(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    return parse_tiers(value)


start_option = click.option("--start", callback=_friday, help="First Friday (YYYY-MM-DD).")
end_option = click.option("--end", callback=_friday, help="Last Friday (YYYY-MM-DD), inclusive.")
week_option = click.option("--week", required=True, callback=_friday, help="The Friday.")
weeks_back_option = click.option(
    "--weeks-back",
    type=click.IntRange(min=1),
    help="The N Fridays ending at --end (or at the last Friday on or before today).",
)
TIER_HELP = (
    "Tier: NMS_TIER_1, NMS_TIER_2, OTC (any spelling, e.g. 'NMS Tier 1', T2) or 'all'. Repeatable."
)


def tier_option(default_all: bool = False) -> Decorator:
    """--tier, repeatable, -> `tiers` (canonical names): required, or 'all' by default."""
    return click.option(
        "--tier",
        "tiers",
        multiple=True,
        required=not default_all,
        default=("all",) if default_all else None,
        show_default=default_all,
        callback=_tiers,
        help=TIER_HELP,
    )


max_weeks_option = click.option(
    "--max-weeks",
    envvar="SPINE_MAX_WEEKS",
    show_envvar=True,
    type=click.IntRange(min=1),
    default=520,
    show_default=True,
    help="Ask before a range longer than this many weeks (refused without a terminal unless"
    " --yes is given).",
)


@dataclass(frozen=True)
class WeekRange:
    """The Fridays first..last (inclusive) and the canonical tiers a command works on."""

    first: date
    last: date
    tiers: list[str]

    @property
    def weeks(self) -> list[date]:
        return weeks.fridays(self.first, self.last)


def parse_range(start: date | None, end: date | None, weeks_back: int | None) -> tuple[date, date]:
    """--start/--end (Fridays, start <= end) or --weeks-back; click.BadParameter otherwise."""
    if weeks_back is not None:
        if start:
            raise click.BadParameter("--weeks-back cannot be combined with --start")
        return weeks.weeks_back_range(weeks_back, end, date.today())
    if start is None or end is None:
        raise click.BadParameter("give --start and --end (Fridays), or --weeks-back N")
    if start > end:
        raise click.BadParameter(
            f"--start {start} is after --end {end}; the range is start..end inclusive"
        )
    return start, end


def _week_range(
    start: date | None,
    end: date | None,
    weeks_back: int | None,
    tiers: list[str],
    max_weeks: int,
    yes: bool,
) -> WeekRange:
    first, last = parse_range(start, end, weeks_back)
    count = (last - first).days // 7 + 1
    if count > max_weeks:
        confirm(
            f"{first}..{last} is {count} weeks, more than --max-weeks {max_weeks}; process it?",
            yes,
            f"Invalid value for --start/--end: {first}..{last} is {count} weeks, more than"
            f" --max-weeks {max_weeks}; pass --yes to process it anyway",
        )
    return WeekRange(first, last, tiers)


_RANGE_OPTIONS = ("start", "end", "weeks_back", "tiers", "max_weeks", "yes")


def range_options(all_tiers_by_default: bool = False) -> Decorator:
    """--start/--end or --weeks-back, --tier, --max-weeks, --yes -> `week_range: WeekRange`."""
    return _stack(
        start_option,
        end_option,
        weeks_back_option,
        tier_option(all_tiers_by_default),
        max_weeks_option,
        yes_option,
        _inject("week_range", _week_range, _RANGE_OPTIONS),
    )


# ---------------------------------------------------------------- the source files

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


def parse_calc_versions(values: tuple[str, ...]) -> dict[str, str]:
    try:
        chosen, warnings = calcs.resolve(list(values))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--calc-version") from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    return chosen


calc_version_option = click.option(
    "--calc-version",
    "calc_versions",
    multiple=True,
    metavar="CALC=vN",
    callback=lambda ctx, param, value: parse_calc_versions(value),
    help="Calc version to compute, e.g. liquidity_score=v2 (default: the current versions).",
)


@dataclass(frozen=True)
class Sources:
    """Where a run's files come from and how it computes them."""

    source_dir: Path
    week_rule: str
    calc_versions: dict[str, str]


# --source-dir, --week-rule, --calc-version -> `sources: Sources`
source_options = _stack(
    source_dir_option,
    week_rule_option,
    calc_version_option,
    _inject("sources", Sources, ("source_dir", "week_rule", "calc_versions")),
)

# ---------------------------------------------------------------- what a command does

force_option = click.option(
    "--force", is_flag=True, help="Treat up-to-date partitions as new (load and rebuild them)."
)
JSON_ALONE = "-"  # --json without a value


def _json(ctx: click.Context, param: click.Parameter, value: str | None) -> bool:
    """--json is a flag. `backfill --json PATH`, the old spelling of --report PATH, still
    works for one release, with a warning."""
    if value is None or value == JSON_ALONE:
        return value == JSON_ALONE
    if ctx.command.name != "backfill":
        raise click.BadParameter(f"takes no value (got {value!r})", param_hint="--json")
    click.echo("warning: `--json PATH` is deprecated: use --report PATH", err=True)
    ctx.meta["deprecated_report_path"] = Path(value)
    return False


json_option = click.option(
    "--json",
    "as_json",
    is_flag=False,
    flag_value=JSON_ALONE,
    default=None,
    metavar="",
    callback=_json,
    help="Print the result as JSON on stdout instead of text.",
)
report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the run report (JSON: partitions, captures, rows, rejects, failing tests,"
    " timings) to this file.",
)


def report_path(given: Path | None) -> Path | None:
    """--report PATH, or the deprecated `--json PATH` of this invocation."""
    return given or click.get_current_context().meta.get("deprecated_report_path")


dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Only show the plan (same as `spine-dbt plan`)."
)
retry_failed_option = click.option(
    "--retry-failed", is_flag=True, help="Only re-attempt partitions whose last capture failed."
)
progress_option = click.option(
    "--progress/--no-progress", default=True, help="Show stages and dbt nodes as they finish."
)
chunk_weeks_option = click.option(
    "--chunk-weeks",
    envvar="SPINE_CHUNK_WEEKS",
    show_envvar=True,
    type=click.IntRange(min=1),
    default=CHUNK_WEEKS,
    show_default=True,
    help="Build long ranges this many weeks at a time, oldest first.",
)
capture_ids_option = click.option(
    "--capture-id", "capture_ids", multiple=True, help="A capture (repeatable)."
)
run_id_option = click.option("--run-id", help="A run: every capture it loaded.")
against_option = click.option("--against", help="The capture to compare with (verify).")
published_option = click.option(
    "--published",
    is_flag=True,
    help="Instead: run every invariant (dbt test) over the published warehouse.",
)
limit_option = click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Differences shown per table.",
)
show_all_option = click.option("--all", "show_all", is_flag=True, help="List passing tests too.")


def out_option(help: str, *, folder: bool = True, default: Path | None = None) -> Decorator:  # noqa: A002
    """--out: the folder (or file) a command writes; required unless it has a default."""
    return click.option(
        "--out",
        type=click.Path(file_okay=not folder, dir_okay=folder, path_type=Path),
        required=default is None and folder,
        default=default,
        show_default=default is not None,
        help=help,
    )


format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default=FORMATS[0], show_default=True
)

# generate
generated_weeks_option = click.option(
    "--weeks", type=click.IntRange(min=1), default=8, show_default=True, help="Weeks to write."
)
scale_option = click.option(
    "--scale", type=click.Choice(["small", "realistic"]), default="small", show_default=True
)
seed_option = click.option("--seed", type=int, default=7, show_default=True)
layout_option = click.option(
    "--layout",
    type=click.Choice(list(LAYOUTS)),
    default="legacy",
    show_default=True,
    help="legacy: FINRA's pipe-delimited export (.psv); api: the API's text export (quoted"
    " CSV, .csv); json: the API's JSON output (.json). api and json add FINRA's symbol totals.",
)

# docs and report
target_path_option = click.option(
    "--target-path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the site is written to [default: the warehouse's dbt target folder,"
    " <warehouse dir>/.spine/<name>-<hash>/target].",
)
static_option = click.option(
    "--static",
    is_flag=True,
    help="Also write static_index.html: the whole site in one file that opens from disk.",
)
serve_option = click.option(
    "--serve", is_flag=True, help="Serve the site on 127.0.0.1 after generating it."
)
port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port for --serve (0 picks a free one).",
)
no_generate_option = click.option(
    "--no-generate", is_flag=True, help="Serve the site already in --target-path."
)
movers_option = click.option(
    "--movers",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Symbols listed as rising and as falling most over their 6-week window.",
)
min_mover_volume_option = click.option(
    "--min-mover-volume",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Only symbols averaging at least this many shares a week count as movers.",
)
debug_option = click.option(
    "--debug",
    is_flag=True,
    envvar="SPINE_DEBUG",
    show_envvar=True,
    help="Print the Python traceback of an error (for bug reports).",
)
