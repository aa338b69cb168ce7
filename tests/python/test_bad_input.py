"""Bad input: a clear error, and nothing lost.

Row level: every bad line of a file gets its exact reject code(s) and the file still
publishes, with rows read = accepted + rejected. File level: a file that cannot be loaded fails
its own partition with a message naming the file and the problem, the other partitions of the
run publish, exit 1. Arguments: refused with exit 2 before anything is written.

A backfill is a real `dbt build` (seconds), so each corpus is written as a few files of many
bad lines and backfilled once per module; the parametrized tests then check one line or one
file each against that warehouse.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from spine_wrapper import dbt
from spine_wrapper.discover import identify
from spine_wrapper.warehouse import Warehouse

from .conftest import query, run_cli

SIMPLE_HEADER = "WeekEnding|Tier|Symbol|MPID|TotalShares|TotalTrades"
FINRA_HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID"
    "|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate"
)
T1, T2, OTC = "NMS_TIER_1", "NMS_TIER_2", "OTC"
BLANK = "(blank line)"
SYMBOL_21 = "ABCDEFGHIJKLMNOPQRSTU"
SYMBOL_20 = SYMBOL_21[:20]


def simple(
    symbol: str,
    mpid: str = "MPA",
    shares: str = "1000",
    trades: str = "10",
    week: str = "2025-12-12",
    tier: str = "NMS Tier 1",
) -> str:
    return "|".join([week, tier, symbol, mpid, shares, trades])


def finra(
    symbol: str,
    issue: str = "Issue Inc.",
    mpid: str = "OTCN",
    shares: str = "1000",
    trades: str = "10",
    tier: str = "OTC",
    venue: str = "OTC Link ATS",
    updated: str = "2026-01-12",  # published Monday 2026-01-12: OTC week 2025-12-12
) -> str:
    return "|".join([tier, symbol, issue, venue, mpid, shares, trades, updated])


@dataclass(frozen=True)
class Ok:
    """An accepted line and the values it must end up with (None: not checked)."""

    symbol: str | None = None
    mpid: str | None = None
    shares: int | None = None
    trades: int | None = None
    issue_name: str | None = None
    venue_name: str | None = None


# (case id, the line as written, expected): a reason code (the only one), a tuple
# (primary code, all codes), Ok(...) for an accepted line, or BLANK (a blank line, not a row).
Expected = str | tuple[str, str] | Ok
Case = tuple[str, str, Expected]

# NMS Tier 1, 2025-12-12, simplified layout. Written with a BOM, CRLF line ends, blank lines in
# the middle and no final newline (the last line is also cut short).
SIMPLE_CASES: list[Case] = [
    ("first row is good", simple("GOOD"), Ok("GOOD", "MPA", 1000, 10)),
    ("empty shares", simple("MS1", shares=""), "MISSING_SHARES"),
    ("blank shares", simple("MS2", shares="   "), "MISSING_SHARES"),
    ("quoted empty shares", simple("MS3", shares='""'), "MISSING_SHARES"),
    ("empty trades, never 0", simple("MT1", trades=""), "MISSING_TRADES"),
    ("shares 1e10", simple("IS1", shares="1e10"), "INVALID_SHARES"),
    ("shares 1,000", simple("IS2", shares="1,000"), "INVALID_SHARES"),
    ("shares 1000.5", simple("IS3", shares="1000.5"), "INVALID_SHARES"),
    ("shares abc", simple("IS4", shares="abc"), "INVALID_SHARES"),
    ("shares beyond bigint", simple("IS5", shares="99999999999999999999"), "INVALID_SHARES"),
    ("shares 1000.0", simple("IS6", shares="1000.0"), "INVALID_SHARES"),
    ("trades 1e10", simple("IT1", trades="1e10"), "INVALID_TRADES"),
    ("trades 1,000", simple("IT2", trades="1,000"), "INVALID_TRADES"),
    ("trades 10.5", simple("IT3", trades="10.5"), "INVALID_TRADES"),
    ("trades abc", simple("IT4", trades="abc"), "INVALID_TRADES"),
    ("shares '1 000'", simple("IS7", shares="1 000"), "INVALID_SHARES"),
    ("padded numbers", simple("PN1", shares=" 1000 ", trades=" 7 "), Ok("PN1", "MPA", 1000, 7)),
    ("leading zeros", simple("PN2", shares="0010", trades="007"), Ok("PN2", "MPA", 10, 7)),
    ("negative shares", simple("NS1", shares="-5"), "NEGATIVE_SHARES"),
    ("negative trades", simple("NT1", trades="-1"), "NEGATIVE_TRADES"),
    ("zero and zero", simple("ZV1", shares="0", trades="0"), "ZERO_VOLUME"),
    ("zero shares, 5 trades", simple("ZS1", shares="0", trades="5"), Ok("ZS1", "MPA", 0, 5)),
    ("500 shares, zero trades", simple("ZT1", shares="500", trades="0"), Ok("ZT1", "MPA", 500, 0)),
    ("symbol with $", simple("AA$PL"), "INVALID_SYMBOL"),
    ("symbol with inner space", simple("AA PL"), "INVALID_SYMBOL"),
    ("symbol with a tab inside", simple("AA\tPL"), "INVALID_SYMBOL"),
    ("non-ASCII symbol", simple("äpfel"), "INVALID_SYMBOL"),
    ("lowercase symbol keeps its case", simple("aapl"), Ok("aapl", "MPA")),
    ("padded symbol", simple(" AAPL ", mpid="MPB"), Ok("AAPL", "MPB")),
    ("symbol with . - /", simple("BRK.B-W/I"), Ok("BRK.B-W/I")),
    ("symbol of 20 chars", simple(SYMBOL_20), Ok(SYMBOL_20)),
    ("symbol of 21 chars", simple(SYMBOL_21), "SYMBOL_TOO_LONG"),
    ("mpid of 20 chars", simple("M20", mpid="M" * 20), Ok("M20", "M" * 20)),
    ("mpid of 21 chars", simple("M21", mpid="M" * 21), "MPID_TOO_LONG"),
    ("lowercase padded mpid", simple("LM1", mpid=" mpc "), Ok("LM1", "MPC")),
    ("empty symbol", simple(""), "EMPTY_SYMBOL"),
    ("blank symbol", simple("   ", mpid="MPB"), "EMPTY_SYMBOL"),
    ("empty mpid", simple("EM1", mpid=""), "EMPTY_MPID"),
    ("tier 'nms tier 1'", simple("TS1", tier="nms tier 1"), Ok("TS1")),
    ("tier NMS_TIER_1", simple("TS2", tier="NMS_TIER_1"), Ok("TS2")),
    ("tier 'tier1'", simple("TS3", tier="tier1"), Ok("TS3")),
    ("tier T1", simple("TS4", tier="T1"), Ok("TS4")),
    ("tier ' t-1 '", simple("TS5", tier=" t-1 "), Ok("TS5")),
    ("tier 'Tier 9'", simple("TS6", tier="Tier 9"), "INVALID_TIER"),
    ("empty tier", simple("TS7", tier=""), "INVALID_TIER"),
    ("OTC row in an NMS Tier 1 file", simple("TS8", tier="OTC"), "TIER_MISMATCH"),
    ("T2 row in an NMS Tier 1 file", simple("TS9", tier="Tier 2"), "TIER_MISMATCH"),
    ("week on a Thursday", simple("WE1", week="2025-12-11"), "INVALID_WEEK_ENDING"),
    ("week 2025-13-45", simple("DT1", week="2025-13-45"), "INVALID_DATE"),
    ("week 'yesterday'", simple("DT2", week="yesterday"), "INVALID_DATE"),
    ("empty week", simple("DT3", week=""), "INVALID_DATE"),
    ("week 12/12/2025", simple("DT4", week="12/12/2025"), "INVALID_DATE"),
    ("week 2025-02-30", simple("DT5", week="2025-02-30"), "INVALID_DATE"),
    ("blank line in the middle", "", BLANK),
    ("too few fields", "2025-12-12|NMS Tier 1|MF1|MPA|1000", "MALFORMED_ROW"),
    ("too many fields", simple("MF2") + "|extra", "MALFORMED_ROW"),
    (
        "quoted pipe inside a field: one field",
        '2025-12-12|NMS Tier 1|"A|B"|MPA|1000|10',
        "INVALID_SYMBOL",
    ),
    ("unclosed quote stays on its line", '2025-12-12|NMS Tier 1|"UQ1|MPA|1000|10', "MALFORMED_ROW"),
    ("a single field", "garbage", "MALFORMED_ROW"),
    ("spaces-only line", "     ", BLANK),
    ("duplicate key, first", simple("DUP"), Ok("DUP", "MPA", 1000, 10)),
    ("duplicate key, second", simple("DUP", shares="2000"), "DUPLICATE_KEY"),
    ("duplicate key, upper-cased mpid", simple("DUP", mpid=" mpa"), "DUPLICATE_KEY"),
    ("lowercase symbol is another security", simple("dup", mpid="mpa"), Ok("dup", "MPA")),
    ("duplicate key, padded symbol", simple(" DUP ", mpid="MPA "), "DUPLICATE_KEY"),
    ("same symbol, other mpid", simple("DUP", mpid="MPB"), Ok("DUP", "MPB")),
    ("first of a key is bad", simple("DV1", shares="-1"), "NEGATIVE_SHARES"),
    ("then the key's first good line", simple("DV1"), Ok("DV1", "MPA", 1000, 10)),
    (
        "every field quoted",
        '"2025-12-12"|"NMS Tier 1"|"QAPL"|"MPA"|"1000"|"10"',
        Ok("QAPL", "MPA", 1000, 10),
    ),
    (
        "empty shares and negative trades",
        simple("MC1", shares="", trades="-3"),
        ("MISSING_SHARES", "MISSING_SHARES,NEGATIVE_TRADES"),
    ),
    (
        "every field empty",
        "|||||",
        (
            "MISSING_SHARES",
            "MISSING_SHARES,MISSING_TRADES,INVALID_DATE,INVALID_TIER,EMPTY_SYMBOL,EMPTY_MPID",
        ),
    ),
    (
        "the header again (concatenated files)",
        SIMPLE_HEADER,
        ("INVALID_SHARES", "INVALID_SHARES,INVALID_TRADES,INVALID_DATE,INVALID_TIER"),
    ),
    (
        "bad symbol, mpid and numbers at once",
        simple("AA$PL", mpid="M" * 21, shares="x", trades="0"),
        ("INVALID_SHARES", "INVALID_SHARES,INVALID_SYMBOL,MPID_TOO_LONG"),
    ),
    ("blank line before the last", "", BLANK),
    ("truncated last line, no newline", "2025-12-12|NMS Tier 1|ZZ|AB", "MALFORMED_ROW"),
]

# OTC, lastUpdateDate 2026-01-12 (first published then, four weeks late) -> week 2025-12-12, FINRA
# layout with its columns reordered and re-cased (matched by name), LF line ends, a final newline.
FINRA_CASES: list[Case] = [
    (
        "non-ASCII issue name",
        finra("GLE", issue="Société Générale", venue="Bourse Zürich ✓"),
        Ok("GLE", "OTCN", issue_name="Société Générale", venue_name="Bourse Zürich ✓"),
    ),
    (
        "names kept as given",
        finra("PAD", issue="  padded  name ", venue='The "Quoted" Venue'),
        Ok("PAD", issue_name="  padded  name ", venue_name='The "Quoted" Venue'),
    ),
    ("empty issue name", finra("NONAME", issue=""), Ok("NONAME", issue_name="")),
    ("tier OTCE", finra("OTCE1", tier="OTCE"), Ok("OTCE1")),
    ("tier 'otc' lowercase", finra("OTCE2", tier="otc"), Ok("OTCE2")),
    ("NMS Tier 1 row in an OTC file", finra("MIS1", tier="NMS Tier 1"), "TIER_MISMATCH"),
    ("tier 'OTCQX'", finra("MIS2", tier="OTCQX"), "INVALID_TIER"),
    ("a revised row (later lastUpdateDate)", finra("REV1", updated="2026-03-02"), Ok("REV1")),
    ("empty lastUpdateDate", finra("LU1", updated=""), "INVALID_DATE"),
    ("lastUpdateDate 2025-02-30", finra("LU2", updated="2025-02-30"), "INVALID_DATE"),
    ("lastUpdateDate 'yesterday'", finra("LU3", updated="yesterday"), "INVALID_DATE"),
    ("empty share quantity", finra("FS1", shares=""), "MISSING_SHARES"),
    ("empty trade count", finra("FT1", trades=""), "MISSING_TRADES"),
    ("share quantity 1,000", finra("FS2", shares="1,000"), "INVALID_SHARES"),
    ("symbol AA$PL", finra("AA$PL"), "INVALID_SYMBOL"),
    ("empty symbol (like the real file)", finra(""), "EMPTY_SYMBOL"),
    ("empty MPID", finra("FM1", mpid=""), "EMPTY_MPID"),
    ("De Minimis bucket", finra("DM1", mpid="", venue="De Minimis Firms"), Ok("DM1", "DE_MINIMIS")),
    (
        "De Minimis again, respelled",
        finra("DM1", mpid=" ", venue=" DE MINIMIS FIRMS"),
        "DUPLICATE_KEY",
    ),
    ("too few fields", "OTC|FEW|Few Inc.|OTC Link ATS|OTCN|1000|10", "MALFORMED_ROW"),
]
# NMS Tier 2, 2025-12-12: gzipped, one extra column (ignored), LF, final newline.
GZIP_CASES: list[Case] = [
    ("gzip row 1", simple("GZ1", tier="T2") + "|a comment", Ok("GZ1", "MPA", 1000, 10)),
    ("gzip row 2", simple("GZ2", tier="NMS Tier 2") + "|", Ok("GZ2")),
    ("gzip bad shares", simple("GZ3", tier="T2", shares="1e3") + "|x", "INVALID_SHARES"),
    ("gzip extra column missing", simple("GZ4", tier="T2"), "MALFORMED_ROW"),
]

# NMS Tier 2, 2025-12-19: its first data row is of another tier; the file is still identified
# by what most of its rows say, and that first row is the one rejected.
FIRST_ROW_CASES: list[Case] = [
    ("first row of another tier", simple("FR1", week="2025-12-19", tier="OTC"), "TIER_MISMATCH"),
    (
        "first row, week on a Saturday",
        simple("FR2", week="2025-12-20", tier="T2"),
        "INVALID_WEEK_ENDING",
    ),
    ("then T2 rows", simple("FR3", week="2025-12-19", tier="T2"), Ok("FR3")),
    ("more T2 rows", simple("FR4", week="2025-12-19", tier="T2"), Ok("FR4")),
]

# NMS Tier 1, 2025-12-19 (published 2026-01-05, two weeks late), FINRA layout, every field
# quoted (CSV syntax: the quotes never reach a table), trailing blank lines; it lives in a
# sub-folder under a misleading name (files are identified by content, not name).
QUOTED_CASES: list[Case] = [
    (
        "quoted FINRA row",
        '"NMS Tier 1"|"QQQ1"|"Quoted, Inc."|"Venue"|"mpq"|"12"|"3"|"2026-01-05"',
        Ok("QQQ1", "MPQ", 12, 3, issue_name="Quoted, Inc."),
    ),
    ("quoted FINRA row 2", '"T1"|" qqq2 "|"Q2"|"Venue"|"MPQ"|"7"|"0"|"2026-01-05"', Ok("qqq2")),
    (
        "a quote inside a quoted name",
        '"T1"|"QQQ3"|"The ""Best"" Co"|"Venue"|"MPQ"|"7"|"1"|"2026-01-05"',
        Ok("QQQ3", issue_name='The "Best" Co'),
    ),
]

# OTC, 2025-12-19: simplified, a plain good file.
PLAIN_CASES: list[Case] = [
    ("plain OTC row", simple("PL1", week="2025-12-19", tier="OTC"), Ok("PL1")),
    ("tab-only line", " \t ", BLANK),
    (
        "plain OTC zero volume",
        simple("PL2", week="2025-12-19", tier="OTC", shares="0", trades="0"),
        "ZERO_VOLUME",
    ),
]


@dataclass(frozen=True)
class RowFile:
    """One file of the row-level corpus: its partition, layout and how its bytes are written."""

    name: str
    week: str
    tier: str
    header: str
    cases: list[Case]
    newline: str = "\n"
    ending: str = "\n"  # written after the last line
    bom: bool = False
    order: tuple[int, ...] | None = None  # FINRA columns reordered (matched by name)

    def _reordered(self, line: str) -> str:
        fields = line.split("|")
        if self.order is None or len(fields) != len(self.order):
            return line
        return "|".join(fields[i] for i in self.order)

    def lines(self) -> list[str]:
        """Header and data lines as written (line 1 is the header)."""
        return [self._reordered(self.header), *(self._reordered(line) for _, line, _ in self.cases)]

    def data(self) -> bytes:
        text = ("\ufeff" if self.bom else "") + self.newline.join(self.lines()) + self.ending
        raw = text.encode("utf-8")
        return gzip.compress(raw, mtime=0) if self.name.endswith(".gz") else raw

    def numbered(self) -> list[tuple[int, str, str, Expected]]:
        """(physical line number, case id, line as written, expected) per case."""
        return [
            (number, case_id, line, expected)
            for number, ((case_id, _, expected), line) in enumerate(
                zip(self.cases, self.lines()[1:], strict=True), start=2
            )
        ]


FINRA_REORDERED = "|".join(
    name.upper() if i % 2 else name.lower() for i, name in enumerate(FINRA_HEADER.split("|"))
)
ROW_FILES = [
    RowFile(
        "nms1_2025-12-12.psv",
        "2025-12-12",
        T1,
        SIMPLE_HEADER,
        SIMPLE_CASES,
        newline="\r\n",
        ending="",
        bom=True,
    ),
    RowFile(
        "finra_otc_20251215.csv",
        "2025-12-12",
        OTC,
        FINRA_REORDERED,
        FINRA_CASES,
        order=(7, 0, 4, 1, 2, 3, 6, 5),
    ),
    RowFile("tier2_2025-12-12.psv.gz", "2025-12-12", T2, SIMPLE_HEADER + "|Comment", GZIP_CASES),
    RowFile("tier2_2025-12-19.psv", "2025-12-19", T2, SIMPLE_HEADER, FIRST_ROW_CASES),
    RowFile(
        "nested/deeper/otc_20251222_NOT_WHAT_IT_SAYS.txt",
        "2025-12-19",
        T1,
        "|".join(f'"{name}"' for name in FINRA_HEADER.split("|")),
        QUOTED_CASES,
        ending="\n\n\n",
    ),
    RowFile("otc_2025-12-19.psv", "2025-12-19", OTC, SIMPLE_HEADER, PLAIN_CASES),
]
ROW_CASES = [
    pytest.param(row_file, number, line, expected, id=f"{row_file.tier}:{number}:{case_id}")
    for row_file in ROW_FILES
    for number, case_id, line, expected in row_file.numbered()
    if expected is not BLANK
]


@dataclass
class RowRun:
    """The row-level corpus backfilled once: the CLI result and what the warehouse holds."""

    db: Path
    source: Path
    exit_code: int
    output: str
    rejects: dict[tuple[str, int], tuple[str, str, str]]  # (file, line) -> code, codes, raw
    accepted: dict[tuple[str, int], tuple]  # (file, line) -> symbol, mpid, shares, trades, ...
    captures: dict[str, tuple]  # file -> tier, week, rows_read, accepted, rejected, status


@pytest.fixture(scope="module")
def row_run(tmp_path_factory: pytest.TempPathFactory) -> RowRun:
    base = tmp_path_factory.mktemp("bad_rows")
    source, db = base / "files", base / "w.duckdb"
    for row_file in ROW_FILES:
        path = source / row_file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(row_file.data())
    (source / "README.txt").write_text("weekly FINRA files, see the wiki\n", encoding="utf-8")
    (source / ".cache").mkdir()  # hidden: never scanned, so this copy is no duplicate
    shutil.copy(source / ROW_FILES[0].name, source / ".cache" / "copy.psv")
    result = run_cli(
        "backfill",
        *("--start", "2025-12-12", "--end", "2025-12-19", "--tier", "all"),
        *("--source-dir", str(source), "--db", str(db)),
    )
    rejects = {
        (str(Path(file).relative_to(source)), line): (code, codes, raw)
        for file, line, code, codes, raw in query(
            db,
            "select source_file, line_number, reason_code, reason_codes, raw_line"
            " from main.finra_otc_transparency_rejects",
        )
    }
    accepted = {
        (str(Path(file).relative_to(source)), line): values
        for file, line, *values in query(
            db,
            "select c.source_file, v.line_number, v.symbol, v.mpid, v.total_shares,"
            " v.total_trades, v.issue_name, v.venue_name"
            " from staging.stg_finra__rows_validated as v"
            " join main.finra_otc_transparency_captures as c using (capture_id)"
            " where v.is_accepted",
        )
    }
    captures = {
        str(Path(file).relative_to(source)): rest
        for file, *rest in query(
            db,
            "select source_file, tier, cast(week_ending as varchar), rows_read, rows_accepted,"
            " rows_rejected, status from main.finra_otc_transparency_captures",
        )
    }
    return RowRun(db, source, result.exit_code, result.output, rejects, accepted, captures)


def test_row_corpus_publishes_every_file(row_run: RowRun) -> None:
    assert row_run.exit_code == 0, row_run.output
    assert sorted(row_run.captures) == sorted(f.name for f in ROW_FILES)
    for row_file in ROW_FILES:
        tier, week, *_, status = row_run.captures[row_file.name]
        assert (tier, week, status) == (row_file.tier, row_file.week, "published")


@pytest.mark.parametrize("row_file", ROW_FILES, ids=lambda f: f.name)
def test_row_balance(row_run: RowRun, row_file: RowFile) -> None:
    """Every non-blank line is read, and ends up accepted or rejected, never both."""
    _, _, read, accepted, rejected, _ = row_run.captures[row_file.name]
    data_lines = [n for n, _, _, expected in row_file.numbered() if expected is not BLANK]
    bad_lines = [n for n, _, _, expected in row_file.numbered() if not isinstance(expected, Ok)]
    assert read == len(data_lines) == accepted + rejected
    assert rejected == len(bad_lines) - (len(row_file.numbered()) - len(data_lines))
    rejected_lines = {line for file, line in row_run.rejects if file == row_file.name}
    accepted_lines = {line for file, line in row_run.accepted if file == row_file.name}
    assert not rejected_lines & accepted_lines
    assert sorted(rejected_lines | accepted_lines) == data_lines


@pytest.mark.parametrize(("row_file", "number", "line", "expected"), ROW_CASES)
def test_row(
    row_run: RowRun, row_file: RowFile, number: int, line: str, expected: Expected
) -> None:
    key = (row_file.name, number)
    if isinstance(expected, Ok):
        assert key not in row_run.rejects, row_run.rejects.get(key)
        symbol, mpid, shares, trades, issue_name, venue_name = row_run.accepted[key]
        got = Ok(symbol, mpid, shares, trades, issue_name, venue_name)
        for name in Ok.__dataclass_fields__:
            want = getattr(expected, name)
            if want is not None:
                assert getattr(got, name) == want, name
        return
    code, codes = (expected, expected) if isinstance(expected, str) else expected
    assert key in row_run.rejects, f"line {number} was accepted"
    assert row_run.rejects[key] == (code, codes, line)


def test_accepted_rows_reach_the_latest_views(row_run: RowRun) -> None:
    rows = set(
        query(
            row_run.db,
            "select tier, symbol, mpid from main.finra_otc_transparency_symbol_venue_share_latest",
        )
    )
    tier_of = {row_file.name: row_file.tier for row_file in ROW_FILES}
    expected = {
        (tier_of[name], symbol, mpid) for (name, _), (symbol, mpid, *_) in row_run.accepted.items()
    }
    assert rows == expected
    assert (T1, "aapl", "MPA") in rows and (T1, "AAPL", "MPB") in rows
    assert not any("$" in symbol for _, symbol, _ in rows)
    names = query(
        row_run.db,
        "select issue_name from main.finra_otc_transparency_symbol_summary_latest"
        " where symbol = 'GLE'",
    )
    assert names == [("Société Générale",)]


def test_unidentified_files_are_listed_as_skipped(row_run: RowRun) -> None:
    readme = row_run.source / "README.txt"
    assert f"{readme}: has no FINRA header" in row_run.output
    assert ".cache" not in row_run.output


def test_extra_columns_are_ignored_with_a_warning(row_run: RowRun) -> None:
    found = identify(row_run.source / "tier2_2025-12-12.psv.gz")
    assert (found.error, found.tier, str(found.week_ending)) == (None, T2, "2025-12-12")
    assert found.warnings == ["ignores extra columns: Comment"]


def test_extra_column_warning_is_shown(row_run: RowRun) -> None:
    """Needs the lead's report.py to print the warnings of the files it loaded."""
    path = row_run.source / "tier2_2025-12-12.psv.gz"
    assert f"{path}: ignores extra columns: Comment" in row_run.output


