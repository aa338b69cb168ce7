"""The analyst's one-page HTML report of a week: venue shares, concentration, movers, gaps.

Every number comes from the report's dbt models (models/reports, schema `reports`: documented,
tested, in the lineage graph under the exposure finra_venue_share_report), views over published
data. This module only queries them, with the report's parameters (week, tiers, how many
movers, their minimum volume) in its queries, draws the charts with matplotlib as inline SVG,
so the page is one file that needs no network, and renders templates/report.html.j2.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import jinja2
from markupsafe import Markup

from . import ledger, relations
from .warehouse import Warehouse, connect, copy_models
from .weeks import fridays_ending

TEMPLATE = "report.html.j2"  # in spine_wrapper/templates/
COMPLETENESS_WEEKS = 12
CHART_VENUES = 15  # venues drawn in the bar chart; the rest are summed as "others"
REJECT_SAMPLES = 20
ACCENT = "#1f6feb"
# The histogram's bar colours, by rpt_concentration_bands.band_order.
BAND_COLORS = ("#93c5fd", "#fbbf24", "#f87171")


class ReportModelsMissing(FileNotFoundError):
    """The warehouse has published data but not the report's models (built by an earlier
    release): `spine-dbt report` creates them (views) and asks again."""


# Each dataclass is the columns the report reads from one model (the field names are the
# column names, so the query is written from the class).


@dataclass
class Venue:
    """A row of rpt_venue_share_movers."""

    rank: int
    mpid: str
    venue_name: str | None
    total_volume: int
    total_trades: int
    symbol_count: int
    market_share_pct: float
    previous_market_share_pct: float | None  # the week before, if published and traded
    market_share_change_pts: float | None


@dataclass
class Band:
    """A row of rpt_concentration_bands."""

    hhi_band: str
    band_order: int
    hhi_from: float
    hhi_to: float
    symbol_count: int
    total_volume: int
    tier_volume_share: float


@dataclass
class Mover:
    """A row of rpt_symbol_movers."""

    symbol: str
    issue_name: str | None
    trend_pct: float
    trend_direction: str
    avg_volume: float
    weeks_in_window: int
    total_volume: int | None  # this week's volume


@dataclass
class RejectCount:
    """A row of rpt_rejects_by_code."""

    reason_code: str
    rejected_lines: int


@dataclass
class RejectedLine:
    """A row of rpt_rejected_lines."""

    source_file: str
    line_number: int
    reason_codes: str
    raw_line: str


@dataclass
class TierWeek:
    """One tier of the week: its row of rpt_tier_week_summary (the fields without a default)
    and the rows of the other models for the same (week, tier)."""

    week_ending: date
    tier: str
    capture_id: str
    source_file: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    reject_rate: float
    top_mpid: str
    top_venue_name: str | None
    top_market_share_pct: float
    venue_count: int
    total_volume: int
    total_trades: int
    symbol_count: int
    single_venue_symbol_count: int
    venues: list[Venue] = field(default_factory=list)  # by rank
    concentration: list[float] = field(default_factory=list)  # each symbol's hhi, by symbol
    bands: list[Band] = field(default_factory=list)
    risers: list[Mover] = field(default_factory=list)
    fallers: list[Mover] = field(default_factory=list)
    rejects_by_code: list[RejectCount] = field(default_factory=list)
    reject_samples: list[RejectedLine] = field(default_factory=list)

    @property
    def top_venue(self) -> Venue:
        return self.venues[0]


@dataclass
class WeekReport:
    week: date
    tiers: list[str]
    sections: list[TierWeek]
    weeks: list[date]  # the completeness matrix rows, oldest first
    cells: dict[tuple[date, str], tuple[str, int]] = field(default_factory=dict)
    min_mover_volume: int = 0

    @property
    def missing_tiers(self) -> list[str]:
        shown = {s.tier for s in self.sections}
        return [t for t in self.tiers if t not in shown]


# ---------------------------------------------------------------------------- reading


def _columns(cls: type) -> list[str]:
    """The model columns a dataclass holds: its fields without a default."""
    return [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]


def _select(
    con: duckdb.DuckDBPyConnection,
    model: str,
    cls: type,
    where: str,
    params: list[Any],
    order_by: str,
    limit: int | None = None,
) -> list[Any]:
    """The rows of `model` (a report model, from the relations registry) matching `where`,
    as instances of `cls`."""
    columns = ", ".join(_columns(cls))
    sql = f"select {columns} from {model} where {where} order by {order_by}"
    if limit is not None:
        sql += " limit ?"
        params = [*params, limit]
    return [cls(**row) for row in ledger.rows_as_dicts(con.execute(sql, params))]


WEEK_AND_TIER = "week_ending = ? and tier = ?"


def _tier_week(
    con: duckdb.DuckDBPyConnection, week: date, tier: str, movers: int, min_volume: int
) -> TierWeek | None:
    key = [week, tier]
    found = _select(con, relations.REPORT_TIER_WEEK, TierWeek, WEEK_AND_TIER, key, "capture_id")
    if not found:
        return None
    section: TierWeek = found[0]
    section.venues = _select(con, relations.REPORT_VENUE_MOVERS, Venue, WEEK_AND_TIER, key, "rank")
    section.concentration = [
        float(hhi)
        for (hhi,) in con.execute(
            f"select hhi from {relations.REPORT_CONCENTRATION} where {WEEK_AND_TIER}"
            " order by symbol",
            key,
        ).fetchall()
    ]
    section.bands = _select(con, relations.REPORT_BANDS, Band, WEEK_AND_TIER, key, "band_order")
    movers_where = f"{WEEK_AND_TIER} and mover_direction = ? and avg_volume >= ?"
    section.risers, section.fallers = (
        _select(
            con,
            relations.REPORT_SYMBOL_MOVERS,
            Mover,
            movers_where,
            [*key, direction, min_volume],
            f"trend_pct {order}, symbol",
            movers,
        )
        for direction, order in (("rising", "desc"), ("falling", "asc"))
    )
    by_count = "rejected_lines desc, reason_code"
    section.rejects_by_code = _select(
        con, relations.REPORT_REJECTS_BY_CODE, RejectCount, WEEK_AND_TIER, key, by_count
    )
    section.reject_samples = _select(
        con,
        relations.REPORT_REJECTED_LINES,
        RejectedLine,
        WEEK_AND_TIER,
        key,
        "line_number",
        REJECT_SAMPLES,
    )
    return section


def _completeness(
    con: duckdb.DuckDBPyConnection, weeks: list[date], tiers: list[str]
) -> dict[tuple[date, str], tuple[str, int]]:
    """(week, tier) -> (state, captures) from rpt_week_completeness; `missing` without a row."""
    found = {
        (week, tier): (str(state), int(count))
        for week, tier, state, count in con.execute(
            f"select week_ending, tier, completeness_state, capture_count"
            f" from {relations.REPORT_COMPLETENESS}"
            " where list_contains(?, week_ending) and list_contains(?, tier)",
            [weeks, tiers],
        ).fetchall()
    }
    return {(w, t): found.get((w, t), ("missing", 0)) for w in weeks for t in tiers}


def collect(
    con: duckdb.DuckDBPyConnection,
    week: date,
    tiers: list[str],
    movers: int = 10,
    min_mover_volume: int = 100_000,
) -> WeekReport:
    """Read everything the report of `week` shows, for each tier with a published capture."""
    weeks = fridays_ending(week, COMPLETENESS_WEEKS)
    if not ledger.relation_exists(con, relations.REPORT_TIER_WEEK):
        if ledger.relation_exists(con, relations.CAPTURES_MART):
            raise ReportModelsMissing(
                f"the warehouse has no report models ({relations.REPORTS_SCHEMA}.rpt_*): it was"
                " built by an earlier release"
            )
        return WeekReport(week, tiers, [], weeks, {}, min_mover_volume)
    sections = [
        section
        for tier in tiers
        if (section := _tier_week(con, week, tier, movers, min_mover_volume)) is not None
    ]
    return WeekReport(
        week, tiers, sections, weeks, _completeness(con, weeks, tiers), min_mover_volume
    )


def write_report(
    warehouse: Warehouse,
    week: date,
    tiers: list[str],
    out: Path,
    movers: int = 10,
    min_mover_volume: int = 100_000,
) -> WeekReport:
    """Collect the week's data from the warehouse (read-only) and write the HTML page."""
    weeks = fridays_ending(week, COMPLETENESS_WEEKS)
    with connect(warehouse, read_only=True) as con:
        copy_models(
            warehouse,
            con,
            relations.REPORT_MODELS,
            f"week_ending between date '{min(weeks)}' and date '{max(weeks)}'",
        )
        report = collect(con, week, tiers, movers, min_mover_volume)
    if report.sections:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(report), encoding="utf-8")
    return report


