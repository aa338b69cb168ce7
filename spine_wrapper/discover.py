"""Find source files under a directory and identify each one's (week, tier) by its content."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from .tiers import canonical_tier
from .weeks import is_friday, week_ending_from_last_update

# Canonical raw field -> header name as documented (DOMAIN §1.1); matched case-insensitively.
LAYOUT_HEADERS: dict[str, dict[str, str]] = {
    "finra": {
        "tier": "tierDescription",
        "symbol": "issueSymbolIdentifier",
        "issue_name": "issueName",
        "venue_name": "marketParticipantName",
        "mpid": "MPID",
        "shares": "totalWeeklyShareQuantity",
        "trades": "totalWeeklyTradeCount",
        "last_update_date": "lastUpdateDate",
    },
    "simplified": {
        "week_ending": "WeekEnding",
        "tier": "Tier",
        "symbol": "Symbol",
        "mpid": "MPID",
        "shares": "TotalShares",
        "trades": "TotalTrades",
    },
}
# Canonical raw field -> header name (lower case), per layout.
LAYOUTS: dict[str, dict[str, str]] = {
    layout: {raw: name.lower() for raw, name in names.items()}
    for layout, names in LAYOUT_HEADERS.items()
}
KNOWN_COLUMNS = {name for names in LAYOUTS.values() for name in names.values()}
SNIFF_BYTES = 1 << 16
SNIFF_ROWS = 50
GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = {b"\xff\xfe": "UTF-16 LE", b"\xfe\xff": "UTF-16 BE"}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
OTHER_DELIMITERS = {",": "commas", "\t": "tabs", ";": "semicolons"}


class _Unreadable(Exception):
    """The file's bytes cannot be read as the text of a weekly file (message for users)."""


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
    sha256: str | None = None  # of the (decompressed) bytes, when the whole file was read,
    stamp: tuple[int, int] | None = None  # and the file's (size, mtime_ns) just before

    @property
    def identified(self) -> bool:
        return self.tier is not None and self.week_ending is not None


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _open_bytes(path: Path, compressed: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if compressed else path.open("rb")


def _read_head(path: Path, compressed: bool) -> tuple[bytes, bool]:
    """The first SNIFF_BYTES of the (decompressed) file and whether there is more."""
    with _open_bytes(path, compressed) as handle:
        head = handle.read(SNIFF_BYTES)
        more = bool(handle.read(1))
    return head, more


def _not_utf8(data: bytes, error: UnicodeDecodeError, offset: int = 0, lines: int = 0) -> str:
    """Where `data` (byte `offset`, after `lines` lines, of the file) stops being UTF-8."""
    line = lines + data.count(b"\n", 0, error.start) + 1
    bad = data[error.start : error.start + 1].hex().upper()
    return (
        f"is not UTF-8 text: byte 0x{bad} on line {line} (offset {offset + error.start}) is not"
        " valid UTF-8 (Latin-1 or Windows-1252?); save the file as UTF-8"
    )


def _check_whole_file(path: Path, compressed: bool) -> str:
    """Read the whole file once: it must decompress cleanly and be UTF-8 to its last byte.

    Returns the SHA-256 of its (decompressed) bytes, taken on the same pass, so the loader does
    not read the file again for it. Raises _Unreadable. The loader reads the whole file later;
    checking here turns a corrupt archive or a stray Latin-1 byte deep in a file into a
    file-level error for its partition instead of a crash in the middle of a run.
    """
    carry, offset, lines = b"", 0, 0
    digest = hashlib.sha256()
    try:
        with _open_bytes(path, compressed) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                data, carry = carry + chunk, b""
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    # Only a character cut by the chunk boundary may continue in the next chunk.
                    if exc.reason != "unexpected end of data" or exc.end != len(data):
                        raise _Unreadable(_not_utf8(data, exc, offset, lines)) from None
                    carry = data[exc.start :]
                done = len(data) - len(carry)
                offset, lines = offset + done, lines + data.count(b"\n", 0, done)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _Unreadable(f"is not a valid gzip file (truncated or corrupt: {exc})") from None
    except OSError as exc:
        raise _Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    if carry:
        raise _Unreadable(f"is not UTF-8 text: it ends inside a UTF-8 character (line {lines + 1})")
    return digest.hexdigest()


def _decode_head(path: Path) -> tuple[str, bool, str | None]:
    """The head of the file as text, whether the file goes on, and what stops it loading."""
    try:
        compressed = _is_gzip(path)
        head, more = _read_head(path, compressed)
    except PermissionError:
        raise _Unreadable("cannot be read: permission denied") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _Unreadable(f"is not a valid gzip file (truncated or corrupt: {exc})") from None
    except OSError as exc:
        raise _Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    if path.suffix == ".gz" and not compressed:
        raise _Unreadable(f"is named .gz but is not gzip-compressed (it starts with {head[:8]!r})")
    if not head.strip():
        raise _Unreadable("is empty (no header line)")
    for bom, name in UTF16_BOMS.items():
        if head.startswith(bom):
            raise _Unreadable(
                f"is {name} text (byte-order mark {bom.hex().upper()}); save it as UTF-8"
            )
    if b"\x00" in head:
        raise _Unreadable(
            "contains NUL bytes: a binary file, or UTF-16 text without a byte-order mark,"
            " not UTF-8 text"
        )
    bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    body, error = head[bom:], None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if more and exc.reason == "unexpected end of data" and exc.end == len(body):
            text = body[: exc.start].decode("utf-8")  # a character cut by SNIFF_BYTES
        else:
            error = _not_utf8(body, exc, bom)
            text = body.decode("utf-8", errors="replace")
    if compressed and path.suffix != ".gz":
        error = error or (
            f"is gzip-compressed but its name does not end in .gz; rename it to {path.name}.gz"
        )
    return text, more, error


def _split_lines(text: str, truncated: bool) -> tuple[list[str], str | None]:
    """Physical lines of the head (a last line cut by SNIFF_BYTES dropped), CR stripped."""
    if "\n" not in text and "\r" in text.strip("\r"):
        error = "has CR-only line endings (classic Mac); save it with LF or CRLF line endings"
        lines = text.split("\r")
    else:
        error = None
        lines = [line.removesuffix("\r") for line in text.split("\n")]
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    return lines, error


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].strip()
    return value