def test_huge_share_count_does_not_fail_the_run(tmp_path: Path) -> None:
    """An 18-digit share count is an INVALID_SHARES reject (above 10^13, so that no sum can
    overflow): the run and every partition of it publish."""
    source, db = tmp_path / "files", tmp_path / "w.duckdb"
    source.mkdir()
    big = simple("HUGE", shares="999999999999999999")
    (source / "t1.psv").write_text(f"{SIMPLE_HEADER}\n{big}\n{simple('SMALL')}\n", "utf-8")
    (source / "otc.psv").write_text(_finra_file("2026-01-12", ["OK1", "OK2"]), "utf-8")
    result = run_cli(
        "backfill",
        *("--start", "2025-12-12", "--end", "2025-12-12", "--tier", "T1", "--tier", "OTC"),
        *("--source-dir", str(source), "--db", str(db)),
    )
    assert result.exit_code == 0, result.output
    captures = query(
        db,
        "select tier, status, rows_read, rows_accepted + rows_rejected"
        " from main.finra_otc_transparency_captures order by tier",
    )
    assert captures == [(T1, "published", 2, 2), (OTC, "published", 2, 2)]
    assert query(db, "select reason_codes from main.finra_otc_transparency_rejects") == [
        ("INVALID_SHARES",)
    ]


