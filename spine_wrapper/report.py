"""Summaries for people: the per-partition table and the failing tests of a backfill."""

from __future__ import annotations

import io

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .backfill import BackfillResult, Partition

# No edges and one ASCII rule under the header: every row starts with its first cell at column
# 0 and columns are separated by spaces only, so lines can be split on whitespace.
_HEAD_RULE = box.Box(
    "    \n"  # top
    "    \n"  # head
    " -  \n"  # head row: the rule under the header
    "    \n"  # mid
    "    \n"  # row
    "    \n"  # foot row
    "    \n"  # foot
    "    \n",  # bottom
    ascii=True,
)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _render(renderable: Table, width: int) -> str:
    """Render without colour, control codes or wrapping, into a string."""
    console = Console(
        file=io.StringIO(),
        width=width,
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        force_interactive=False,
        no_color=True,
        markup=False,
        emoji=False,
        highlight=False,
        legacy_windows=False,
        safe_box=False,
    )
    with console.capture() as captured:
        console.print(renderable, crop=False)
    return captured.get()


def table(headers: list[str], rows: list[list[object]]) -> str:
    """An aligned text table: a header, a rule of dashes, then one line per row, columns
    separated by two spaces; long values (paths, capture ids) are never wrapped or cut."""
    cells = [headers] + [[_cell(v) for v in row] for row in rows]
    grid = Table(
        box=_HEAD_RULE,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),  # with the one-space column separator: two spaces between
        collapse_padding=False,
        header_style=None,
        expand=False,
    )
    for header in headers:
        grid.add_column(Text(header), no_wrap=True, overflow="ignore")
    for row in cells[1:]:
        grid.add_row(*(Text(c) for c in row))
    widths = [
        max(cell_len(line) for row in cells for line in row[i].split("\n"))
        for i in range(len(headers))
    ]
    text = _render(grid, sum(widths) + 2 * len(widths) + 10)
    return "\n".join(line.rstrip() for line in text.rstrip("\n").split("\n"))


def _outcome(p: Partition) -> str:
    if p.action == "up to date":
        return "up to date"
    return p.status or p.action


def backfill_summary(result: BackfillResult) -> str:
    """The final table of a backfill plus failing tests and skipped files."""
    rows = [
        [
            p.week_ending,
            p.tier,
            p.action,
            p.capture_id,
            p.rows_read,
            p.rows_accepted,
            p.rows_finra_totals or None,
            p.rows_rejected,
            _outcome(p),
            p.detail,
        ]
        for p in result.partitions
    ]
    parts = [
        f"run {result.run_id}"
        if result.run_id
        else "nothing to load: every partition is up to date"
        if all(p.action == "up to date" for p in result.partitions)
        else "nothing loaded",
        table(
            [
                "week",
                "tier",
                "plan",
                "capture",
                "read",
                "accepted",
                "totals",
                "rejected",
                "status",
                "detail",
            ],
            rows,
        ),
    ]
    if result.failed_nodes:
        parts.append("failing dbt nodes (error severity, captures not published):")
        for n in result.failed_nodes:
            parts.append(
                f"  {n.resource_type} {n.name}: {n.status}"
                + (f", {n.failures} failing rows" if n.failures else "")
                + (f" ({n.message})" if n.message and n.resource_type != "test" else "")
            )
            rows = result.failing_rows.get(n.name, [])
            parts += [f"    {row}" for row in rows[:5]]
            if len(rows) > 5:
                parts.append(f"    ... (spine-dbt quality --run-id {result.run_id} lists them)")
    if result.warned_nodes:
        parts.append("warnings (published anyway):")
        parts += [f"  {n.name}: {n.failures} rows" for n in result.warned_nodes]
    file_warnings = [
        f"  {p.source.path}: {warning}"
        for p in result.partitions
        if p.source is not None
        for warning in p.source.warnings
    ]
    if file_warnings:
        parts.append("file warnings:")
        parts += file_warnings
    if result.orphans:
        parts.append("captures left `loaded` by an interrupted run, now marked failed:")
        parts += [f"  {capture_id}" for capture_id in result.orphans]
    if result.skipped_files:
        parts.append("files skipped (not identified as a FINRA week):")
        parts += [f"  {f.path}: {f.error}" for f in result.skipped_files]
    if result.dbt_error:
        parts.append(f"dbt error: {result.dbt_error}")
    return "\n".join(parts)


MARKS = {
    "published": "✓",
    "failed": "✗",
    "missing": "·",
    "stale": "~",
    "loaded": "…",
    "incomplete": "!",
}


def completeness_matrix(cells: dict, weeks: list, tiers: list[str]) -> str:
    """Weeks as rows, tiers as columns: ✓n published (n captures), ✗ failed, · missing,
    ~ stale, … loaded but not built, ! published but rows missing from a mart; then the gaps
    and the latest capture per cell."""
    rows = []
    for week in weeks:
        row: list[object] = [week]
        for tier in tiers:
            cell = cells[(week, tier)]
            count = str(cell.captures) if cell.state in ("published", "stale", "incomplete") else ""
            row.append(MARKS[cell.state] + count)
        rows.append(row)
    parts = [table(["week", *tiers], rows)]
    gaps = [
        f"  {week} {tier}: {cells[(week, tier)].state}"
        + (f" ({cells[(week, tier)].detail})" if cells[(week, tier)].detail else "")
        for week in weeks
        for tier in tiers
        if cells[(week, tier)].state != "published"
    ]
    parts.append("gaps:" if gaps else "no gaps: every week and tier is published")
    parts += gaps
    parts.append("latest capture per cell:")
    parts += [
        f"  {week} {tier}: {cells[(week, tier)].latest}"
        for week in weeks
        for tier in tiers
        if cells[(week, tier)].latest
    ]
    return "\n".join(parts)


def run_report(result: BackfillResult, timings: dict[str, float]) -> dict[str, object]:
    """The JSON run report of a backfill."""
    return {
        "run_id": result.run_id,
        "ok": result.ok,
        "partitions": [
            {
                "week_ending": p.week_ending.isoformat(),
                "tier": p.tier,
                "plan": p.action,
                "status": _outcome(p),
                "capture_id": p.capture_id,
                "source_file": str(p.source.path) if p.source else None,
                "rows_read": p.rows_read,
                "rows_accepted": p.rows_accepted,
                "rows_finra_totals": p.rows_finra_totals,
                "rows_rejected": p.rows_rejected,
                "detail": p.detail,
            }
            for p in result.partitions
        ],
        "rejects_by_code": result.rejects_by_code,
        "failing_tests": [
            {
                "name": n.name,
                "status": n.status,
                "failures": n.failures,
                "message": n.message,
                "failing_rows": result.failing_rows.get(n.name, []),
            }
            for n in result.failed_nodes
        ],
        "warnings": [{"name": n.name, "failures": n.failures} for n in result.warned_nodes],
        "skipped_files": [{"path": str(f.path), "reason": f.error} for f in result.skipped_files],
        "dbt_error": result.dbt_error,
        "timings_s": timings,
    }