def _parse_iso(value: str) -> date | None:
    """YYYY-MM-DD only, as the dbt models read it (date.fromisoformat also takes 20251215)."""
    if not ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _other_delimiter(line: str, header: bool = False) -> str | None:
    """How `line` is separated when it has no `|` but commas, tabs or semicolons, else None.

    For a header, only when splitting on that delimiter finds FINRA column names (a line of
    prose with a comma is not a comma-separated header).
    """
    if "|" in line:
        return None
    counts = {sep: line.count(sep) for sep in OTHER_DELIMITERS}
    sep = max(counts, key=lambda key: counts[key])
    if not counts[sep]:
        return None
    if header and not {_unquote(name).lower() for name in line.split(sep)} & KNOWN_COLUMNS:
        return None
    return f"{OTHER_DELIMITERS[sep]} ({sep!r})"


def identify(path: Path, whole_file: bool = True) -> SourceFile:
    """Read the header and the first data rows of `path` and identify its layout, week, tier.

    `error` is set for anything that stops the file from loading; the week and tier are still
    identified where possible, so that the error is reported against that partition.
    """
    found = SourceFile(path=path)
    try:
        text, more, encoding_error = _decode_head(path)
    except _Unreadable as exc:
        found.error = str(exc)
        return found
    lines, line_error = _split_lines(text, truncated=more)
    content_error = _identify_content(found, lines)
    if whole_file and more and found.layout and not (encoding_error or line_error or content_error):
        try:  # only for FINRA files: a big file of anything else is not read to its end
            stat = path.stat()
            found.sha256 = _check_whole_file(path, compressed=_is_gzip(path))
            found.stamp = (stat.st_size, stat.st_mtime_ns)
        except _Unreadable as exc:
            encoding_error = str(exc)
    # What keeps the file from being read as text at all comes first: it causes the rest.
    found.error = encoding_error or line_error or content_error
    return found