# ---------------------------------------------------------------------------------------------
# File level: the file's partition does not publish, the message names the file and the problem,
# the other partitions of the run publish, exit 1.

FILE_RANGE = ("--start", "2025-11-28", "--end", "2025-12-19", "--tier", "all")
BIG_ROWS = 3000  # > 64 KiB of text: beyond what discovery sniffs from the head of a file


def _simple_file(week: str, tier: str, symbols: list[str], header: str = SIMPLE_HEADER) -> str:
    return "\n".join([header, *(simple(s, week=week, tier=tier) for s in symbols)]) + "\n"


def _finra_file(updated: str, symbols: list[str]) -> str:
    rows = [
        finra(s, shares=str(1000 + i), trades=str(1 + i % 7), updated=updated)
        for i, s in enumerate(symbols)
    ]
    return "\n".join([FINRA_HEADER, *rows]) + "\n"


def _big_latin1() -> tuple[bytes, int]:
    """A T2 2025-12-12 file with one Latin-1 byte far past the first 64 KiB; and its line."""
    rows = [simple(f"S{i:04d}", week="2025-12-12", tier="T2").encode() for i in range(BIG_ROWS)]
    bad_index = BIG_ROWS - 100
    rows[bad_index] = b"2025-12-12|T2|SOCI\xc9|MPA|1000|10"
    return b"\n".join([SIMPLE_HEADER.encode(), *rows]) + b"\n", bad_index + 2


