"""Real FINRA data as analysts download it (issue: API exports, the right week, every venue,
FINRA's own totals): files built from the real samples in FINRA's API shapes, and small
hand-made files for what the samples lack (non-ATS firms, lower-case suffixes, De Minimis)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from spine_wrapper.discover import identify

from .conftest import FINRA_DIR, query, require, run_cli
from .finra_files import api_records, legacy_rows, write_api_json, write_api_text

FIRST_REAL = "finra_otc_weekly_otc_20251215.csv"  # OTC, published 2025-12-15: week 2025-11-14


def _backfill(source: Path, db: Path, week: str, *tiers: str, extra: tuple[str, ...] = ()):
    args = ["backfill", "--start", week, "--end", week, "--source-dir", str(source)]
    for tier in tiers or ("OTC",):
        args += ["--tier", tier]
    return run_cli(*args, "--db", str(db), "--no-progress", *extra)


def _summaries(db: Path, week: str) -> list[tuple]:
    return query(
        db,
        "select symbol, issue_name, total_volume, total_trades, venue_count"
        " from main.finra_otc_transparency_symbol_summary_latest"
        " where week_ending = ? order by symbol",
        [week],
    )


def _venue_shares(db: Path, week: str) -> list[tuple]:
    return query(
        db,
        "select mpid, venue_name, total_volume, symbol_count, market_share_pct, rank"
        " from main.finra_otc_transparency_venue_share_latest"
        " where week_ending = ? order by rank",
        [week],
    )


@pytest.mark.parametrize(
    ("tier", "published", "week"),
    [
        ("NMS Tier 1", "2019-12-02", date(2019, 11, 15)),
        ("OTC", "2019-12-02", date(2019, 11, 1)),
        ("OTC", "2019-12-09", date(2019, 11, 8)),
    ],
)
def test_regulatory_notice_19_29_examples_map_to_their_weeks(
    tmp_path: Path, tier: str, published: str, week: date
) -> None:
    """FINRA's own dated examples (Regulatory Notice 19-29): T1 two weeks late, OTC four."""
    path = tmp_path / "week.psv"
    path.write_text(
        "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
        "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n"
        f"{tier}|ABC|Abc Inc|SOME ATS|ABCD|100|2|{published}\n"
    )
    found = identify(path)
    assert (found.week_ending, found.week_source, found.error) == (week, "publication_delay", None)


def test_default_api_text_export_gives_the_legacy_figures(tmp_path: Path, real_db: Path) -> None:
    """The real file as FINRA's default API text export: comma-delimited, every value quoted,
    all API fields, weekStartDate 2025-11-10, plus FINRA's symbol and firm totals, two of
    them altered. Same summaries and venue shares as the legacy file, names whole and
    unquoted, 0 rejects, one reconciliation row per total, exactly the altered ones unmatched."""
    legacy = require(FINRA_DIR) / FIRST_REAL

    def alter(record: dict[str, str]) -> None:
        if (record["summaryTypeCode"], record["issueSymbolIdentifier"]) == ("ATS_W_SMBL", "AABB"):
            record["totalWeeklyShareQuantity"] = str(int(record["totalWeeklyShareQuantity"]) + 1)
        if (record["summaryTypeCode"], record["MPID"]) == ("ATS_W_FIRM", "OTCX"):
            record["totalWeeklyTradeCount"] = str(int(record["totalWeeklyTradeCount"]) - 1)

    records = api_records(legacy, "2025-11-10", "2025-12-15", alter=alter)
    source = tmp_path / "files"
    source.mkdir()
    path = write_api_text(records, source / "weeklySummary.csv")
    assert path.read_text().startswith('"issueSymbolIdentifier","issueName","firmCRDNumber"')
    db = tmp_path / "api.duckdb"
    result = _backfill(source, db, "2025-11-14")
    assert result.exit_code == 0, result.output

    assert _summaries(db, "2025-11-14") == _summaries(real_db, "2025-11-14")
    assert _venue_shares(db, "2025-11-14") == _venue_shares(real_db, "2025-11-14")
    names = {row[1] for row in _venue_shares(db, "2025-11-14")}
    assert "SWCL INX SECURITIES, LLC" in names or not any("," in n for n in names)
    assert not any('"' in (n or "") for n in names)
    [(week_source, accepted, totals, rejected)] = query(
        db,
        "select week_source, rows_accepted, rows_finra_totals, rows_rejected"
        " from main.finra_otc_transparency_captures",
    )
    symbols = {r["issueSymbolIdentifier"] for r in legacy_rows(legacy)}
    firms = {r["MPID"] for r in legacy_rows(legacy)}
    assert (week_source, accepted, totals, rejected) == (
        "week_start_date",
        5328,
        len(symbols) + len(firms),
        0,
    )
    unmatched = query(
        db,
        "select summary_type, symbol, mpid, finra_total_volume - detail_volume,"
        " finra_total_trades - detail_trades from main.finra_otc_transparency_reconciliation"
        " where not is_matched order by summary_type",
    )
    assert unmatched == [("ATS_W_FIRM", None, "OTCX", 0, -1), ("ATS_W_SMBL", "AABB", None, 1, 0)]
    assert query(db, "select distinct venue_type from main.finra_otc_transparency_venue_share") == [
        ("ATS",)
    ]
    quality = run_cli("quality", "--db", str(db))
    assert "warn_finra_totals_not_matched" in quality.output
    assert "AABB" in quality.output and "OTCX" in quality.output


