"""Summaries for people: the per-partition table and the failing tests of a backfill."""

from __future__ import annotations

from .backfill import BackfillResult, Partition


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain aligned text table."""
    cells = [headers] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


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
            ["week", "tier", "plan", "capture", "read", "accepted", "rejected", "status", "detail"],
            rows,
        ),
    ]
    if result.failed_nodes:
        parts.append("failing dbt nodes (error severity, captures not published):")
        parts += [
            f"  {n.resource_type} {n.name}: {n.status}"
            + (f", {n.failures} failing rows" if n.failures else "")
            + (f" ({n.message})" if n.message and n.resource_type != "test" else "")
            for n in result.failed_nodes
        ]
    if result.warned_nodes:
        parts.append("warnings (published anyway):")
        parts += [f"  {n.name}: {n.failures} rows" for n in result.warned_nodes]
    if result.skipped_files:
        parts.append("files skipped (not identified as a FINRA week):")
        parts += [f"  {f.path}: {f.error}" for f in result.skipped_files]
    if result.dbt_error:
        parts.append(f"dbt error: {result.dbt_error}")
    return "\n".join(parts)
