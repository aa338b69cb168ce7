"""Find source files under a directory and identify each one's (week, tier) by its content."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

from . import formats
from .formats import PUBLICATION_DELAY
from .tiers import canonical_tier, publication_delay_weeks

SNIFF_BYTES = 1 << 16
SNIFF_ROWS = 50
GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = {b"\xff\xfe": "UTF-16 LE", b"\xfe\xff": "UTF-16 BE"}


class _Unreadable(Exception):
    """The file's bytes cannot be read as the text of a weekly file (message for users)."""


@dataclass
class SourceFile:
    """One candidate file and what its header and first data rows say about it."""

    path: Path
    layout: str | None = None  # finra (API or legacy export), finra_json, simplified
    tier: str | None = None
    week_ending: date | None = None
    week_source: str | None = None  # DOMAIN.md §1.3: how week_ending was found
    file_format: str = "text"  # text (delimited) or json
    delimiter: str | None = None
    header: formats.Header | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    sha256: str | None = None  # of the (decompressed) bytes, when the whole file was read,
    stamp: tuple[int, int] | None = None  # and the file's (size, mtime_ns) just before

    @property
    def field_count(self) -> int:
        """Fields of the header (keys of a JSON export's first record); 0 without one."""
        return self.header.field_count if self.header else 0

    @property
    def identified(self) -> bool:
        return self.tier is not None and self.week_ending is not None


def is_gzip(path: Path) -> bool:
    """Whether the file is gzip-compressed, by its magic number (whatever its name)."""
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
        compressed = is_gzip(path)
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
        return text.split("\r"), (
            "has CR-only line endings (classic Mac); save it with LF or CRLF line endings"
        )
    lines = formats.physical_lines(text)
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    return lines, None


def identify(path: Path, whole_file: bool = True, week_rule: str = PUBLICATION_DELAY) -> SourceFile:
    """Read the header and the first data rows of `path` and identify its layout, week, tier.

    `error` is set for anything that stops the file from loading; the week and tier are still
    identified where possible, so that the error is reported against that partition.
    `week_rule` is how a file without a week column is placed (DOMAIN.md §1.3).
    """
    found = SourceFile(path=path)
    try:
        text, more, encoding_error = _decode_head(path)
    except _Unreadable as exc:
        found.error = str(exc)
        return found
    if text.lstrip()[:1] in ("[", "{"):
        found.file_format = "json"
        line_error, content_error = None, _identify_json(found, text, more, week_rule)
    else:
        lines, line_error = _split_lines(text, truncated=more)
        content_error = _identify_text(found, lines, week_rule)
    if whole_file and more and found.layout and not (encoding_error or line_error or content_error):
        try:  # only for FINRA files: a big file of anything else is not read to its end
            stat = path.stat()
            found.sha256 = _check_whole_file(path, compressed=is_gzip(path))
            found.stamp = (stat.st_size, stat.st_mtime_ns)
        except _Unreadable as exc:
            encoding_error = str(exc)
    # What keeps the file from being read as text at all comes first: it causes the rest.
    found.error = encoding_error or line_error or content_error
    return found


def _identify_text(found: SourceFile, lines: list[str], week_rule: str) -> str | None:
    """Delimiter and layout from the header, then week and tier from the data rows."""
    if not any(line.strip() for line in lines):
        return "is empty (no header line)"
    if not lines[0].strip():
        return "has a blank line 1: the header must be the first line"
    delimiter, other = formats.sniff_delimiter(lines[0])
    if other:
        return (
            f"is separated by {other}: FINRA files are delimited by pipes, commas, tabs or"
            " control-A"
        )
    if delimiter is None:
        return f"has no FINRA header (line 1 is {lines[0][:80]!r})"
    found.delimiter = delimiter
    header = formats.parse_header(formats.parse_line(lines[0], delimiter))
    header_error = _take_header(found, header, week_rule)
    if found.layout is None:
        return header_error
    records = []
    for record in formats.text_records(lines[: SNIFF_ROWS * 2 + 1], header, delimiter):
        records.append(record)
        if len(records) == SNIFF_ROWS:
            break
    if not records:
        return header_error or "has no data rows (header only)"
    data_error = _identify_partition(found, records)
    if data_error and not any(r.field_count == header.field_count for r in records):
        data_error = (
            f"has no data row with the header's {header.field_count} fields (separated by"
            f" {formats.DELIMITERS[delimiter]}) in its first {len(records)} rows"
            + _rows_delimiter_hint(records[0].raw_line, header.field_count)
        )
    return header_error or data_error


def _rows_delimiter_hint(line: str, field_count: int) -> str:
    """When the header's field count is found by another delimiter: say which one."""
    for other, name in (*formats.DELIMITERS.items(), *formats.OTHER_DELIMITERS.items()):
        if len(formats.parse_line(line, other)) == field_count:
            return f" (its rows are separated by {name} ({other!r}))"
    return ""


