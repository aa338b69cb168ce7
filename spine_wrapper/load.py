"""Files -> raw rows: one capture per (week, tier), loaded set-based in one transaction."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from .discover import SourceFile
from .weeks import is_friday, week_ending_from_last_update

RAW_FIELDS = (
    "tier",
    "week_ending",
    "last_update_date",
    "symbol",
    "issue_name",
    "venue_name",
    "mpid",
    "shares",
    "trades",
)
# raw.finra_rows column of each raw field (names that are not `<field>_raw` are kept as given)
RAW_COLUMNS = {
    "issue_name": "issue_name",
    "venue_name": "venue_name",
}


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


def _readable_copy(path: Path, scratch: Path) -> Path:
    """DuckDB's read_text does not decompress: give it a plain copy of a .gz file."""
    if path.suffix != ".gz":
        return path
    target = scratch / f"{len(list(scratch.iterdir()))}_{path.stem}"
    with gzip.open(path, "rb") as source, target.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    return target


def load_captures(
    con: duckdb.DuckDBPyConnection,
    captures: list[Capture],
    calc_versions: dict[str, str],
    captured_at: datetime,
) -> dict[str, int]:
    """Insert the data lines of every capture's file into raw.finra_rows, set-based.

    One statement reads all files (physical line numbers, BOM and CR stripped, blank lines
    skipped but counted), then the captures and their `loaded` events are recorded, all in one
    transaction: a load that is killed leaves nothing behind. Returns rows read per capture.
    """
    if not captures:
        return {}
    with tempfile.TemporaryDirectory(prefix="spine-load-") as scratch_dir:
        scratch = Path(scratch_dir)
        files = [
            (
                str(_readable_copy(c.source.path, scratch)),
                c.capture_id,
                c.run_id,
                c.source.week_ending.isoformat(),
                c.source.tier,
                str(c.source.path),
                c.file_sha256,
                c.source.layout,
                c.source.field_count,
                *(c.file_stamp or (None, None)),
                *(c.source.columns.get(name) for name in RAW_FIELDS),
            )
            for c in captures
        ]
        con.execute("begin transaction")
        try:
            con.execute(
                "create or replace temp table load_files (read_path varchar, capture_id varchar,"
                " run_id varchar, week_ending date, tier varchar, source_file varchar,"
                " file_sha256 varchar, layout varchar, field_count integer,"
                " file_size bigint, file_mtime_ns bigint, "
                + ", ".join(f"pos_{name} integer" for name in RAW_FIELDS)
                + ")"
            )
            con.executemany(
                f"insert into load_files values ({', '.join(['?'] * len(files[0]))})", files
            )
            con.execute(
                "create or replace temp table load_stats"
                " (capture_id varchar, rows_read bigint, date_values varchar[])"
            )
            paths = [row[0] for row in files]
            for first in range(0, len(paths), LOAD_BATCH_FILES):  # bounded memory per statement
                # Parse a batch once; land it and take its per-capture stats from the batch,
                # never from raw.finra_rows, so a load's cost does not grow with the history.
                con.execute(_PARSE_BATCH, [paths[first : first + LOAD_BATCH_FILES]])
                con.execute("insert into raw.finra_rows select * from load_batch")
                con.execute(_BATCH_STATS)
            con.execute(_INSERT_CAPTURES, [json.dumps(calc_versions, sort_keys=True), captured_at])
            con.execute(_INSERT_EVENTS, [captured_at])
            failed_at = captured_at + timedelta(microseconds=1)  # after its `loaded` event
            for capture_id, detail in _multi_week_captures(con).items():
                con.execute(
                    "insert into raw.capture_events select capture_id, run_id, 'failed', ?, ?"
                    " from raw.captures where capture_id = ?",
                    [failed_at, detail, capture_id],
                )
            con.execute("drop table load_batch")
            counts = dict(
                con.execute(
                    "select capture_id, rows_read from raw.captures"
                    " where capture_id in (select capture_id from load_files)"
                ).fetchall()
            )
            con.execute("drop table load_files")
            con.execute("drop table load_stats")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return counts


def _multi_week_captures(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Captures whose file holds rows of more than one week: a file-level error (DOMAIN §1.1).

    DuckDB lists each capture's distinct date values; the week rule is applied here in Python
    (weeks.week_ending_from_last_update) to those few values only. Rows of another tier are
    row-level TIER_MISMATCH rejects instead; unparseable dates are row-level INVALID_DATE.
    """
    rows = con.execute(
        """
        select f.capture_id, f.source_file, f.layout, flatten(list(s.date_values))
        from load_files as f
        inner join load_stats as s on f.capture_id = s.capture_id
        group by f.capture_id, f.source_file, f.layout
        """
    ).fetchall()
    failed: dict[str, str] = {}
    for capture_id, source_file, layout, values in rows:
        weeks: set[date] = set()
        for value in values:
            try:
                day = date.fromisoformat(value or "")
            except ValueError:
                continue
            if layout == "finra":
                weeks.add(week_ending_from_last_update(day))
            elif is_friday(day):
                weeks.add(day)
        if len(weeks) > 1:
            listed = ", ".join(sorted(w.isoformat() for w in weeks))
            failed[capture_id] = (
                f"{source_file}: rows span several weeks ({listed}); one file must hold one week"
            )
    return failed


_FIELD_SELECT = ",\n".join(
    f"    fields[pos_{name}] as {RAW_COLUMNS.get(name, name + '_raw')}" for name in RAW_FIELDS
)

_PARSE_BATCH = f"""
create or replace temp table load_batch as
with texts as (
    select filename, string_split(content, chr(10)) as lines
    from read_text(?)
),
numbered as (
    select
        f.capture_id,
        f.week_ending,
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
    select *, string_split(raw_line, '|') as fields
    from cleaned
    where line_number > 1 and not regexp_full_match(raw_line, '\\s*')
)
select
    capture_id,
    line_number,
    raw_line,
    len(fields) as field_count,
{_FIELD_SELECT},
    week_ending as capture_week_ending
from split
"""

_INSERT_CAPTURES = """
insert into raw.captures
select
    f.capture_id,
    f.run_id,
    f.week_ending,
    f.tier,
    f.source_file,
    f.file_sha256,
    f.layout,
    f.field_count,
    coalesce(n.rows_read, 0),
    ?,
    ?,
    f.file_size,
    f.file_mtime_ns
from load_files as f
left join (
    select capture_id, sum(rows_read) as rows_read
    from load_stats
    group by capture_id
) as n on f.capture_id = n.capture_id
"""

_BATCH_STATS = """
insert into load_stats
select
    capture_id,
    count(*),
    list(distinct trim(trim(coalesce(week_ending_raw, last_update_date_raw)), '"'))
from load_batch
group by capture_id
"""

_INSERT_EVENTS = """
insert into raw.capture_events
select capture_id, run_id, 'loaded', ?, 'loaded from ' || source_file
from load_files
"""
