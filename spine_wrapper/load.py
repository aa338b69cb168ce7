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

from . import formats, ledger
from .discover import SourceFile, is_gzip
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
    """What loading one capture's file found besides its rows."""

    rows_read: int = 0
    error: str | None = None  # a file-level error: the capture fails with it


def read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes, gunzipped when it is gzip (by its magic number, as discovery reads
    it), and whether it was."""
    compressed = is_gzip(path)
    opener = gzip.open if compressed else open
    with opener(path, "rb") as handle:
        return handle.read(), compressed


def file_records(source: SourceFile, data: bytes) -> list[formats.Record]:
    """Every data record of a file as discovery identified it (DOMAIN.md §1.1), from its bytes.

    Raises ValueError with a message for users when the file cannot be read to its end.
    """
    header = source.header
    assert header is not None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte offset {exc.start})") from None
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


def week_error(source: SourceFile, week_texts: list[tuple[str, int]]) -> str | None:
    """A file-level week problem (DOMAIN.md §1.3), or None. `week_texts`: (text of the
    record's week field (formats.week_field), line number) for every record (or, the same,
    the first line of each distinct text).

    By a week column (or the previous-Friday rule), a file whose rows fall in different weeks
    is an error naming two such lines. By the publication date, the file's week comes from its
    earliest publication date, which must give the week its first rows gave when it was
    identified.
    """
    assert source.header is not None and source.tier is not None
    name = source.path.name
    if source.week_source == formats.PUBLICATION_DELAY:
        field = formats.FIELD_HEADERS[formats.publication_field(source.header)][0]
        dated = [
            (day, line) for text, line in week_texts if (day := formats.parse_iso(text)) is not None
        ]
        if not dated:
            return f"{name}: no row has a valid {field}"
        earliest, line = min(dated)
        week = formats.publication_week(earliest, publication_delay_weeks()[source.tier])
        if week != source.week_ending:
            return (
                f"{name}: its earliest {field} {earliest} (line {line}) places it in week {week},"
                f" not {source.week_ending} as its first rows did; sort the file by date or run"
                " the backfill for that week"
            )
        return None
    first_line: dict[date, int] = {}
    for text, line in week_texts:
        week = formats.row_week(text, source.week_source or "")
        if week is not None and line < first_line.get(week, line + 1):
            first_line[week] = line
    if len(first_line) > 1:
        (week_a, line_a), (week_b, line_b) = sorted(first_line.items(), key=lambda kv: kv[1])[:2]
        listed = ", ".join(w.isoformat() for w in sorted(first_line))
        return (
            f"{name}: rows span several weeks ({listed}: line {line_a} is {week_a}, line {line_b}"
            f" is {week_b}); one file must hold one week"
        )
    return None


def _split_by_duckdb(source: SourceFile, data: bytes) -> bool:
    """Whether DuckDB may split the file's lines on its delimiter, set-based (the fast path):
    a delimited file without a double quote, whose CSV parse is exactly that split. Quoted
    files and JSON exports are parsed in Python (formats). test_finra_layouts checks both
    paths land the same rows."""
    return source.file_format == "text" and b'"' not in data


def load_captures(
    con: duckdb.DuckDBPyConnection,
    captures: list[Capture],
    calc_versions: dict[str, str],
    captured_at: datetime,
) -> dict[str, Parsed]:
    """Insert the data records of every capture's file into raw.finra_rows, set-based.

    Files without quotes are split by DuckDB in one statement per batch (physical line
    numbers, BOM and CR stripped, blank lines skipped but counted); quoted files and JSON
    exports are parsed in Python (formats) into a landing CSV that DuckDB reads. Then the
    captures and their `loaded` events are recorded, all in one transaction: a load that is
    killed leaves nothing behind. A capture whose file has a file-level error (rows of several
    weeks, not readable to its end) gets a `failed` event naming it. Returns, per capture id,
    its rows read and that error.
    """
    if not captures:
        return {}
    parsed: dict[str, Parsed] = {}
    con.execute("begin transaction")
    try:
        con.execute(_CREATE_LOAD_FILES)
        with tempfile.TemporaryDirectory(prefix="spine-load-") as scratch_dir:
            scratch = Path(scratch_dir)
            for first in range(0, len(captures), LOAD_BATCH_FILES):  # bounded memory per batch
                batch = captures[first : first + LOAD_BATCH_FILES]
                _load_batch(con, batch, parsed, scratch)
        con.execute(_INSERT_CAPTURES, [json.dumps(calc_versions, sort_keys=True), captured_at])
        con.execute(_INSERT_EVENTS, [captured_at])
        failed_at = captured_at + timedelta(microseconds=1)  # after its `loaded` event
        for capture in captures:
            error = parsed[capture.capture_id].error
            if error:
                ledger.append_events(con, [capture.capture_id], "failed", error, failed_at)
        con.execute("drop table load_files")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return parsed


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    batch: list[Capture],
    parsed: dict[str, Parsed],
    scratch: Path,
) -> None:
    """Land one batch of files: those DuckDB splits from a plain copy, the rest through the
    landing CSV; record each capture's rows read and file-level error in `parsed`."""
    split: dict[str, str] = {}  # capture id -> the path DuckDB reads (a plain copy of a .gz)
    landing = scratch / "rows.csv"
    with landing.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for capture in batch:
            source = capture.source
            try:
                data, compressed = read_bytes(source.path)
            except OSError as exc:
                message = f"{source.path.name}: cannot be read: {exc}"
                parsed[capture.capture_id] = Parsed(error=message)
                continue
            if not _split_by_duckdb(source, data):
                parsed[capture.capture_id] = _write_rows(writer, capture, data)
                continue
            read_path = source.path
            if compressed:  # DuckDB's read_text does not decompress
                read_path = scratch / f"{len(split)}.txt"
                read_path.write_bytes(data)
            split[capture.capture_id] = str(read_path)
    con.executemany(
        f"insert into load_files values ({', '.join(['?'] * _LOAD_FILES_WIDTH)})",
        [_file_row(c, parsed.get(c.capture_id), split.get(c.capture_id)) for c in batch],
    )
    con.execute(_INSERT_LANDED_ROWS, [str(landing)])
    if split:
        con.execute(_SPLIT_BATCH, [list(split.values())])
        con.execute(
            "insert into raw.finra_rows by name select * exclude (week_text) from load_batch"
        )
        counts = dict(
            con.execute("select capture_id, count(*) from load_batch group by all").fetchall()
        )
        texts: dict[str, list[tuple[str, int]]] = {}
        for capture_id, text, line in con.execute(_WEEK_TEXTS).fetchall():
            texts.setdefault(capture_id, []).append((text or "", line))
        con.execute("drop table load_batch")
        for capture in batch:
            if capture.capture_id not in split:
                continue
            rows = counts.get(capture.capture_id, 0)
            error = week_error(capture.source, texts.get(capture.capture_id, []))
            parsed[capture.capture_id] = Parsed(rows, error)
            con.execute(
                "update load_files set rows_read = ? where capture_id = ?",
                [rows, capture.capture_id],
            )