def _truncated_big_gzip() -> bytes:
    """A gzipped OTC file (week 2025-12-12) cut short: its head still decompresses."""
    rows = [f"OTC{i:05d}" for i in range(BIG_ROWS * 2)]
    whole = gzip.compress(_finra_file("2026-01-12", rows).encode(), mtime=0)
    return whole[: len(whole) * 3 // 4]


def _file_corpus() -> tuple[dict[str, bytes], int]:
    big_latin1, latin1_line = _big_latin1()
    t2_text = _simple_file("2025-11-28", "T2", ["U1", "U2"])
    files: dict[str, bytes] = {
        # good files: these partitions publish
        "good_t1.psv": _simple_file("2025-11-28", "T1", ["GOOD1", "GOOD2"]).encode(),
        "good_otc.psv": _finra_file("2025-12-29", ["GOOD3", "GOOD4"]).encode(),  # week 11-28
        # a comma-delimited export (FINRA's API default) is a FINRA file like any other
        "comma.csv": t2_text.replace("|", ",").encode(),
        # identified, but cannot be loaded: "file error" for their partition
        "no_trades_column.psv": "\n".join(
            [SIMPLE_HEADER.rsplit("|", 1)[0], "2025-12-05|T1|NT1|MPA|1000"]
        ).encode(),
        "twice/a.psv": _simple_file("2025-12-05", "T2", ["TW1"]).encode(),
        "twice/b.psv": _simple_file("2025-12-05", "T2", ["TW1", "TW2"]).encode(),
        "latin1_small.psv": b"\n".join(
            [SIMPLE_HEADER.encode(), b"2025-12-12|T1|OK1|MPA|1|1", b"2025-12-12|T1|\xc9|MPA|1|1"]
        ),
        "latin1_big.psv": big_latin1,
        "truncated_big.psv.gz": _truncated_big_gzip(),
        "gzipped_without_gz_name.psv": gzip.compress(
            _simple_file("2025-12-19", "T1", ["GZ1"]).encode(), mtime=0
        ),
        "cr_only.psv": _simple_file("2025-12-19", "T2", ["CR1", "CR2"])
        .replace("\n", "\r")
        .encode(),
        "repeated_column.psv": (
            SIMPLE_HEADER + "|symbol\n" + simple("RC1", week="2025-12-19", tier="OTC") + "|RC1\n"
        ).encode(),
        "several_weeks.psv": "\n".join(
            [
                SIMPLE_HEADER,
                simple("SW1", week="2025-12-05", tier="OTC"),
                simple("SW2", week="2025-12-05", tier="OTC"),
                simple("SW3", week="2025-12-12", tier="OTC"),
            ]
        ).encode(),
        # not identified: listed under "files skipped"
        "skipped/empty.psv": b"",
        "skipped/blank_lines.psv": b"\n \n\r\n\n",
        "skipped/bom_only.psv": b"\xef\xbb\xbf",
        "skipped/header_only.psv": (SIMPLE_HEADER + "\n").encode(),
        "skipped/semicolon.csv": t2_text.replace("|", ";").encode(),
        "skipped/binary.bin": bytes(range(256)) * 8,
        "skipped/high_bytes.bin": bytes(range(128, 256)) * 8,
        "skipped/utf16le.psv": t2_text.encode("utf-16"),
        "skipped/utf16be.psv": b"\xfe\xff" + t2_text.encode("utf-16-be"),
        "skipped/utf16_no_bom.psv": t2_text.encode("utf-16-le"),
        "skipped/not_gzip.psv.gz": b"WeekEnding|Tier - not really gzip",
        "skipped/truncated_small.psv.gz": gzip.compress(t2_text.encode(), mtime=0)[:30],
        "skipped/no_week_column.psv": "\n".join(
            [FINRA_HEADER.rsplit("|", 2)[0], "OTC|NW1|Name|Venue|OTCN|1000"]
        ).encode(),
        "skipped/comma_rows.psv": "\n".join(
            [SIMPLE_HEADER, "2025-11-28,T2,CM1,MPA,1000,10"]
        ).encode(),
        "skipped/blank_first_line.psv": ("\n" + t2_text).encode(),
        "skipped/no_known_tier.psv": _simple_file("2025-11-28", "Tier 9", ["NK1"]).encode(),
        "skipped/no_friday.psv": _simple_file("2025-11-27", "T2", ["NF1"]).encode(),
        "skipped/compact_dates.psv": _finra_file("20251201", ["CD1"]).encode(),
        "skipped/notes.txt": b"Weekly files are due on Mondays\nask the data team\n",
    }
    return files, latin1_line


# (week, tier) -> (plan shown for the partition, what its line must say)
FILE_PARTITIONS: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("2025-11-28", T1): ("published", []),
    ("2025-11-28", OTC): ("published", []),
    ("2025-11-28", T2): ("published", []),
    ("2025-12-05", T1): (
        "file error",
        ["no_trades_column.psv", "lacks required column TotalTrades"],
    ),
    ("2025-12-05", T2): ("file error", ["twice/a.psv", "twice/b.psv", "two or more files"]),
    ("2025-12-12", T1): (
        "file error",
        ["latin1_small.psv", "is not UTF-8 text: byte 0xC9 on line 3"],
    ),
    ("2025-12-12", T2): ("file error", ["latin1_big.psv", "is not UTF-8 text: byte 0xC9 on line"]),
    ("2025-12-12", OTC): ("file error", ["truncated_big.psv.gz", "is not a valid gzip file"]),
    ("2025-12-19", T1): (
        "file error",
        ["gzipped_without_gz_name.psv", "is gzip-compressed but its name does not end in .gz"],
    ),
    ("2025-12-19", T2): ("file error", ["cr_only.psv", "has CR-only line endings"]),
    ("2025-12-19", OTC): ("file error", ["repeated_column.psv", "repeats column symbol"]),
}
# Depends on load.py (the lead): a file whose rows span several weeks fails its partition.
SEVERAL_WEEKS = ("2025-12-05", OTC)