# ---------------------------------------------------------------------------- charts


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # imported here: only the report needs matplotlib

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def _inline_svg(fig: Any, key: str, label: str) -> str:
    """The figure as an <svg> element for inline HTML: no XML prolog, metadata or URLs, and
    ids prefixed with `key` so several charts on one page never share an id."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "spine-dbt"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)
    return svg.replace(
        "<svg", f'<svg role="img" aria-label="{html.escape(label)}" class="chart"', 1
    )


def venue_share_chart(section: TierWeek, key: str) -> str:
    """Horizontal bars: each venue's share of the tier's weekly shares, largest on top."""
    shown = section.venues[:CHART_VENUES]
    labels = [v.mpid for v in shown]
    shares = [v.market_share_pct * 100 for v in shown]
    rest = sum(v.market_share_pct for v in section.venues[CHART_VENUES:]) * 100
    if len(section.venues) > CHART_VENUES:
        labels.append(f"{len(section.venues) - CHART_VENUES} others")
        shares.append(rest)
    fig = _figure(5.6, 0.32 * len(labels) + 1.1)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    colors = [ACCENT] + ["#8fb8f5"] * (len(labels) - 1)
    ax.barh(positions, shares, color=colors, height=0.7)
    ax.set_yticks(positions, labels)
    for y, share in zip(positions, shares, strict=True):
        ax.text(share, y, f" {_pct(share / 100)}", va="center", fontsize=8.5, color="#1f2937")
    ax.set_xlim(0, max(shares) * 1.18 if shares and max(shares) > 0 else 1)
    ax.set_xlabel("market share of the tier's weekly shares (%)", fontsize=9)
    ax.set_title(f"{section.tier}: venue share, week ending {section.week_ending}", fontsize=10)
    _style(ax)
    return _inline_svg(fig, key, f"Bar chart of venue shares for {section.tier}")


def _band_color(bands: list[Band], left: float) -> str:
    """The colour of the band (rpt_concentration_bands) a histogram bar starting at `left`
    falls in: the first whose upper bound is above it (a bar's left edge may be a rounding
    error below 0), else the last."""
    for band in bands:
        if left < band.hhi_to:
            return BAND_COLORS[band.band_order - 1]
    return BAND_COLORS[-1]


def concentration_chart(section: TierWeek, key: str) -> str:
    """Histogram of the symbols' HHI (0–1), coloured by concentration band."""
    values = section.concentration
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    bins = [i / 20 for i in range(21)]
    _, _, patches = ax.hist(values, bins=bins, color="#8fb8f5", edgecolor="white")
    for patch in patches:
        patch.set_facecolor(_band_color(section.bands, patch.get_x()))
    if values:
        median = sorted(values)[len(values) // 2]
        ax.axvline(
            median, color="#111827", linestyle="--", linewidth=1, label=f"median {median:.2f}"
        )
        ax.legend(loc="upper left", fontsize=8.5, frameon=False)
    ax.set_xlim(0, 1)
    ax.set_xlabel("HHI = Σ v² / (Σ v)²  (1 = one venue)", fontsize=9)
    ax.set_ylabel("symbols", fontsize=9)
    ax.set_title(f"{section.tier}: concentration of {len(values):,} symbols", fontsize=10)
    _style(ax)
    return _inline_svg(fig, key, f"Histogram of symbol concentration for {section.tier}")


def movers_chart(section: TierWeek, key: str) -> str:
    """Two panels: the symbols rising most (log axis: rises are unbounded) and falling most."""
    rows = max(len(section.risers), len(section.fallers), 1)
    fig = _figure(7.2, 0.28 * rows + 1.2)
    panels = (
        ("rising most: trend %", section.risers, "#16a34a", "log"),
        ("falling most: trend %", section.fallers, "#dc2626", "linear"),
    )
    for index, (title, movers, color, scale) in enumerate(panels):
        ax = fig.add_subplot(1, 2, index + 1)
        positions = list(range(len(movers)))[::-1]
        ax.barh(positions, [m.trend_pct for m in movers], color=color, height=0.7)
        ax.set_yticks(positions, [m.symbol for m in movers])
        if movers and scale == "log":
            ax.set_xscale("log")
        if scale == "linear":
            ax.set_xlim(-100, 0)
        ax.set_title(title, fontsize=10)
        if not movers:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
        _style(ax)
    return _inline_svg(fig, key, f"Top movers by 6-week trend for {section.tier}")


# ---------------------------------------------------------------------------- HTML


def _pct(fraction: float | None, digits: int = 2) -> str:
    """A 0–1 fraction as a percentage with `digits` decimals ("< 0.01 %" for tiny shares)."""
    if fraction is None:
        return ""
    if 0 < fraction * 100 < 10**-digits:
        return f"< {10**-digits:.{digits}f} %"
    return f"{fraction * 100:.{digits}f} %"


def _points(points: float | None) -> str:
    """A change in percentage points, signed with two decimals ("" when there is none)."""
    if points is None:
        return ""
    return "0.00" if abs(points) < 0.005 else f"{points:+.2f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("spine_wrapper", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda value: "" if value is None else value,
    )
    env.filters.update(
        pct=_pct,
        points=_points,
        fmt=lambda value, spec: format(value, spec),
        filename=lambda path: Path(str(path)).name,
    )
    return env


def render(report: WeekReport) -> str:
    """The whole page: inline CSS and SVG only, every value escaped, no external reference."""
    import matplotlib

    # Names are data, not markup: no mathtext for a `$` in a venue name or symbol.
    with matplotlib.rc_context({"text.parse_math": False}):
        charts = [
            {
                "venues": Markup(venue_share_chart(section, f"t{index}v")),
                "concentration": Markup(concentration_chart(section, f"t{index}c")),
                "movers": Markup(movers_chart(section, f"t{index}m")),
            }
            for index, section in enumerate(report.sections)
        ]
    return _environment().get_template(TEMPLATE).render(report=report, charts=charts)