def test_pipe_export_with_quotes_and_json_export_load_the_same_week(
    tmp_path: Path, real_db: Path
) -> None:
    """A pipe-delimited quoted export and the JSON export of the same week (no totals)."""
    legacy = require(FINRA_DIR) / FIRST_REAL
    records = api_records(legacy, "2025-11-10", "2025-12-15", totals=False)
    expected = (_summaries(real_db, "2025-11-14"), _venue_shares(real_db, "2025-11-14"))
    for name, write in (
        ("pipe.txt", lambda p: write_api_text(records, p, delimiter="|")),
        ("tab.txt", lambda p: write_api_text(records, p, delimiter="\t", quote=False)),
        ("weeklySummary.json", lambda p: write_api_json(records, p)),
    ):
        source = tmp_path / name.split(".")[0]
        source.mkdir()
        write(source / name)
        db = tmp_path / f"{name}.duckdb"
        result = _backfill(source, db, "2025-11-14")
        assert result.exit_code == 0, (name, result.output)
        assert (_summaries(db, "2025-11-14"), _venue_shares(db, "2025-11-14")) == expected, name
    [(layout, line, raw)] = query(
        tmp_path / "weeklySummary.json.duckdb",
        "select c.layout, r.line_number, r.raw_line from raw.finra_rows as r"
        " inner join raw.captures as c using (capture_id) where r.line_number = 2",
    )
    assert layout == "finra_json" and json.loads(raw)["MPID"] == records[0]["MPID"]


# NON_ATS_HEADER's fields (formats.RAW_FIELDS), in its order
NON_ATS_FIELDS = (
    "tier", "week_start", "summary_type", "symbol", "issue_name", "firm_crd", "mpid",
    "venue_name", "shares", "trades", "last_update_date",
)  # fmt: skip
NON_ATS_HEADER = (
    "tierIdentifier|weekStartDate|summaryTypeCode|issueSymbolIdentifier|issueName|"
    "firmCRDNumber|MPID|marketParticipantName|totalWeeklyShareQuantity|totalWeeklyTradeCount|"
    "lastUpdateDate"
)


def _line(
    symbol: str,
    crd: str,
    mpid: str,
    venue: str,
    shares: str,
    trades: str,
    tier: str = "T2",
    start: str = "2025-11-10",
    code: str = "ATS_W_SMBL_FIRM",
    updated: str = "2025-12-01",
) -> str:
    """One data line under NON_ATS_HEADER (the issue name is the symbol's)."""
    fields = [tier, start, code, symbol, f"{symbol} Inc", crd, mpid, venue, shares, trades]
    return "|".join([*fields, updated])


def _non_ats(symbol: str, crd: str, mpid: str, venue: str, shares: str, trades: str) -> str:
    """A non-ATS NMS Tier 1 line of the week of 2019-10-07 (before De Minimis ended)."""
    return _line(symbol, crd, mpid, venue, shares, trades, "T1", "2019-10-07", "OTC_W_SMBL_FIRM")


def _non_ats_file(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([NON_ATS_HEADER, *rows]) + "\n")
    return path