SKIPPED: dict[str, str] = {
    "empty.psv": "is empty (no header line)",
    "blank_lines.psv": "is empty (no header line)",
    "bom_only.psv": "is empty (no header line)",
    "header_only.psv": "has no data rows (header only)",
    "semicolon.csv": "is separated by semicolons (';'): FINRA files are delimited by pipes,"
    " commas, tabs or control-A",
    "binary.bin": "contains NUL bytes: a binary file, or UTF-16 text without a byte-order mark",
    "high_bytes.bin": "is not UTF-8 text: byte 0x80 on line 1 (offset 0)",
    "utf16le.psv": "is UTF-16 LE text (byte-order mark FFFE); save it as UTF-8",
    "utf16be.psv": "is UTF-16 BE text (byte-order mark FEFF); save it as UTF-8",
    "utf16_no_bom.psv": "contains NUL bytes",
    "not_gzip.psv.gz": "is named .gz but is not gzip-compressed",
    "truncated_small.psv.gz": "is not a valid gzip file (truncated or corrupt",
    "no_week_column.psv": "lacks required columns totalWeeklyTradeCount, weekStartDate (or"
    " lastUpdateDate)",
    "comma_rows.psv": "has no data row with the header's 6 fields (separated by pipes) in its"
    " first 1 rows (its rows are separated by commas (','))",
    "blank_first_line.psv": "has a blank line 1: the header must be the first line",
    "no_known_tier.psv": "has no row with a known tier in its first 1 rows",
    "no_friday.psv": "has no row with a valid Friday WeekEnding in its first 1 rows",
    "compact_dates.psv": "has no row with a valid ISO publication date (lastUpdateDate) in its"
    " first 1 rows",
    "notes.txt": "has no FINRA header (line 1 is 'Weekly files are due on Mondays')",
}


