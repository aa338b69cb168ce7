"""Files -> raw rows: one capture per (week, tier), loaded set-based in one transaction."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from . import formats
from .discover import SourceFile
from .formats import RAW_FIELDS
from .tiers import publication_delay_weeks

LOAD_BATCH_FILES = 12


@dataclass(frozen=True)
class Capture:
    """One (week, tier) loaded from one file in one run."""

    capture_id: str
    run_id: str
    source: SourceFile
    file_sha256: str
    file_stamp: tuple[int, int] | None = None  # (size, mtime_ns) when the digest was taken


def new_run_stamp(now: datetime | None = None) -> str:
    """A sortable UTC stamp shared by a run's id and its capture ids."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def capture_id_for(tier: str, week: str, stamp: str) -> str:
    return f"{tier}:{week}:{stamp}"


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, mtime_ns): a file whose stamp is unchanged since it was hashed is not re-read."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, checking on the way that its text is UTF-8.

    Raises UnicodeDecodeError (with the byte offset) for text that DuckDB could not read.
    """
    digest = hashlib.sha256()
    opener = gzip.open if path.suffix == ".gz" else open
    decoder = codecs.getincrementaldecoder("utf-8")()
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            decoder.decode(chunk)
    decoder.decode(b"", final=True)
    return digest.hexdigest()


# raw.finra_rows column of each raw field (names that are not `<field>_raw` are kept as given)
RAW_COLUMNS = {field: field if field.endswith("_name") else f"{field}_raw" for field in RAW_FIELDS}


@dataclass
class Parsed:
    """What parsing one capture's file found besides its rows."""

    rows_read: int = 0
    error: str | None = None  # a file-level error: the capture fails with it


def read_text(path: Path) -> str:
    """The file's text: gunzipped when it is gzip, UTF-8 (a BOM dropped). UnicodeDecodeError
    when it is not UTF-8 (discovery reports that before a file is loaded)."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    with opener(path, "rb") as handle:
        return handle.read().decode("utf-8-sig")


def file_records(source: SourceFile) -> list[formats.Record]:
    """Every data record of a file as discovery identified it (DOMAIN.md §1.1).

    Raises ValueError with a message for users when the file cannot be read to its end.
    """
    header = source.header
    assert header is not None
    try:
        text = read_text(source.path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror or exc}") from None
    if source.file_format == "json":
        try:
            return [
                formats.json_record(line, raw, value, header)
                for line, raw, value in formats.json_objects(text)
            ]
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
    assert source.delimiter is not None
    lines = formats.physical_lines(text)
    return list(formats.text_records(lines, header, source.delimiter))


def week_error(source: SourceFile, records: list[formats.Record]) -> str | None:
    """A file-level week problem (DOMAIN.md §1.3), checked on every record, or None.

    By a week column (or the previous-Friday rule), a file whose rows fall in different weeks
    is an error naming two such lines. By the publication date, the file's week comes from its
    earliest publication date, which must give the week its first rows gave when it was
    identified.
    """
    name = source.path.name
    if source.week_source == formats.PUBLICATION_DELAY:
        assert source.header is not None and source.tier is not None
        field = formats.publication_field(source.header)
        at = RAW_FIELDS.index(field)
        dated = [
            (day, r.line_number)
            for r in records
            if (day := formats.parse_iso(r.values[at])) is not None
        ]
        if not dated:
            return f"{name}: no row has a valid {formats.FIELD_HEADERS[field][0]}"
        earliest, line = min(dated)
        week = formats.publication_week(earliest, publication_delay_weeks()[source.tier])
        if week != source.week_ending:
            return (
                f"{name}: its earliest {formats.FIELD_HEADERS[field][0]} {earliest} (line {line})"
                f" places it in week {week}, not {source.week_ending} as its first rows did;"
                " sort the file by date or run the backfill for that week"
            )
        return None
    first_line: dict[date, int] = {}
    for record in records:
        week = formats.row_week(record.values, source.week_source or "")
        if week is not None and week not in first_line:
            first_line[week] = record.line_number
    if len(first_line) > 1:
        (week_a, line_a), (week_b, line_b) = sorted(first_line.items(), key=lambda kv: kv[1])[:2]
        listed = ", ".join(w.isoformat() for w in sorted(first_line))
        return (
            f"{name}: rows span several weeks ({listed}: line {line_a} is {week_a}, line {line_b}"
            f" is {week_b}); one file must hold one week"
        )
    return None


def _write_rows(writer: Any, capture: Capture) -> Parsed:
    """Parse the capture's file and write its records to the landing CSV."""
    try:
        records = file_records(capture.source)
    except ValueError as exc:
        return Parsed(error=f"{capture.source.path.name}: {exc}")
    for r in records:
        writer.writerow((capture.capture_id, r.line_number, r.raw_line, r.field_count, *r.values))
    return Parsed(len(records), week_error(capture.source, records))


