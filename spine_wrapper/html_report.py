"""The analyst's one-page HTML report of a week: venue shares, concentration, movers, gaps.

It reads only what analysts may read: the `_latest` views (published data, one capture per
(week, tier)), the captures mart and the rejects of the latest captures. Charts are drawn by
matplotlib and embedded as inline SVG, so the page is one file that needs no network.
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from . import ledger
from .warehouse import connect
from .weeks import fridays_ending

COMPLETENESS_WEEKS = 12
CHART_VENUES = 15  # venues drawn in the bar chart; the rest are summed as "others"
REJECT_SAMPLES = 20
# Concentration bands on the 0–1 HHI scale (the usual 1,500 / 2,500 points on 10,000).
HHI_BANDS = ((0.0, 0.15, "unconcentrated"), (0.15, 0.25, "moderate"), (0.25, 1.0, "high"))
ACCENT = "#1f6feb"
MARKS = {"published": "✓", "failed": "✗", "loaded": "…", "missing": "·", "rolled_back": "·"}


@dataclass
class Venue:
    rank: int
    mpid: str
    venue_name: str | None
    total_volume: int
    total_trades: int
    symbol_count: int
    market_share_pct: float
    previous_share: float | None  # the same venue's share the week before, if published


@dataclass
class Mover:
    symbol: str
    issue_name: str | None
    trend_pct: float
    trend_direction: str
    avg_volume: float
    weeks_in_window: int
    total_volume: int | None  # this week's volume


@dataclass
class TierWeek:
    """Everything the report shows for one tier of the week (its latest published capture)."""

    week: date
    tier: str
    capture_id: str
    source_file: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    venues: list[Venue]
    concentration: list[tuple[str, float, int, int]]  # symbol, hhi, venue_count, volume
    risers: list[Mover]
    fallers: list[Mover]
    rejects_by_code: list[tuple[str, int]]
    reject_samples: list[tuple[str, int, str, str]]  # file, line, reason_codes, raw line

    @property
    def top_venue(self) -> Venue:
        return self.venues[0]

    @property
    def total_volume(self) -> int:
        return sum(v.total_volume for v in self.venues)

    @property
    def total_trades(self) -> int:
        return sum(v.total_trades for v in self.venues)


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


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return ledger.rows_as_dicts(con.execute(sql, params))


def _venues(con: duckdb.DuckDBPyConnection, week: date, tier: str) -> list[Venue]:
    rows = _rows(
        con,
        """
        select cur.rank, cur.mpid, cur.venue_name, cur.total_volume, cur.total_trades,
               cur.symbol_count, cur.market_share_pct, prev.market_share_pct as previous_share
        from main.finra_otc_transparency_venue_share_latest as cur
        left join main.finra_otc_transparency_venue_share_latest as prev
            on prev.tier = cur.tier and prev.mpid = cur.mpid and prev.week_ending = ?
            and prev.venue_type is not distinct from cur.venue_type
        where cur.week_ending = ? and cur.tier = ?
        order by cur.rank
        """,
        [week - timedelta(days=7), week, tier],
    )
    return [Venue(**row) for row in rows]


def _movers(
    con: duckdb.DuckDBPyConnection, week: date, tier: str, limit: int, min_volume: int
) -> tuple[list[Mover], list[Mover]]:
    sql = """
        select r.symbol, s.issue_name, r.trend_pct, r.trend_direction, r.avg_volume,
               r.weeks_in_window, s.total_volume
        from main.finra_otc_transparency_symbol_rolling_6w_latest as r
        left join main.finra_otc_transparency_symbol_summary_latest as s
            on s.week_ending = r.week_ending and s.tier = r.tier and s.symbol = r.symbol
        where r.week_ending = ? and r.tier = ? and r.trend_pct is not null
          and r.avg_volume >= ?
        order by r.trend_pct {direction}, r.symbol
        limit ?
    """
    params = [week, tier, min_volume, limit]
    risers = [Mover(**r) for r in _rows(con, sql.format(direction="desc"), params)]
    fallers = [Mover(**r) for r in _rows(con, sql.format(direction="asc"), params)]
    return [m for m in risers if m.trend_pct > 0], [m for m in fallers if m.trend_pct < 0]


def _tier_week(
    con: duckdb.DuckDBPyConnection, week: date, tier: str, movers: int, min_volume: int
) -> TierWeek | None:
    venues = _venues(con, week, tier)
    if not venues:
        return None
    capture_id = str(
        con.execute(
            "select any_value(capture_id) from main.finra_otc_transparency_venue_share_latest"
            " where week_ending = ? and tier = ?",
            [week, tier],
        ).fetchone()[0]
    )
    capture = _rows(
        con,
        "select source_file, rows_read, rows_accepted, rows_rejected"
        " from main.finra_otc_transparency_captures where capture_id = ?",
        [capture_id],
    )[0]
    concentration = [
        (str(symbol), float(hhi), int(count), int(volume or 0))
        for symbol, hhi, count, volume in con.execute(
            """
            select c.symbol, c.hhi, c.venue_count, s.total_volume
            from main.finra_otc_transparency_symbol_concentration_latest as c
            left join main.finra_otc_transparency_symbol_summary_latest as s
                on s.week_ending = c.week_ending and s.tier = c.tier and s.symbol = c.symbol
            where c.week_ending = ? and c.tier = ?
            order by c.symbol
            """,
            [week, tier],
        ).fetchall()
    ]
    risers, fallers = _movers(con, week, tier, movers, min_volume)
    rejects_by_code = sorted(
        ledger.rejects_by_code(con, [capture_id]).items(), key=lambda item: (-item[1], item[0])
    )
    samples = [
        (Path(str(source)).name, int(line), str(codes), str(raw))
        for source, line, codes, raw in con.execute(
            "select source_file, line_number, reason_codes, raw_line"
            " from main.finra_otc_transparency_rejects where capture_id = ?"
            " order by line_number limit ?",
            [capture_id, REJECT_SAMPLES],
        ).fetchall()
    ]
    return TierWeek(
        week=week,
        tier=tier,
        capture_id=capture_id,
        source_file=str(capture["source_file"]),
        rows_read=int(capture["rows_read"] or 0),
        rows_accepted=int(capture["rows_accepted"] or 0),
        rows_rejected=int(capture["rows_rejected"] or 0),
        venues=venues,
        concentration=concentration,
        risers=risers,
        fallers=fallers,
        rejects_by_code=rejects_by_code,
        reject_samples=samples,
    )


def _completeness(
    con: duckdb.DuckDBPyConnection, weeks: list[date], tiers: list[str]
) -> dict[tuple[date, str], tuple[str, int]]:
    """(week, tier) -> (state, captures): published if any capture is, else the newest status."""
    found = {
        (week, tier): (("published" if published else str(newest)), int(count))
        for week, tier, count, published, newest in con.execute(
            """
            select week_ending, tier, count(*), bool_or(status = 'published'),
                   arg_max(status, captured_at)
            from main.finra_otc_transparency_captures
            where list_contains(?, week_ending) and list_contains(?, tier)
            group by week_ending, tier
            """,
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
    if not ledger.relation_exists(con, "main", "finra_otc_transparency_venue_share_latest"):
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
    db_path: Path,
    week: date,
    tiers: list[str],
    out: Path,
    movers: int = 10,
    min_mover_volume: int = 100_000,
) -> WeekReport:
    """Collect the week's data from the warehouse (read-only) and write the HTML page."""
    with connect(db_path, read_only=True) as con:
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
    ax.set_title(f"{section.tier}: venue share, week ending {section.week}", fontsize=10)
    _style(ax)
    return _inline_svg(fig, key, f"Bar chart of venue shares for {section.tier}")