def test_non_ats_export_keeps_suffix_case_firms_without_mpid_and_de_minimis(
    tmp_path: Path,
) -> None:
    """Non-ATS Tier 1: TPC, TpC and ABRpD are three securities; a firm without an MPID is
    CRD<n>; the De Minimis bucket is a venue; every venue is NON_ATS."""
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "otc_t1.psv",
        [
            _non_ats("TPC", "7059", "CDEL", "Citadel", "1000", "10"),
            _non_ats("TpC", "7059", "CDEL", "Citadel", "300", "3"),
            _non_ats("TpC", "8209", "VIRT", "Virtu", "200", "2"),
            _non_ats("ABRpD", "8209", "VIRT", "Virtu", "50", "1"),
            _non_ats("ABRpD", "29095", "", "Some Firm", "40", "1"),
            _non_ats("TPC", "", "", " De Minimis Firms ", "25", "5"),
        ],
    )
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2019-10-11", "T1")
    assert result.exit_code == 0, result.output
    rows = query(
        db,
        "select symbol, venue_type, mpid, total_shares"
        " from main.finra_otc_transparency_symbol_venue_share_latest order by symbol, mpid",
    )
    assert rows == [
        ("ABRpD", "NON_ATS", "CRD29095", 40),
        ("ABRpD", "NON_ATS", "VIRT", 50),
        ("TPC", "NON_ATS", "CDEL", 1000),
        ("TPC", "NON_ATS", "DE_MINIMIS", 25),
        ("TpC", "NON_ATS", "CDEL", 300),
        ("TpC", "NON_ATS", "VIRT", 200),
    ]
    assert query(db, "select count(*) from main.finra_otc_transparency_rejects") == [(0,)]
    shares = query(
        db,
        "select mpid, venue_type, venue_type_share from main.finra_otc_transparency_venue_share"
        " where mpid = 'DE_MINIMIS'",
    )
    assert shares == [("DE_MINIMIS", "NON_ATS", pytest.approx(25 / 1615))]


def test_same_mpid_in_ats_and_non_ats_data_is_two_venues(tmp_path: Path) -> None:
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "both.psv",
        [
            _line("XYZ", "1", "UBSA", "UBS ATS", "100", "1"),
            _line("XYZ", "1", "UBSA", "UBS Securities", "300", "3", code="OTC_W_SMBL_FIRM"),
        ],
    )
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2025-11-14", "T2")
    assert result.exit_code == 0, result.output
    assert query(
        db,
        "select venue_type, mpid, market_share_pct, venue_type_share, rank"
        " from main.finra_otc_transparency_venue_share_latest order by rank",
    ) == [("NON_ATS", "UBSA", 0.75, 1.0, 1), ("ATS", "UBSA", 0.25, 1.0, 2)]


def test_all_invalid_file_fails_its_capture_only_and_is_a_gap(tmp_path: Path) -> None:
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "t1_bad.psv",
        [_line(f"S{i}", "1", "ABCD", "Abcd", "0", "0", tier="T1") for i in range(3)],
    )
    _non_ats_file(
        source / "t2_good.psv",
        [_line("XYZ", "1", "UBSA", "UBS ATS", "100", "1")],
    )
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2025-11-14", "T1", "T2")
    assert result.exit_code == 1, result.output
    statuses = query(
        db,
        "select tier, status, rows_accepted, rows_rejected, status_detail"
        " from main.finra_otc_transparency_captures order by tier",
    )
    assert [row[:4] for row in statuses] == [
        ("NMS_TIER_1", "failed", 0, 3),
        ("NMS_TIER_2", "published", 1, 0),
    ]
    assert "no accepted row" in statuses[0][4]
    status = run_cli(
        "status", "--start", "2025-11-14", "--end", "2025-11-14", "--tier", "T1", "--db", str(db)
    )
    assert status.exit_code == 1 and "2025-11-14 NMS_TIER_1: failed" in status.output


def test_eighteen_digit_quantities_are_rejects_and_the_week_publishes(tmp_path: Path) -> None:
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "big.psv",
        [
            _line("XYZ", "1", "UBSA", "UBS ATS", "999999999999999999", "1"),
            _line("XYZ", "2", "SGMT", "Sigma X", "10000000000001", "1"),
            _line("XYZ", "3", "JPMX", "JPM-X", "10000000000000", "1"),
        ],
    )
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2025-11-14", "T2")
    assert result.exit_code == 0, result.output
    assert query(
        db, "select line_number, reason_codes from main.finra_otc_transparency_rejects order by 1"
    ) == [(2, "INVALID_SHARES"), (3, "INVALID_SHARES")]
    assert query(
        db, "select total_volume from main.finra_otc_transparency_symbol_summary_latest"
    ) == [(10000000000000,)]


