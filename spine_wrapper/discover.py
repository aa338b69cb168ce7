"""Find source files under a directory and identify each one's (week, tier) by its content."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .tiers import canonical_tier
from .weeks import is_friday, week_ending_from_last_update

# Canonical raw field -> header name (lower case), per layout (DOMAIN §1.1).
LAYOUTS: dict[str, dict[str, str]] = {
    "finra": {
        "tier": "tierdescription",
        "symbol": "issuesymbolidentifier",
        "issue_name": "issuename",
        "venue_name": "marketparticipantname",
        "mpid": "mpid",
        "shares": "totalweeklysharequantity",
        "trades": "totalweeklytradecount",
        "last_update_date": "lastupdatedate",
    },
    "simplified": {
        "week_ending": "weekending",
        "tier": "tier",
        "symbol": "symbol",
        "mpid": "mpid",
        "shares": "totalshares",
        "trades": "totaltrades",
    },
}
SNIFF_BYTES = 1 << 16
SNIFF_ROWS = 50


@dataclass
class SourceFile:
    """One candidate file and what its header and first data rows say about it."""

    path: Path
    layout: str | None = None
    tier: str | None = None
    week_ending: date | None = None
    columns: dict[str, int] = field(default_factory=dict)  # raw field -> 1-based position
    field_count: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def identified(self) -> bool:
        return self.tier is not None and self.week_ending is not None


def _head_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    text = head.decode("utf-8-sig")  # UnicodeDecodeError for UTF-16 / binary
    lines = text.split("\n")
    if len(head) == SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut in the middle
    return [line.rstrip("\r") for line in lines]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].strip()
    return value


def _parse_iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def identify(path: Path) -> SourceFile:
    """Read the header and the first data rows of `path` and identify its layout, week, tier."""
    found = SourceFile(path=path)
    try:
        lines = _head_lines(path)
    except UnicodeDecodeError:
        found.error = "is not UTF-8 text (UTF-16, binary or another encoding?)"
        return found
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        found.error = f"cannot be read: {exc}"
        return found
    if not lines or not lines[0].strip():
        found.error = "is empty (no header line)"
        return found
    header = [_unquote(name).lower() for name in lines[0].split("|")]
    found.field_count = len(header)
    layout = "finra" if "lastupdatedate" in header or "tierdescription" in header else None
    if layout is None and ("weekending" in header or "totalshares" in header):
        layout = "simplified"
    if layout is None:
        found.error = f"has no FINRA header (line 1 is {lines[0][:80]!r})"
        return found
    found.layout = layout
    wanted = LAYOUTS[layout]
    missing = [name for raw, name in wanted.items() if name not in header]
    extra = [name for name in header if name not in wanted.values()]
    if extra:
        found.warnings.append(f"ignores extra columns: {', '.join(extra)}")
    found.columns = {raw: header.index(name) + 1 for raw, name in wanted.items() if name in header}
    _identify_partition(found, lines[1:])
    if missing:
        found.error = f"lacks required columns: {', '.join(missing)}"
    elif not found.identified and found.error is None:
        found.error = (
            "has no data rows"
            if not any(x.strip() for x in lines[1:])
            else ("has no data row with a valid tier and week in its first rows")
        )
    return found


def _identify_partition(found: SourceFile, data_lines: list[str]) -> None:
    """Take tier and week from the first rows that carry a valid value for each."""
    for line in [x for x in data_lines if x.strip()][:SNIFF_ROWS]:
        fields = [_unquote(value) for value in line.split("|")]
        if len(fields) != found.field_count:
            continue
        if found.tier is None and "tier" in found.columns:
            found.tier = canonical_tier(fields[found.columns["tier"] - 1])
        if found.week_ending is None:
            found.week_ending = _row_week(found, fields)
        if found.identified:
            return


def _row_week(found: SourceFile, fields: list[str]) -> date | None:
    if "week_ending" in found.columns:
        day = _parse_iso(fields[found.columns["week_ending"] - 1])
        return day if day is not None and is_friday(day) else None
    if "last_update_date" in found.columns:
        day = _parse_iso(fields[found.columns["last_update_date"] - 1])
        return week_ending_from_last_update(day) if day is not None else None
    return None


def discover(source_dir: Path) -> list[SourceFile]:
    """Every regular, non-hidden file under `source_dir` (recursive, sorted), identified."""
    source_dir = source_dir.resolve()
    paths = sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source_dir).parts)
    )
    return [identify(path) for path in paths]