def _identify_content(found: SourceFile, lines: list[str]) -> str | None:
    """Layout from the header, then week and tier from the data rows; the error, if any."""
    if not any(line.strip() for line in lines):
        return "is empty (no header line)"
    if not lines[0].strip():
        return "has a blank line 1: the header must be the first line"
    delimiter = _other_delimiter(lines[0], header=True)
    if delimiter:
        return f"is not pipe-delimited: its header (line 1) is separated by {delimiter}"
    header = [_unquote(name).lower() for name in lines[0].split("|")]
    found.field_count = len(header)
    layout = "finra" if "lastupdatedate" in header or "tierdescription" in header else None
    if layout is None and ("weekending" in header or "totalshares" in header):
        layout = "simplified"
    if layout is None:
        return f"has no FINRA header (line 1 is {lines[0][:80]!r})"
    found.layout = layout
    wanted = LAYOUTS[layout]
    missing = [LAYOUT_HEADERS[layout][raw] for raw, name in wanted.items() if name not in header]
    repeated = sorted(
        {name for name in header if name in wanted.values() and header.count(name) > 1}
    )
    extra = [name for name in header if name not in wanted.values()]
    if extra:
        found.warnings.append(f"ignores extra columns: {', '.join(extra)}")
    found.columns = {raw: header.index(name) + 1 for raw, name in wanted.items() if name in header}
    data_error = _identify_partition(found, lines[1:])
    if missing:
        return (
            f"lacks required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            f" (the {layout} layout is {'|'.join(LAYOUT_HEADERS[layout].values())})"
        )
    if repeated:
        return f"repeats column {', '.join(repeated)} in its header (which one is meant?)"
    return data_error


def _identify_partition(found: SourceFile, data_lines: list[str]) -> str | None:
    """Take tier and week by majority over the first rows that carry a valid value for each.

    A majority (ties: the earliest) rather than the first row, so a file whose first row is
    itself bad (another tier, another week) is still identified as what its rows are; that
    row is then rejected as TIER_MISMATCH / INVALID_WEEK_ENDING. Returns why identification
    failed, for the user, or None.
    """
    rows = [line for line in data_lines if line.strip()][:SNIFF_ROWS]
    if not rows:
        return "has no data rows (header only)"
    tiers: Counter[str] = Counter()
    weeks: Counter[date] = Counter()
    fitting = 0
    for line in rows:
        fields = [_unquote(value) for value in line.split("|")]
        if len(fields) != found.field_count:
            continue
        fitting += 1
        if "tier" in found.columns:
            tier = canonical_tier(fields[found.columns["tier"] - 1])
            if tier is not None:
                tiers[tier] += 1
        week = _row_week(found, fields)
        if week is not None:
            weeks[week] += 1
    # Counter.most_common keeps first-seen order among equal counts.
    found.tier = tiers.most_common(1)[0][0] if tiers else None
    found.week_ending = weeks.most_common(1)[0][0] if weeks else None
    if not fitting:
        delimiter = _other_delimiter(rows[0])
        return (
            f"has no data row with the header's {found.field_count} '|'-separated fields in its"
            f" first {len(rows)} rows"
            + (f" (its rows are not pipe-delimited: separated by {delimiter})" if delimiter else "")
        )
    if found.tier is None:
        return f"has no row with a known tier in its first {len(rows)} rows"
    if found.week_ending is None:
        what = "Friday WeekEnding" if found.layout == "simplified" else "ISO lastUpdateDate"
        return f"has no row with a valid {what} in its first {len(rows)} rows"
    return None


def _row_week(found: SourceFile, fields: list[str]) -> date | None:
    if "week_ending" in found.columns:
        day = _parse_iso(fields[found.columns["week_ending"] - 1])
        return day if day is not None and is_friday(day) else None
    if "last_update_date" in found.columns:
        day = _parse_iso(fields[found.columns["last_update_date"] - 1])
        return week_ending_from_last_update(day) if day is not None else None
    return None


def discover(
    source_dir: Path, already_verified: Callable[[Path], bool] | None = None
) -> list[SourceFile]:
    """Every regular, non-hidden file under `source_dir` (recursive, sorted), identified.

    Files `already_verified` (unchanged since they loaded) are identified from their head only.
    """
    source_dir = source_dir.resolve()
    paths = sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source_dir).parts)
    )
    return [
        identify(path, whole_file=not (already_verified and already_verified(path)))
        for path in paths
    ]