@dataclass
class FileRun:
    db: Path
    source: Path
    exit_code: int
    output: str
    latin1_line: int


def partition_line(output: str, week: str, tier: str) -> str:
    """The backfill summary's line for one (week, tier)."""
    lines = [line for line in output.splitlines() if line.split()[:2] == [week, tier]]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture(scope="module")
def file_run(tmp_path_factory: pytest.TempPathFactory) -> FileRun:
    base = tmp_path_factory.mktemp("bad_files")
    source, db = base / "files", base / "w.duckdb"
    files, latin1_line = _file_corpus()
    for name, data in files.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    result = run_cli("backfill", *FILE_RANGE, "--source-dir", str(source), "--db", str(db))
    return FileRun(db, source, result.exit_code, result.output, latin1_line)


def test_file_errors_exit_1_and_the_good_partitions_publish(file_run: FileRun) -> None:
    assert file_run.exit_code == 1, file_run.output
    published = query(
        file_run.db,
        "select cast(week_ending as varchar), tier, rows_read, rows_accepted, rows_rejected"
        " from main.finra_otc_transparency_captures where status = 'published' order by all",
    )
    assert published == [
        ("2025-11-28", T1, 2, 2, 0),
        ("2025-11-28", T2, 2, 2, 0),
        ("2025-11-28", OTC, 2, 2, 0),
    ]
    latest = query(
        file_run.db,
        "select distinct cast(week_ending as varchar), tier"
        " from main.finra_otc_transparency_symbol_summary_latest order by all",
    )
    assert latest == [("2025-11-28", T1), ("2025-11-28", T2), ("2025-11-28", OTC)]