def _write_rows(writer: Any, capture: Capture, data: bytes) -> Parsed:
    """Parse the capture's file in Python and write its records to the landing CSV."""
    source = capture.source
    try:
        records = file_records(source, data)
    except ValueError as exc:
        return Parsed(error=f"{source.path.name}: {exc}")
    for r in records:
        writer.writerow((capture.capture_id, r.line_number, r.raw_line, r.field_count, *r.values))
    assert source.header is not None
    at = RAW_FIELDS.index(formats.week_field(source.week_source or "", source.header))
    return Parsed(
        len(records), week_error(source, [(r.values[at], r.line_number) for r in records])
    )


def _file_row(capture: Capture, parsed: Parsed | None, read_path: str | None) -> tuple[object, ...]:
    source = capture.source
    assert source.header is not None and source.week_ending is not None
    columns = source.header.columns
    week_at = columns.get(formats.week_field(source.week_source or "", source.header))
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
        parsed.rows_read if parsed else None,
        read_path,
        source.delimiter,
        None if week_at is None else week_at + 1,
        *(None if columns.get(name) is None else columns[name] + 1 for name in RAW_FIELDS),
    )


_CREATE_LOAD_FILES = (
    "create or replace temp table load_files (capture_id varchar, run_id varchar,"
    " week_ending date, tier varchar, source_file varchar, file_sha256 varchar,"
    " layout varchar, field_count integer, file_size bigint, file_mtime_ns bigint,"
    " week_source varchar, rows_read integer, read_path varchar, delimiter varchar,"
    " pos_week integer, " + ", ".join(f"pos_{name} integer" for name in RAW_FIELDS) + ")"
)
_LOAD_FILES_WIDTH = 15 + len(RAW_FIELDS)

_LANDING_COLUMNS = ", ".join(
    f"'{name}': 'varchar'"
    for name in ("capture_id", "line_number", "raw_line", "field_count", *RAW_FIELDS)
)

# A field the file has no column for is null; one it has is its text ('' when empty).
_LANDED_FIELDS = ", ".join(
    f"case when f.pos_{n} is not null then r.{n} end as {RAW_COLUMNS[n]}" for n in RAW_FIELDS
)
_INSERT_LANDED_ROWS = f"""
insert into raw.finra_rows by name
select
    r.capture_id,
    cast(r.line_number as integer) as line_number,
    r.raw_line,
    cast(r.field_count as integer) as field_count,
    {_LANDED_FIELDS},
    f.week_ending as capture_week_ending
from read_csv(
    ?, auto_detect = false, header = false, delim = ',', quote = '"', escape = '"',
    new_line = '\\n', allow_quoted_nulls = false, columns = {{{_LANDING_COLUMNS}}}
) as r
inner join load_files as f on r.capture_id = f.capture_id
"""

# The fast path: physical lines split on the file's delimiter. A field beyond the line's
# fields (a malformed line) or of a column the file lacks is null.
_SPLIT_BATCH = f"""
create or replace temp table load_batch as
with texts as (
    select filename, string_split(content, chr(10)) as lines
    from read_text(?)
),
numbered as (
    select
        f.capture_id,
        f.week_ending,
        f.delimiter,
        f.pos_week,
        {", ".join(f"f.pos_{name}" for name in RAW_FIELDS)},
        unnest(t.lines) as line,
        generate_subscripts(t.lines, 1) as line_number
    from texts as t
    inner join load_files as f on t.filename = f.read_path
),
cleaned as (
    select
        *,
        rtrim(case when line_number = 1 then ltrim(line, chr(65279)) else line end, chr(13))
            as raw_line
    from numbered
),
split as (
    select *, string_split(raw_line, delimiter) as fields
    from cleaned
    where line_number > 1 and not regexp_full_match(raw_line, '[{formats.BLANK_CHARACTERS}]*')
)
select
    capture_id,
    cast(line_number as integer) as line_number,
    raw_line,
    cast(len(fields) as integer) as field_count,
    {", ".join(f"fields[pos_{n}] as {RAW_COLUMNS[n]}" for n in RAW_FIELDS)},
    week_ending as capture_week_ending,
    trim(fields[pos_week]) as week_text
from split
"""

_WEEK_TEXTS = """
select capture_id, week_text, min(line_number)
from load_batch
group by all
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