def concentration_chart(section: TierWeek, key: str) -> str:
    """Histogram of the symbols' HHI (0–1), coloured by concentration band."""
    values = [hhi for _, hhi, _, _ in section.concentration]
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    bins = [i / 20 for i in range(21)]
    _, _, patches = ax.hist(values, bins=bins, color="#8fb8f5", edgecolor="white")
    for patch in patches:
        left = patch.get_x()
        patch.set_facecolor("#93c5fd" if left < 0.15 else "#fbbf24" if left < 0.25 else "#f87171")
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

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #111827; margin: 0; background: #f9fafb; }
header { background: #0f172a; color: #f8fafc; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #cbd5e1; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: white; border: 1px solid #e5e7eb; border-radius: 8px;
          padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 4px; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 18px; }
.card span { color: #6b7280; font-size: 12px; }
.card.top { border-color: #1f6feb; background: #eff6ff; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 18px; }
.grid > div { overflow-x: auto; }
.grid.wide { grid-template-columns: minmax(0, 5fr) minmax(0, 7fr); align-items: start; }
h4 { font-size: 13px; margin: 8px 0 4px; color: #374151; }
.name { display: inline-block; max-width: 170px; overflow: hidden; text-overflow: ellipsis;
        white-space: nowrap; vertical-align: bottom; }
@media (max-width: 1000px) { .grid { grid-template-columns: minmax(0, 1fr); } }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid #f1f5f9; text-align: left; }
th { background: #f8fafc; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.top td { font-weight: 600; background: #eff6ff; }
.chart { max-width: 100%; height: auto; }
.note { color: #6b7280; font-size: 12px; }
code, .raw { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.raw { white-space: pre-wrap; word-break: break-all; }
.matrix { width: auto; min-width: 320px; }
.matrix td { text-align: center; font-size: 14px; min-width: 90px; }
.narrow { max-width: 420px; }
.s-published { background: #dcfce7; } .s-failed { background: #fee2e2; }
.s-loaded { background: #fef9c3; } .s-missing, .s-rolled_back { background: #f3f4f6; }
.up { color: #15803d; } .down { color: #b91c1c; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _pct(fraction: float | None, digits: int = 2) -> str:
    if fraction is None:
        return ""
    if 0 < fraction * 100 < 10**-digits:
        return f"< {10**-digits:.{digits}f} %"
    return f"{fraction * 100:.{digits}f} %"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int], classes=None) -> str:
    head = "".join(
        f"<th{' class=n' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(headers)
    )
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        cells = "".join(
            f"<td{' class=n' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _venue_table(section: TierWeek) -> str:
    rows = []
    for v in section.venues:
        change = ""
        if v.previous_share is not None:
            points = (v.market_share_pct - v.previous_share) * 100
            change = "0.00" if abs(points) < 0.005 else f"{points:+.2f}"
        rows.append(
            [
                _e(v.rank),
                f"<b>{_e(v.mpid)}</b>",
                f'<span class="name" title="{_e(v.venue_name)}">{_e(v.venue_name)}</span>',
                f"{v.total_volume:,}",
                f"{v.total_trades:,}",
                f"{v.symbol_count:,}",
                f'<span title="market_share_pct {v.market_share_pct:.9f}">'
                f"{_e(_pct(v.market_share_pct))}</span>",
                _e(change),
            ]
        )
    return _table(
        ["rank", "MPID", "venue", "shares", "trades", "symbols", "share", "Δ pts"],
        rows,
        {0, 3, 4, 5, 6, 7},
        ["top" if v.rank == 1 else "" for v in section.venues],
    )


def _bands_table(section: TierWeek) -> str:
    total_volume = sum(volume for *_, volume in section.concentration) or 1
    rows = []
    for low, high, name in HHI_BANDS:
        members = [
            c for c in section.concentration if low <= c[1] < high or (high == 1.0 and c[1] >= low)
        ]
        volume = sum(c[3] for c in members)
        rows.append(
            [
                _e(name),
                _e(f"{low:.2f} – {high:.2f}"),
                f"{len(members):,}",
                f"{volume:,}",
                _e(_pct(volume / total_volume, 1)),
            ]
        )
    single = sum(1 for c in section.concentration if c[2] == 1)
    return (
        _table(["band", "HHI", "symbols", "shares", "share of tier volume"], rows, {2, 3, 4})
        + f'<p class="note">{single:,} symbols traded at a single venue (HHI = 1).</p>'
    )


def _movers_table(movers: list[Mover]) -> str:
    if not movers:
        return '<p class="note">none</p>'
    rows = [
        [
            f"<b>{_e(m.symbol)}</b>",
            f'<span class="name" title="{_e(m.issue_name)}">{_e(m.issue_name)}</span>',
            f'<span class="{"up" if m.trend_pct > 0 else "down"}">{m.trend_pct:+,.1f} %</span>',
            f"{m.avg_volume:,.0f}",
            _e(m.weeks_in_window),
        ]
        for m in movers
    ]
    return _table(["symbol", "issue", "trend_pct", "6w avg", "weeks"], rows, {2, 3, 4})


def _rejects(section: TierWeek) -> str:
    if not section.rejects_by_code:
        return f"<p>No rejected lines: all {section.rows_read:,} data lines were accepted.</p>"
    by_code = _table(
        ["reason_code", "lines"],
        [[f"<code>{_e(code)}</code>", f"{count:,}"] for code, count in section.rejects_by_code],
        {1},
    )
    samples = _table(
        ["file", "line", "reason_codes", "raw line"],
        [
            [
                _e(name),
                f"{line:,}",
                f"<code>{_e(codes)}</code>",
                f'<span class="raw">{_e(raw[:200])}</span>',
            ]
            for name, line, codes, raw in section.reject_samples
        ],
        {1},
    )
    return (
        f"<p>{section.rows_rejected:,} of {section.rows_read:,} data lines rejected "
        f"({_pct(section.rows_rejected / max(section.rows_read, 1), 3)}).</p>"
        f'<div class="narrow">{by_code}</div><h4>First rejected lines</h4>{samples}'
    )


def _cards(section: TierWeek) -> str:
    top = section.top_venue
    cards = [
        ("top", f"{_e(top.mpid)} · {_e(_pct(top.market_share_pct))}", "top venue by shares"),
        ("", f"{section.total_volume:,}", "shares"),
        ("", f"{section.total_trades:,}", "trades"),
        ("", f"{len(section.venues):,}", "venues"),
        ("", f"{len(section.concentration):,}", "symbols"),
        ("", f"{section.rows_rejected:,}", "rejected lines"),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {css}"><b>{value}</b><span>{_e(label)}</span></div>'
            for css, value, label in cards
        )
        + "</div>"
    )


def _section(section: TierWeek, index: int, report: WeekReport) -> str:
    key = f"t{index}"
    top = section.top_venue
    return f"""
<section id="tier-{_e(section.tier)}">
  <h2>{_e(section.tier)}</h2>
  <p id="top-venue-{_e(section.tier)}">Top venue: <b>{_e(top.mpid)}</b>
    ({_e(top.venue_name)}) with <b>{_e(_pct(top.market_share_pct))}</b> of the tier's weekly
    shares (market_share_pct {top.market_share_pct:.6f}).</p>
  <p class="note">Latest published capture <code>{_e(section.capture_id)}</code> from
    <code>{_e(Path(section.source_file).name)}</code>: {section.rows_read:,} data lines,
    {section.rows_accepted:,} accepted, {section.rows_rejected:,} rejected.</p>
  {_cards(section)}
  <h3>Venue share</h3>
  <p class="note">market_share_pct = venue shares / Σ venues' shares (a fraction 0–1); rank 1
    = the most shares, ties by MPID; Δ pts = change of the share in percentage points since
    the week before.</p>
  <div class="grid wide"><div>{venue_share_chart(section, key + "v")}</div>
    <div>{_venue_table(section)}</div></div>
  <h3>Concentration across venues</h3>
  <p class="note">hhi = Σ v² / (Σ v)² per symbol over its venues' shares v (1 venue → 1.0,
    n equal venues → 1/n).</p>
  <div class="grid"><div>{concentration_chart(section, key + "c")}</div>
    <div>{_bands_table(section)}</div></div>
  <h3>Top movers by 6-week rolling trend</h3>
  <p class="note">trend_pct = (newest − oldest weekly shares) / oldest × 100 over the weeks of
    the 6-week window with data (at least two); symbols averaging at least
    {report.min_mover_volume:,} shares a week. The rising panel has a logarithmic axis.</p>
  {movers_chart(section, key + "m")}
  <div class="grid"><div><h4>Rising</h4>{_movers_table(section.risers)}</div>
    <div><h4>Falling</h4>{_movers_table(section.fallers)}</div></div>
  <h3>Rejects by code</h3>
  {_rejects(section)}
</section>"""


def _matrix(report: WeekReport) -> str:
    rows = []
    for week in reversed(report.weeks):
        cells = []
        for tier in report.tiers:
            state, count = report.cells.get((week, tier), ("missing", 0))
            mark = MARKS.get(state, "?") + (str(count) if state == "published" else "")
            cells.append(f'<td class="s-{_e(state)}" title="{_e(state)}">{_e(mark)}</td>')
        style = ' style="font-weight:600"' if week == report.week else ""
        rows.append(f"<tr{style}><th>{week}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{_e(t)}</th>" for t in report.tiers)
    return (
        f'<table class="matrix"><thead><tr><th>week ending</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">✓n published (n captures so far), ✗ failed, … loaded but not built,'
        " · missing or rolled back.</p>"
    )


def render(report: WeekReport) -> str:
    """The whole page: inline CSS and SVG only, every value escaped, no external reference."""
    summary = _table(
        ["tier", "top venue", "share", "shares", "trades", "venues", "symbols", "capture"],
        [
            [
                f'<a href="#tier-{_e(s.tier)}">{_e(s.tier)}</a>',
                f"<b>{_e(s.top_venue.mpid)}</b>",
                _e(_pct(s.top_venue.market_share_pct)),
                f"{s.total_volume:,}",
                f"{s.total_trades:,}",
                f"{len(s.venues):,}",
                f"{len(s.concentration):,}",
                f"<code>{_e(s.capture_id)}</code>",
            ]
            for s in report.sections
        ],
        {2, 3, 4, 5, 6},
    )
    missing = (
        f'<p class="note">No published capture of {report.week} for '
        f"{_e(', '.join(report.missing_tiers))}.</p>"
        if report.missing_tiers
        else ""
    )
    import matplotlib

    # Names are data, not markup: no mathtext for a `$` in a venue name or symbol.
    with matplotlib.rc_context({"text.parse_math": False}):
        sections = "".join(_section(s, i, report) for i, s in enumerate(report.sections))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FINRA OTC Transparency — week ending {report.week}</title>
<style>{CSS}</style>
</head>
<body>
<header>
  <h1>FINRA OTC Transparency — week ending {report.week}</h1>
  <p>Off-exchange (ATS and non-ATS) shares and trades by venue, from the latest published
    capture of each tier. Generated by <code>spine-dbt report</code>.</p>
</header>
<main>
<section id="summary">
  <h2>Summary</h2>
  {summary}
  {missing}
</section>
{sections}
<section id="completeness">
  <h2>Completeness of the last {len(report.weeks)} weeks</h2>
  {_matrix(report)}
</section>
</main>
</body>
</html>
"""