def test_nothing_but_the_good_files_is_loaded(file_run: FileRun) -> None:
    """A file-level error loads none of its rows; only the multi-week file may be kept, failed."""
    loaded = query(
        file_run.db,
        "select cast(c.week_ending as varchar), c.tier, count(r.line_number)"
        " from raw.captures as c left join raw.finra_rows as r using (capture_id)"
        " group by all order by all",
    )
    expected = [("2025-11-28", T1, 2), ("2025-11-28", T2, 2), ("2025-11-28", OTC, 2)]
    assert [row for row in loaded if row[:2] != SEVERAL_WEEKS] == expected


@pytest.mark.parametrize(("week", "tier"), list(FILE_PARTITIONS), ids="{0[0]}:{0[1]}".format)
def test_file_level_partition(file_run: FileRun, week: str, tier: str) -> None:
    expected, needles = FILE_PARTITIONS[(week, tier)]
    line = partition_line(file_run.output, week, tier)
    assert expected in line
    for needle in needles:
        assert needle in line, line
    if expected == "file error":
        assert str(file_run.source) in line  # the file is named by its full path
    if week == "2025-12-12" and tier == T2:
        assert f"on line {file_run.latin1_line} " in line


def test_rows_spanning_several_weeks_fail_their_partition(file_run: FileRun) -> None:
    """Needs the lead's load.py check (a file-level error, DOMAIN §1.1: one file, one week)."""
    line = partition_line(file_run.output, *SEVERAL_WEEKS)
    assert "rows span several weeks" in line and "several_weeks.psv" in line
    assert "published" not in line
    statuses = query(
        file_run.db,
        "select distinct status from main.finra_otc_transparency_captures"
        " where week_ending = ? and tier = ?",
        list(SEVERAL_WEEKS),
    )
    assert statuses in ([], [("failed",)])


