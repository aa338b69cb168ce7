"""Click commands of the analyst's view: the dbt docs lineage site and the weekly HTML report.

Registered on the `spine-dbt` group by cli.py. The functions are named `*_command` so that
importing them never shadows cli.py's `report` module.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from . import dbt, html_report, options, relations, site
from .errors import check_warehouse, require_warehouse
from .options import CONTEXT
from .warehouse import Warehouse, locked


@click.command("docs", context_settings=CONTEXT)
@options.duckdb_warehouse_option
@options.target_path_option
@options.static_option
@options.serve_option
@options.port_option
@options.no_generate_option
@options.wait_option
def docs_command(
    warehouse: Warehouse,
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
    target = (target_path or dbt.target_path(warehouse)).resolve()
    if no_generate:
        if not (target / "index.html").exists():
            raise click.BadParameter(
                f"no site in {target}; run without --no-generate first", param_hint="--target-path"
            )
    else:
        require_warehouse(warehouse)
        target.mkdir(parents=True, exist_ok=True)  # an OSError here names the folder
        click.echo(f"generating the docs site from {warehouse} ...", err=True)
        with locked(warehouse, wait=wait):
            check_warehouse(warehouse)
            try:
                page = site.generate(warehouse, target, static=static)
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
@options.week_option
@options.tier_option(default_all=True)
@options.warehouse_options
@options.out_option("HTML file to write. [default: report_<week>.html]", folder=False)
@options.movers_option
@options.min_mover_volume_option
@options.wait_option
def report_command(
    week: date,
    tiers: list[str],
    warehouse: Warehouse,
    out: Path | None,
    movers: int,
    min_mover_volume: int,
    wait: bool,
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
    day = week
    out_path = (out or Path(f"report_{day}.html")).resolve()
    out_path.parent.mkdir(parents=True, exist_ok=True)  # fail before the queries, naming it
    try:
        result = html_report.write_report(
            warehouse, day, tiers, out_path, movers=movers, min_mover_volume=min_mover_volume
        )
    except html_report.ReportModelsMissing:
        _create_report_models(warehouse, wait)
        result = html_report.write_report(
            warehouse, day, tiers, out_path, movers=movers, min_mover_volume=min_mover_volume
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


def _create_report_models(warehouse: Warehouse, wait: bool) -> None:
    """A warehouse built by an earlier release has the marts but not the report's models:
    create them (views over the marts: nothing is rebuilt, nothing published changes)."""
    click.echo(
        f"creating the report models ({relations.REPORTS_SCHEMA}.rpt_*) this warehouse was"
        " built without ...",
        err=True,
    )
    with locked(warehouse, wait=wait):
        outcome = dbt.invoke(
            "run", warehouse, extra_args=["--select", relations.REPORT_MODELS_SELECTOR]
        )
    if not outcome.success:
        raise click.ClickException(f"could not create the report models: {outcome.exception}")
