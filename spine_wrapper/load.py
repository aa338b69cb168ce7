"""Files -> raw rows: one capture per (week, tier), loaded set-based in one transaction."""

from __future__ import annotations

import codecs
import contextlib
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


def field_order(header: formats.Header) -> str | None:
    """The raw columns of the header's fields in file order, comma-separated
    ('tier_raw,symbol_raw,...'), or None when a field has no raw column of its own (a name
    we do not know, one given twice). Stored with a capture: a line of exactly these fields
    is the fields joined by the file's delimiter, so the loader may leave its raw_line null
    (the macro finra_raw_line rebuilds it)."""
    if len(header.columns) != header.field_count:
        return None
    by_position = sorted(header.columns, key=header.columns.__getitem__)
    return ",".join(RAW_COLUMNS[field] for field in by_position)


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


def duckdb_new_line(source: SourceFile, data: bytes) -> str | None:
    """The line end DuckDB's CSV reader splits the file's lines on (`\\n` or `\\r\\n`, as
    read_csv spells it) when DuckDB may read it set-based (the fast path), else None.

    The fast path takes a delimited file without a double quote (its CSV parse is then exactly
    a split on its delimiter) or a NUL byte (the reader's column separator), whose lines all
    end alike: LF only, or CRLF only. DuckDB's reader treats a lone CR as a line end and
    mixed line ends inconsistently, so such files, quoted files and JSON exports are parsed in
    Python (formats). test_finra_layouts checks both paths land the same rows.
    """
    if source.file_format != "text" or b'"' in data or b"\0" in data:
        return None
    carriage_returns = data.count(b"\r")
    if carriage_returns == 0:
        return "\\n"
    if carriage_returns == data.count(b"\r\n") == data.count(b"\n"):
        return "\\r\\n"
    return None


def load_captures(
    con: duckdb.DuckDBPyConnection,
    captures: list[Capture],
    calc_versions: dict[str, str],
    captured_at: datetime,
) -> dict[str, Parsed]:
    """Insert the data records of every capture's file into raw.finra_rows, set-based.

    Delimited files without quotes are read by DuckDB's multi-file CSV reader, in parallel,
    into a temp table of lines (duckdb_new_line); the other files (quoted, JSON, lone CRs) are
    parsed in Python (formats) into a landing CSV. Then, in one transaction, the landed rows
    and the lines split on their file's delimiter go into raw.finra_rows (physical line
    numbers, line ends stripped, blank lines skipped but counted), and the captures and their
    `loaded` events are recorded: a load that is killed leaves nothing behind. (The lines are
    read before the transaction: DuckDB scans a temp table filled inside one at half speed.)
    A capture whose file has a file-level error (rows of several weeks, not readable to its
    end) gets a `failed` event naming it. Returns, per capture id, its rows read and that
    error.
    """
    if not captures:
        return {}
    parsed: dict[str, Parsed] = {}
    con.execute(_CREATE_LOAD_FILES)
    try:
        with tempfile.TemporaryDirectory(prefix="spine-load-") as scratch_dir:
            landing = Path(scratch_dir) / "rows.csv"
            direct = _land(captures, parsed, landing)
            con.executemany(
                f"insert into load_files values ({', '.join(['?'] * _LOAD_FILES_WIDTH)})",
                [_file_row(c, parsed.get(c.capture_id)) for c in captures],
            )
            _read_lines(con, direct)
            con.execute("begin transaction")
            try:
                con.execute(_INSERT_LANDED_ROWS, [str(landing)])
                if direct:
                    con.execute(_INSERT_SPLIT_ROWS)
                    _count_rows(con, [capture for capture, *_ in direct], parsed)
                con.execute(
                    _INSERT_CAPTURES, [json.dumps(calc_versions, sort_keys=True), captured_at]
                )
                con.execute(_INSERT_EVENTS, [captured_at])
                failed_at = captured_at + timedelta(microseconds=1)  # after its `loaded` event
                for capture in captures:
                    error = parsed[capture.capture_id].error
                    if error:
                        ledger.append_events(con, [capture.capture_id], "failed", error, failed_at)
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
    finally:
        with contextlib.suppress(duckdb.Error):  # after a failure the connection may be gone
            con.execute("drop table if exists load_lines")
            con.execute("drop table if exists load_files")
    return parsed