def test_revised_rows_stay_in_their_week(tmp_path: Path) -> None:
    """A re-pulled legacy file whose revised rows carry a later lastUpdateDate: one week."""
    legacy = require(FINRA_DIR) / FIRST_REAL
    lines = legacy.read_text().splitlines()
    lines[10] = lines[10].replace("2025-12-15", "2026-01-20")
    lines[20] = lines[20].replace("2025-12-15", "2026-02-02")
    source = tmp_path / "files"
    source.mkdir()
    (source / "revised.csv").write_text("\n".join(lines) + "\n")
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2025-11-14")
    assert result.exit_code == 0, result.output
    assert query(
        db, "select rows_accepted, rows_rejected from main.finra_otc_transparency_captures"
    ) == [(5328, 0)]
    revised = query(
        db,
        "select count(*) from staging.stg_finra__rows_validated"
        " where source_last_update_date > '2025-12-15'",
    )
    assert revised == [(2,)]


def test_week_rule_previous_friday_keeps_the_reference_mapping(tmp_path: Path) -> None:
    source = require(FINRA_DIR)
    db = tmp_path / "w.duckdb"
    result = run_cli(
        "backfill", "--start", "2025-12-12", "--end", "2025-12-26", "--tier", "OTC",
        "--source-dir", str(source), "--db", str(db), "--week-rule", "previous-friday",
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert query(
        db,
        "select cast(week_ending as varchar), week_source, rows_accepted"
        " from main.finra_otc_transparency_captures order by 1",
    ) == [
        ("2025-12-12", "previous_friday", 5328),
        ("2025-12-19", "previous_friday", 5192),
        ("2025-12-26", "previous_friday", 4654),
    ]


def test_week_start_dates_of_two_weeks_are_a_file_error_naming_two_lines(tmp_path: Path) -> None:
    source = tmp_path / "files"
    source.mkdir()
    rows = [_line(f"S{i}", "1", "ABCD", "Abcd", "10", "1") for i in range(60)]
    rows.append(_line("LATE", "1", "ABCD", "Abcd", "10", "1", start="2025-11-17"))
    _non_ats_file(source / "two_weeks.psv", rows)
    db = tmp_path / "w.duckdb"
    result = _backfill(source, db, "2025-11-14", "T2")
    assert result.exit_code == 1
    assert "line 2 is 2025-11-14, line 62 is 2025-11-21" in result.output
    [(status, detail)] = query(
        db, "select arg_max(status, event_at), arg_max(detail, event_at) from raw.capture_events"
    )
    assert status == "failed"
    assert "line 2 is 2025-11-14, line 62 is 2025-11-21" in detail


def test_warehouse_files_inside_the_source_dir_are_not_listed(tmp_path: Path) -> None:
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "t2.psv",
        [_line("XYZ", "1", "UBSA", "UBS ATS", "100", "1")],
    )
    db = source / "w.duckdb"
    assert _backfill(source, db, "2025-11-14", "T2").exit_code == 0
    result = _backfill(source, db, "2025-11-14", "T2", extra=("--force",))
    assert result.exit_code == 0, result.output
    assert "w.duckdb" not in result.output


def test_json_that_is_not_a_finra_export_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"data": [1, 2]}))
    found = identify(path)
    assert found.error and "not a FINRA export" in found.error and "weekStartDate" in found.error


def test_a_file_whose_week_is_read_but_not_its_tier_is_a_file_error(tmp_path: Path) -> None:
    """FINRA writes `Not Applicable` as a tier: never guessed, but its week is known, so the
    plan says `file error` naming the file rather than `missing file`."""
    source = tmp_path / "files"
    source.mkdir()
    _non_ats_file(
        source / "na.psv", [_line("XYZ", "1", "UBSA", "UBS ATS", "100", "1", tier="Not Applicable")]
    )
    result = run_cli(
        "plan", "--start", "2025-11-14", "--end", "2025-11-21", "--tier", "T2",
        "--source-dir", str(source), "--db", str(tmp_path / "w.duckdb"),
    )  # fmt: skip
    lines = {line.split()[0]: line for line in result.output.splitlines() if line[:4] == "2025"}
    assert (
        "file error" in lines["2025-11-14"]
        and "na.psv has no row with a known tier" in lines["2025-11-14"]
    )
    assert "missing file" in lines["2025-11-21"]