def load_captures(
    con: duckdb.DuckDBPyConnection,
    captures: list[Capture],
    calc_versions: dict[str, str],
    captured_at: datetime,
) -> dict[str, int]:
    """Insert the data records of every capture's file into raw.finra_rows, set-based.

    Files are parsed in Python (formats: CSV syntax, JSON, physical line numbers) into a
    landing CSV per batch that DuckDB reads in one statement; then the captures and their
    `loaded` events are recorded, all in one transaction: a load that is killed leaves nothing
    behind. A capture whose file has a file-level error (rows of several weeks, not readable
    to its end) gets a `failed` event naming it. Returns rows read per capture.
    """
    if not captures:
        return {}
    parsed: dict[str, Parsed] = {}
    con.execute("begin transaction")
    try:
        con.execute(
            "create or replace temp table load_files (capture_id varchar, run_id varchar,"
            " week_ending date, tier varchar, source_file varchar, file_sha256 varchar,"
            " layout varchar, field_count integer, file_size bigint, file_mtime_ns bigint,"
            " week_source varchar, rows_read integer, "
            + ", ".join(f"has_{name} boolean" for name in RAW_FIELDS)
            + ")"
        )
        with tempfile.TemporaryDirectory(prefix="spine-load-") as scratch:
            landing = Path(scratch) / "rows.csv"
            for first in range(0, len(captures), LOAD_BATCH_FILES):  # bounded disk per batch
                batch = captures[first : first + LOAD_BATCH_FILES]
                with landing.open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
                    for capture in batch:
                        parsed[capture.capture_id] = _write_rows(writer, capture)
                con.executemany(
                    f"insert into load_files values ({', '.join(['?'] * (12 + len(RAW_FIELDS)))})",
                    [_file_row(c, parsed[c.capture_id]) for c in batch],
                )
                con.execute(_INSERT_ROWS, [str(landing)])
        con.execute(_INSERT_CAPTURES, [json.dumps(calc_versions, sort_keys=True), captured_at])
        con.execute(_INSERT_EVENTS, [captured_at])
        failed_at = captured_at + timedelta(microseconds=1)  # after its `loaded` event
        for capture in captures:
            error = parsed[capture.capture_id].error
            if error:
                con.execute(
                    "insert into raw.capture_events values (?, ?, 'failed', ?, ?)",
                    [capture.capture_id, capture.run_id, failed_at, error],
                )
        con.execute("drop table load_files")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return {capture_id: p.rows_read for capture_id, p in parsed.items()}


def _file_row(capture: Capture, parsed: Parsed) -> tuple[object, ...]:
    source = capture.source
    assert source.header is not None and source.week_ending is not None
    return (
        capture.capture_id,
        capture.run_id,
        source.week_ending.isoformat(),
        source.tier,
        str(source.path),
        capture.file_sha256,
        source.layout,
        source.field_count,
        *(capture.file_stamp or (None, None)),
        source.week_source,
        parsed.rows_read,
        *(name in source.header.columns for name in RAW_FIELDS),
    )


_LANDING_COLUMNS = ", ".join(
    f"'{name}': 'varchar'"
    for name in ("capture_id", "line_number", "raw_line", "field_count", *RAW_FIELDS)
)

# A field the file has no column for is null; one it has is its text ('' when empty).
_INSERT_ROWS = f"""
insert into raw.finra_rows by name
select
    r.capture_id,
    cast(r.line_number as integer) as line_number,
    r.raw_line,
    cast(r.field_count as integer) as field_count,
    {", ".join(f"case when f.has_{n} then r.{n} end as {RAW_COLUMNS[n]}" for n in RAW_FIELDS)},
    f.week_ending as capture_week_ending
from read_csv(
    ?, auto_detect = false, header = false, delim = ',', quote = '"', escape = '"',
    new_line = '\\n', allow_quoted_nulls = false, columns = {{{_LANDING_COLUMNS}}}
) as r
inner join load_files as f on r.capture_id = f.capture_id
"""

_INSERT_CAPTURES = """
insert into raw.captures by name
select
    capture_id,
    run_id,
    week_ending,
    tier,
    source_file,
    file_sha256,
    layout,
    field_count as expected_field_count,
    rows_read,
    ? as calc_versions,
    ? as captured_at,
    file_size,
    file_mtime_ns,
    week_source
from load_files
"""

_INSERT_EVENTS = """
insert into raw.capture_events
select capture_id, run_id, 'loaded', ?, 'loaded from ' || source_file
from load_files
"""