def _land(
    captures: list[Capture], parsed: dict[str, Parsed], landing: Path
) -> list[tuple[Capture, str, bool, int]]:
    """Read every capture's file: write the records of those parsed in Python to the landing
    CSV (recording their rows read and file-level error in `parsed`, as for a file that
    cannot be read), and return those DuckDB reads straight from the file (duckdb_new_line):
    (capture, line end, gzip, size)."""
    direct: list[tuple[Capture, str, bool, int]] = []
    with landing.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for capture in captures:
            source = capture.source
            try:
                data, compressed = read_bytes(source.path)
            except OSError as exc:
                message = f"{source.path.name}: cannot be read: {exc}"
                parsed[capture.capture_id] = Parsed(error=message)
                continue
            new_line = duckdb_new_line(source, data)
            if new_line is None:
                parsed[capture.capture_id] = _write_rows(writer, capture, data)
            else:
                direct.append((capture, new_line, compressed, len(data)))
    return direct


def _count_rows(
    con: duckdb.DuckDBPyConnection, direct: list[Capture], parsed: dict[str, Parsed]
) -> None:
    """Record the rows read and the file-level error of each capture DuckDB split (in `parsed`
    and load_files), from its rows' week texts."""
    ids = [capture.capture_id for capture in direct]
    weeks = [capture.source.week_ending for capture in direct]
    counts: dict[str, int] = {}
    texts: dict[str, list[tuple[str, int]]] = {}
    for capture_id, text, line, rows in con.execute(
        _WEEK_TEXTS, [ids, min(weeks), max(weeks)]
    ).fetchall():
        counts[capture_id] = counts.get(capture_id, 0) + rows
        texts.setdefault(capture_id, []).append((text or "", line))
    for capture in direct:
        rows = counts.get(capture.capture_id, 0)
        error = week_error(capture.source, texts.get(capture.capture_id, []))
        parsed[capture.capture_id] = Parsed(rows, error)
    con.executemany(
        "update load_files set rows_read = ? where capture_id = ?",
        [[parsed[capture.capture_id].rows_read, capture.capture_id] for capture in direct],
    )


def _read_lines(
    con: duckdb.DuckDBPyConnection, direct: list[tuple[Capture, str, bool, int]]
) -> None:
    """Every physical line of the files in `direct` (capture, line end, gzip, size) into the
    temp table load_lines, in file order: one parallel multi-file read per (line end,
    compression), with insertion order preserved so that the table's rowids follow the lines."""
    groups: dict[tuple[str, bool], list[tuple[Capture, int]]] = {}
    for capture, new_line, compressed, size in direct:
        groups.setdefault((new_line, compressed), []).append((capture, size))
    [(preserve,)] = con.execute("select current_setting('preserve_insertion_order')").fetchall()
    con.execute("set preserve_insertion_order = true")  # rowids in file order (see _READ_LINES)
    try:
        con.execute("create or replace temp table load_lines (capture_id varchar, line varchar)")
        for (new_line, compressed), files in groups.items():
            con.execute(
                _READ_LINES,
                [
                    [capture.capture_id for capture, _ in files],
                    [str(capture.source.path) for capture, _ in files],
                    new_line,
                    "gzip" if compressed else "none",
                    max(max(size for _, size in files) + 1, _DEFAULT_MAX_LINE_SIZE),
                ],
            )
    finally:
        con.execute(f"set preserve_insertion_order = {str(bool(preserve)).lower()}")


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


