"""Click commands of the analyst's view: the dbt docs lineage site and the weekly HTML report.

Registered on the `spine-dbt` group by cli.py. The functions are named `*_command` so that
importing them never shadows cli.py's `report` module. DatabaseBusy (here so that both modules
can raise it) is how every command reports a busy warehouse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import html_report, options, site
from .warehouse import WarehouseBusy, locked

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class DatabaseBusy(click.ClickException):
    """WarehouseBusy as the CLI reports it: its one-line message and exit 2 (an environment
    error, like a usage error), never a traceback."""

    exit_code = 2


@click.command("docs", context_settings=CONTEXT)
@options.db_option
@click.option(
    "--target-path",
    type=click.Path(file_okay=False, path_type=Path),
    default=site.DEFAULT_TARGET,
    show_default=True,
    help="Folder the site is written to (dbt's target folder).",
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
    target_path: Path,
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
    target = target_path.resolve()
    if no_generate:
        if not (target / "index.html").exists():
            raise click.BadParameter(
                f"no site in {target}; run without --no-generate first", param_hint="--target-path"
            )
    else:
        if not db_path.exists():
            raise click.ClickException(f"no warehouse at {db_path}: run `spine-dbt backfill` first")
        click.echo(f"generating the docs site from {db_path} ...", err=True)
        try:
            with locked(db_path, wait=wait):
                page = site.generate(db_path, target, static=static)
        except WarehouseBusy as exc:
            raise DatabaseBusy(str(exc)) from None
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
    try:
        result = html_report.write_report(
            db_path, day, tiers, out_path, movers=movers, min_mover_volume=min_mover_volume
        )
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except WarehouseBusy as exc:
        raise DatabaseBusy(str(exc)) from None
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