def _identify_json(found: SourceFile, text: str, more: bool, week_rule: str) -> str | None:
    """FINRA's JSON output: an array of objects whose keys are the API's field names."""
    hint = (
        "; FINRA's JSON output is an array of objects with the fields of the weeklySummary"
        " dataset (weekStartDate, tierIdentifier, issueSymbolIdentifier, MPID,"
        " totalWeeklyShareQuantity, ...)"
    )
    records = []
    header = None
    try:
        for line_number, source, value in formats.json_objects(text):
            if header is None:
                header = formats.json_header(value)
                if header.layout is None:
                    return (
                        f"is JSON but not a FINRA export (its first record's keys are"
                        f" {', '.join(header.names[:6])}){hint}"
                    )
            records.append(formats.json_record(line_number, source, value, header))
            if len(records) == SNIFF_ROWS:
                break
    except formats.NotFinraJson as exc:
        return f"{exc}, not a FINRA export{hint}"
    except json.JSONDecodeError as exc:
        if not (more and records):  # a record cut by SNIFF_BYTES is read in full at load
            return f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    if header is None:
        return "has no data rows (an empty JSON array)"
    header_error = _take_header(found, header, week_rule)
    found.layout = "finra_json"
    return header_error or _identify_partition(found, records)


def _take_header(found: SourceFile, header: formats.Header, week_rule: str) -> str | None:
    """Record the header's layout, columns and week source; the header's error, if any."""
    found.header = header
    if header.layout is None:
        return (
            f"has no FINRA header (line 1 is {formats.DELIMITERS.get(found.delimiter or '|', '')}"
            f" separated names {', '.join(header.names[:6])})"
        )
    found.layout = header.layout
    found.week_source = formats.week_source(header, week_rule)
    if header.extra:
        found.warnings.append(f"ignores extra columns: {', '.join(header.extra)}")
    missing = header.missing()
    if missing:
        hints = "".join(header.alias_hint(name) for name in missing)
        layout = (
            formats.SIMPLIFIED_LAYOUT
            if header.layout == "simplified"
            else (formats.LEGACY_LAYOUT + " or the API fields")
        )
        return (
            f"lacks required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hints}"
            f" (the {header.layout} layout is {layout})"
        )
    if header.repeated:
        return f"repeats column {', '.join(header.repeated)} in its header (which one is meant?)"
    return None


def _identify_partition(found: SourceFile, records: list[formats.Record]) -> str | None:
    """Take tier and week by majority over the first rows that carry a valid value for each.

    A majority (ties: the earliest) rather than the first row, so a file whose first row is
    itself bad (another tier, another week) is still identified as what its rows are; that
    row is then rejected (TIER_MISMATCH, INVALID_WEEK_START, ...). A week found from the
    publication date is the file's: its earliest initialPublishedDate (else lastUpdateDate)
    minus the tier's delay. Returns why identification failed, for the user, or None.
    """
    tiers: Counter[str] = Counter()
    weeks: Counter[date] = Counter()
    published: list[date] = []
    fitting = [r for r in records if r.field_count == found.field_count]
    tier_at = formats.RAW_FIELDS.index("tier")
    assert found.header is not None
    pub_at = formats.RAW_FIELDS.index(formats.publication_field(found.header))
    week_at = formats.RAW_FIELDS.index(formats.week_field(found.week_source or "", found.header))
    for record in fitting:
        tier = canonical_tier(record.values[tier_at])
        if tier is not None:
            tiers[tier] += 1
        week = formats.row_week(record.values[week_at], found.week_source or "")
        if week is not None:
            weeks[week] += 1
        day = formats.parse_iso(record.values[pub_at])
        if day is not None:
            published.append(day)
    # Counter.most_common keeps first-seen order among equal counts.
    found.tier = tiers.most_common(1)[0][0] if tiers else None
    if found.week_source == PUBLICATION_DELAY:
        if published and found.tier is not None:
            delay = publication_delay_weeks()[found.tier]
            found.week_ending = formats.publication_week(min(published), delay)
    else:
        found.week_ending = weeks.most_common(1)[0][0] if weeks else None
    if not fitting:
        return "has no data row with the header's field count in its first rows"
    if found.tier is None:
        return f"has no row with a known tier in its first {len(fitting)} rows"
    if found.week_ending is None:
        what = {
            formats.WEEK_START_DATE: "Monday weekStartDate",
            formats.WEEK_ENDING_COLUMN: "Friday WeekEnding",
        }.get(found.week_source or "", "ISO publication date (lastUpdateDate)")
        return f"has no row with a valid {what} in its first {len(fitting)} rows"
    return None


def discover(
    source_dir: Path,
    already_verified: Callable[[Path], bool] | None = None,
    week_rule: str = PUBLICATION_DELAY,
    warehouse: Path | None = None,
    workers: int = 1,
) -> list[SourceFile]:
    """Every regular, non-hidden file under `source_dir` (recursive, sorted), identified.

    Files `already_verified` (unchanged since they loaded) are identified from their head only;
    the others are read whole (checked and digested, SHA-256) by `workers` threads at once
    (reading and hashing release the GIL). The warehouse's own files (`warehouse` and its
    `.wal`, `.lock`, ... beside it) are skipped.
    """
    source_dir = source_dir.resolve()
    paths = sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(source_dir).parts)
        and not _warehouse_file(p, warehouse)
    )

    def identified(path: Path) -> SourceFile:
        whole_file = not (already_verified and already_verified(path))
        return identify(path, whole_file=whole_file, week_rule=week_rule)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(identified, paths))


def _warehouse_file(path: Path, warehouse: Path | None) -> bool:
    """`path` is the DuckDB file or one of the files DuckDB and spine-dbt keep beside it."""
    if warehouse is None:
        return False
    return path.parent == warehouse.parent and path.name.startswith(warehouse.name)