def _file_row(capture: Capture, parsed: Parsed | None) -> tuple[object, ...]:
    source = capture.source
    assert source.header is not None and source.week_ending is not None
    columns = source.header.columns
    week_field = formats.week_field(source.week_source or "", source.header)
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
        source.delimiter,
        field_order(source.header) if source.delimiter is not None else None,
        RAW_COLUMNS[week_field] if week_field in columns else None,
        *(None if columns.get(name) is None else columns[name] + 1 for name in RAW_FIELDS),
    )


_CREATE_LOAD_FILES = (
    "create or replace temp table load_files (capture_id varchar, run_id varchar,"
    " week_ending date, tier varchar, source_file varchar, file_sha256 varchar,"
    " layout varchar, field_count integer, file_size bigint, file_mtime_ns bigint,"
    " week_source varchar, rows_read integer, delimiter varchar, field_order varchar,"
    " week_column varchar, " + ", ".join(f"pos_{name} integer" for name in RAW_FIELDS) + ")"
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

# The fast path: the files' physical lines, by DuckDB's CSV reader with one column (NUL
# separates columns, no quotes; blank lines come as null), several files read in parallel.
# With preserve_insertion_order, an INSERT keeps the order of a multi-file scan, and a
# table's rowids then follow it (DuckDB's "Order Preservation": rowid numbers the original
# row order of a materialized table), so a line's number is its rowid minus its file's first
# rowid, plus 1. Parameters: capture ids and paths (in the same order), line end,
# compression, longest line allowed (the largest file's size: a line is never longer).
_READ_LINES = """
insert into load_lines
select
    list_extract(?::varchar[], cast(file_index as integer) + 1) as capture_id,
    line
from read_csv(
    ?::varchar[], columns = {'line': 'varchar'}, delim = chr(0), quote = '', escape = '',
    header = false, auto_detect = false, strict_mode = false, new_line = ?, compression = ?,
    max_line_size = ?
)
"""
_DEFAULT_MAX_LINE_SIZE = 2_097_152  # DuckDB's own default

# The lines split on the file's delimiter, straight into raw.finra_rows. A field beyond the
# line's fields (a malformed line) or of a column the file lacks is null. A line of exactly
# the fields of the file's field_order keeps no raw_line: it is those fields joined by the
# delimiter (the macro finra_raw_line), and storing 15 M lines twice costs a third of a load.
_INSERT_SPLIT_ROWS = f"""
insert into raw.finra_rows by name
with first_rows as (
    select
        capture_id,
        min(rowid) as first_row
    from load_lines
    group by capture_id
),
split as (
    select
        f.*,
        f.field_count as expected_field_count,
        l.rowid - first_rows.first_row + 1 as line_number,
        l.line,
        string_split(l.line, f.delimiter) as fields
    from load_lines as l
    inner join first_rows on l.capture_id = first_rows.capture_id
    inner join load_files as f on l.capture_id = f.capture_id
    where l.rowid > first_rows.first_row and ltrim(l.line, '{formats.BLANK_CHARACTERS}') <> ''
)
select
    capture_id,
    cast(line_number as integer) as line_number,
    case when field_order is null or len(fields) <> expected_field_count then line end as raw_line,
    cast(len(fields) as integer) as field_count,
    {", ".join(f"fields[pos_{n}] as {RAW_COLUMNS[n]}" for n in RAW_FIELDS)},
    week_ending as capture_week_ending
from split
"""

# Per capture of the load (ids, first and last week: the week range skips the row groups of
# other weeks), each distinct text of its week field with its first line and its rows.
_WEEK_TEXTS = f"""
select
    r.capture_id,
    trim(case f.week_column
        {" ".join(f"when '{c}' then r.{c}" for c in RAW_COLUMNS.values())}
    end) as week_text,
    min(r.line_number) as first_line,
    count(*) as rows_read
from raw.finra_rows as r
inner join load_files as f on r.capture_id = f.capture_id
where list_contains(?, r.capture_id) and r.capture_week_ending between ? and ?
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
    week_source,
    delimiter,
    field_order
from load_files
"""

_INSERT_EVENTS = """
insert into raw.capture_events
select capture_id, run_id, 'loaded', ?, 'loaded from ' || source_file
from load_files
"""