@pytest.mark.parametrize(
    ("line_end", "compressed", "new_line"),
    [
        ("\r\n", False, "\\r\\n"),
        ("\n", False, "\\n"),
        ("\n", True, "\\n"),
        ("\r\n", True, "\\r\\n"),
        ("\r", False, None),  # a lone CR inside a line: Python's path
        ("mixed", False, None),  # LF and CRLF in one file: Python's path
    ],
)
def test_duckdb_split_and_python_csv_land_the_same_rows(
    tmp_path: Path, line_end: str, compressed: bool, new_line: str | None
) -> None:
    """Delimited files without quotes whose lines end alike are read by DuckDB (the fast
    path), the others parsed with Python's csv: on a quote-free file (BOM, blank lines, short
    and long rows, a file whose last line has no newline), with LF or CRLF line ends, gzipped
    or not, both give the same raw rows; a stray CR or mixed line ends take Python's path."""
    from spine_wrapper import formats
    from spine_wrapper.load import RAW_COLUMNS, duckdb_new_line, file_records, read_bytes

    source = tmp_path / "files"
    source.mkdir()
    lines = [
        NON_ATS_HEADER,
        _line("AAA", "1", "ABCD", "Abcd", "10", "1"),
        "",
        "  \t ",
        _line("BBB", "2", "EFGH", "Efgh", "20", "2") + "|extra",
        "T2|2025-11-10|ATS_W_SMBL_FIRM|CCC",
        _line("D D", "3", "IJKL", " Ijkl ", " 30 ", "3"),
        _line("EEE", "", "", "", "", ""),
    ]
    if line_end == "\r":
        lines[4] = lines[4].replace("Efgh", "Ef\rgh")
    text = "\n".join(lines) if line_end == "\r" else line_end.join(lines)
    if line_end == "mixed":
        text = "\r\n".join(lines[:4]) + "\n" + "\n".join(lines[4:])
    data = b"\xef\xbb\xbf" + text.encode()
    path = source / ("t2.psv.gz" if compressed else "t2.psv")
    path.write_bytes(gzip.compress(data) if compressed else data)
    db = tmp_path / "w.duckdb"
    loaded = run_cli(
        "load", "--start", "2025-11-14", "--end", "2025-11-14", "--tier", "T2",
        "--source-dir", str(source), "--db", str(db),
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    columns = [RAW_COLUMNS[name] for name in formats.RAW_FIELDS]
    landed = query(
        db,
        f"select line_number, raw_line, field_count, {', '.join(columns)}"
        " from raw.finra_rows order by line_number",
    )
    # The fast path keeps no text of a line of exactly the header's fields: those fields
    # joined by the delimiter in the capture's field_order are the line (finra_raw_line)
    [(delimiter, field_order)] = query(db, "select delimiter, field_order from raw.captures")
    assert (delimiter, field_order) == ("|", ",".join(RAW_COLUMNS[f] for f in NON_ATS_FIELDS))
    kept = [row[1] is not None for row in landed]
    assert kept == ([False, True, True, False, False] if new_line else [True] * 5)
    rebuilt = [dict(zip(columns, values, strict=True)) for _, _, _, *values in landed]
    landed = [
        (line, raw or delimiter.join(fields[c] for c in field_order.split(",")), count, *values)
        for (line, raw, count, *values), fields in zip(landed, rebuilt, strict=True)
    ]
    found = identify(path)
    file_bytes = read_bytes(path)[0]
    present = [name in found.header.columns for name in formats.RAW_FIELDS]
    parsed = [
        (
            r.line_number,
            r.raw_line,
            r.field_count,
            *(v if has else None for v, has in zip(r.values, present, strict=True)),
        )
        for r in file_records(found, file_bytes)
    ]
    assert duckdb_new_line(found, file_bytes) == new_line
    # DuckDB leaves the fields a short line lacks null where Python gives ''; the rest is equal
    assert [tuple("" if v is None else v for v in row) for row in landed] == [
        tuple("" if v is None else v for v in row) for row in parsed
    ]
    assert [row[0] for row in landed] == [2, 5, 6, 7, 8]