@pytest.mark.parametrize("name", list(SKIPPED))
def test_unidentified_file_is_skipped_with_its_reason(file_run: FileRun, name: str) -> None:
    path = file_run.source / "skipped" / name
    assert "files skipped (not identified as a FINRA week):" in file_run.output
    lines = [line for line in file_run.output.splitlines() if line.strip().startswith(f"{path}:")]
    assert len(lines) == 1, file_run.output
    assert SKIPPED[name] in lines[0]


def test_unreadable_file_is_skipped_with_a_clear_reason(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading the file")
    source = tmp_path / "files"
    source.mkdir()
    path = source / "locked.psv"
    path.write_text(_simple_file("2025-12-12", "T1", ["LK1"]), encoding="utf-8")
    path.chmod(0)
    try:
        result = run_cli(
            "backfill",
            *("--start", "2025-12-12", "--end", "2025-12-12", "--tier", "T1"),
            *("--source-dir", str(source), "--db", str(tmp_path / "w.duckdb")),
        )
    finally:
        path.chmod(0o644)
    assert result.exit_code == 1
    assert f"{path}: cannot be read: permission denied" in result.output
    assert "missing file" in partition_line(result.output, "2025-12-12", T1)


@pytest.mark.parametrize("contents", ["empty", "not FINRA"])
def test_directory_without_finra_files(tmp_path: Path, contents: str) -> None:
    source = tmp_path / "files"
    source.mkdir()
    if contents == "not FINRA":
        (source / "notes.md").write_text("# weekly files\n", encoding="utf-8")
        (source / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run_cli(
        "backfill",
        *("--start", "2025-12-12", "--end", "2025-12-19", "--tier", "all"),
        *("--source-dir", str(source), "--db", str(tmp_path / "w.duckdb")),
    )
    assert result.exit_code == 1
    for week in ("2025-12-12", "2025-12-19"):
        for tier in (T1, T2, OTC):
            assert "missing file" in partition_line(result.output, week, tier)
    if contents == "not FINRA":
        assert f"{source / 'notes.md'}: has no FINRA header" in result.output
        assert f"{source / 'logo.png'}: contains NUL bytes" in result.output


# ---------------------------------------------------------------------------------------------
# Arguments: exit 2, a message naming the option, nothing written.

INJECTION = "OTC'; drop table raw.finra_rows; --"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-12-11", "--end", "2025-12-19"], "2025-12-05 and 2025-12-12"),
        (["--start", "2025-12-12", "--end", "2025-12-20"], "--end 2025-12-20 is a Saturday"),
        (["--start", "2025-12-19", "--end", "2025-12-12"], "is after --end"),
        (["--start", "2025-12-12", "--end", "12/19/2025"], "is not a date"),
        (["--start", "2025-12-12"], "give --start and --end"),
        (["--weeks-back", "0", "--end", "2025-12-19"], "--weeks-back"),
    ],
    ids=["start not Friday", "end not Friday", "start after end", "bad date", "no end", "0 weeks"],
)
def test_bad_range_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    db = tmp_path / "w.duckdb"
    result = run_cli(
        "backfill", *args, "--tier", "OTC", "--source-dir", str(tmp_path), "--db", str(db)
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not db.exists()


@pytest.mark.parametrize("tier", ["OTCQX", "Tier 9", "", INJECTION])
def test_unknown_tier_exits_2_and_writes_nothing(tmp_path: Path, tier: str) -> None:
    db = tmp_path / "w.duckdb"
    result = run_cli(
        "backfill",
        *("--start", "2025-12-12", "--end", "2025-12-12", "--tier", tier),
        *("--source-dir", str(tmp_path), "--db", str(db)),
    )
    assert result.exit_code == 2
    assert f"unknown tier {tier!r}" in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    ("source_args", "message"),
    [
        ([], "Missing option '--source-dir'"),
        (["--source-dir", "/nonexistent/finra"], "Directory '/nonexistent/finra' does not exist"),
    ],
    ids=["missing", "not a directory"],
)
def test_missing_source_dir_exits_2(tmp_path: Path, source_args: list[str], message: str) -> None:
    db = tmp_path / "w.duckdb"
    env_source = os.environ.pop("SPINE_SOURCE_DIR", None)
    try:
        result = run_cli(
            "backfill",
            *("--start", "2025-12-12", "--end", "2025-12-12", "--tier", "OTC"),
            *source_args,
            *("--db", str(db)),
        )
    finally:
        if env_source is not None:
            os.environ["SPINE_SOURCE_DIR"] = env_source
    assert result.exit_code == 2
    assert message in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    ("range_args", "extra"),
    [
        (["--start", "2015-12-18", "--end", "2025-12-26"], []),  # 521 weeks > default 520
        (["--start", "2025-12-12", "--end", "2025-12-26"], ["--max-weeks", "2"]),
    ],
    ids=["default 520", "--max-weeks 2"],
)
def test_long_range_needs_yes(tmp_path: Path, range_args: list[str], extra: list[str]) -> None:
    """Needs the lead's --max-weeks / --yes options (cli.py, options.py)."""
    db = tmp_path / "w.duckdb"
    result = run_cli(
        "backfill",
        *range_args,
        *extra,
        *("--tier", "OTC", "--source-dir", str(tmp_path), "--db", str(db)),
    )
    assert result.exit_code == 2, result.output
    assert "--yes" in result.output
    assert not db.exists()


def test_dbt_var_injection_fails_the_build_and_drops_nothing(
    row_run: RowRun, tmp_path: Path
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(row_run.db, db)
    before = query(db, "select count(*) from raw.finra_rows")
    outcome = dbt.invoke("build", Warehouse(db), {"tiers": [INJECTION]})
    assert not outcome.success
    assert "is not a canonical tier" in (outcome.exception or "")
    assert query(db, "select count(*) from raw.finra_rows") == before
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    assert ("finra_rows",) in tables
