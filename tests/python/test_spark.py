"""The same project on Apache Spark (local session), with only the target changed.

One Spark warehouse is built for the module, in this process (a JVM holds one metastore, and
starting it once keeps the module to a few builds): the three real OTC weeks plus a small file
of bad rows, backfilled on both targets, exported with `spine-dbt export`, and compared row by
row. Then a FINRA revision and a rollback on Spark, and a busy warehouse.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from spine_wrapper import dbt, engines
from spine_wrapper.relations import (
    CAPTURES_MART,
    LATEST_SUFFIX,
    PUBLIC_TABLES,
    in_marts,
)
from spine_wrapper.warehouse import Warehouse, locked

from .conftest import FINRA_DIR, require, run_cli

REASON = engines.spark_unavailable_reason()
pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(REASON is not None, reason=f"Spark unavailable: {REASON}"),
]

RANGE = ["--start", "2025-11-14", "--end", "2025-11-28"]
TIERS = ["--tier", "OTC", "--tier", "NMS_TIER_1"]
# Rows of the exported tables: the real OTC weeks, and the bad NMS Tier 1 week.
OTC = "tier = 'OTC'"
BAD_WEEK = "tier = 'NMS_TIER_1' and week_ending = date '2025-11-28'"
SUMMARY = "finra_otc_transparency_symbol_summary"
# Columns that legitimately differ between two builds of the same files.
VOLATILE = {"capture_id", "captured_at", "run_id", "input_capture_ids", "status_at"}

# One simplified-layout week of NMS Tier 1 with one line per reject code (and CRLF, a blank
# line, quotes): every engine must reject the same lines for the same reasons.
BAD_FILE = "\r\n".join(
    [
        "WeekEnding|Tier|Symbol|MPID|TotalShares|TotalTrades",
        "2025-11-28|NMS Tier 1|AAPL|NITE|1000|10",
        '2025-11-28|NMS Tier 1|"MSFT"|VIRT|2500|7',
        "2025-11-28|NMS Tier 1|AA$PL|NITE|1000|10",
        "2025-11-28|NMS Tier 1|IBM|NITE||10",
        "2025-11-28|NMS Tier 1|IBM|VIRT|1e10|10",
        "2025-11-28|NMS Tier 1|IBM|JANE|12|1,000",
        "2025-11-28|NMS Tier 1|GE|NITE|0|0",
        "2025-11-28|NMS Tier 1|GE|VIRT|0|4",
        "2025-11-28|T2|GE|JANE|5|1",
        "2025-11-28|Tier 9|GE|CDRG|5|1",
        "2025-11-28|NMS Tier 1|AAPL|NITE|7|1",
        "",
        "2025-11-27|NMS Tier 1|HD|NITE|7|1",
        "2025-02-30|NMS Tier 1|HD|VIRT|7|1",
        "2025-11-28|NMS Tier 1|HD|JANE|-5|1",
        "2025-11-28|NMS Tier 1||NITE|5|1",
        "2025-11-28|NMS Tier 1|HD|",
        "2025-11-28|NMS Tier 1|ABCDEFGHIJKLMNOPQRSTUVWXYZ|NITE|5|1",
        "2025-11-28|NMS Tier 1|KO| |5|1",
    ]
)

# One NMS Tier 1 week as FINRA's default API text export (comma-delimited, every value quoted):
# ATS and non-ATS rows of the same MPID, suffix letters in lower case, a firm without an MPID,
# the De Minimis bucket, a name with a comma and FINRA's symbol totals (one that the venue rows
# do not add up to): every engine must read and reconcile it the same way.
API_HEADER = (
    "tierIdentifier,weekStartDate,summaryTypeCode,issueSymbolIdentifier,issueName,"
    "firmCRDNumber,MPID,marketParticipantName,totalWeeklyShareQuantity,totalWeeklyTradeCount,"
    "lastUpdateDate"
)
API_ROWS = [
    ("ATS_W_SMBL_FIRM", "TPC", "Tutor Perini", "1", "UBSA", "UBS ATS", "100", "2"),
    ("OTC_W_SMBL_FIRM", "TPC", "Tutor Perini", "1", "UBSA", "UBS Securities, LLC", "300", "3"),
    ("OTC_W_SMBL_FIRM", "TpC", "Tutor Perini Pfd C", "29095", "", "Some Firm", "40", "1"),
    ("OTC_W_SMBL_FIRM", "TpC", "Tutor Perini Pfd C", "", "", "De Minimis Firms", "7", "1"),
    ("ATS_W_SMBL", "TPC", "Tutor Perini", "", "", "", "100", "2"),
    ("OTC_W_SMBL", "TPC", "Tutor Perini", "", "", "", "300", "3"),
    ("OTC_W_SMBL", "TpC", "Tutor Perini Pfd C", "", "", "", "48", "2"),
]
API_FILE = "\n".join(
    [
        API_HEADER,
        *(",".join(f'"{v}"' for v in ("T1", "2025-11-17", *row, "2025-12-01")) for row in API_ROWS),
    ]
)


def revise_first_row(path: Path) -> None:
    """FINRA revises a legacy pipe export: its first data row's shares grow by 1000."""
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[1].split("|")
    fields[5] = str(int(fields[5]) + 1000)
    lines[1] = "|".join(fields)
    path.write_text("".join(lines))


def _cli(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _backfill_all(*args: str) -> str:
    """A backfill of both tiers: NMS Tier 1 has two weeks of three, so the run exits 1 for
    the missing file, and every week that has a file must be published."""
    result = run_cli("backfill", *RANGE, *TIERS, *args)
    lines = [line for line in result.output.splitlines() if line.startswith("2025-")]
    assert len(lines) == 6, result.output
    assert all(("published" in line) != ("missing file" in line) for line in lines), result.output
    assert sum("missing file" in line for line in lines) == 1, result.output
    return result.output


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("spark-source")
    for path in require(FINRA_DIR).glob("*.csv"):
        shutil.copy(path, source / path.name)
    (source / "nms1_bad_rows.psv").write_bytes(BAD_FILE.encode())
    (source / "weeklySummary.csv").write_bytes(API_FILE.encode())
    return source


@pytest.fixture(scope="module")
def spark_dir(tmp_path_factory: pytest.TempPathFactory, source_dir: Path) -> Path:
    """The real OTC weeks and the bad NMS Tier 1 week, backfilled on Spark."""
    spark_dir = tmp_path_factory.mktemp("spark") / "warehouse"
    _backfill_all("--source-dir", str(source_dir), *_spark(spark_dir, "--no-progress"))
    return spark_dir


@pytest.fixture(scope="module")
def duckdb_file(tmp_path_factory: pytest.TempPathFactory, source_dir: Path) -> Path:
    db = tmp_path_factory.mktemp("duckdb-parity") / "parity.duckdb"
    _backfill_all("--source-dir", str(source_dir), "--db", str(db), "--no-progress")
    return db


@pytest.fixture(scope="module")
def exported(spark_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every public table of the Spark warehouse, exported once (each table is a Spark query)
    for the tests that read it before the revision."""
    return _export(tmp_path_factory.mktemp("exported") / "spark", *_spark(spark_dir))


def _export(out: Path, *target: str) -> Path:
    _cli("export", "--out", str(out), "--format", "parquet", *target)
    return out


def _spark(spark_dir: Path, *args: str) -> list[str]:
    return [*args, "--target", "spark", "--spark-dir", str(spark_dir)]


def _read(path: Path, where: str = "true") -> tuple[list[str], list[str], list[tuple]]:
    with duckdb.connect() as con:
        relation = con.sql(f"select * from read_parquet('{path}') where {where}")
        names = [c for c in relation.columns if c not in VOLATILE]
        types = [str(t) for c, t in zip(relation.columns, relation.types, strict=True)]
        kept = [t for c, t in zip(relation.columns, types, strict=True) if c not in VOLATILE]
        rows = con.sql(
            f"select {', '.join(names)} from read_parquet('{path}') where {where}"
        ).fetchall()
    return names, kept, rows


def _differing_rows(left: Path, right: Path) -> list[tuple]:
    """Rows of `left` with no equal row in `right` (and extra rows), ids and timestamps
    excluded, doubles equal to 1e-12 relative."""
    names, types, rows_l = _read(left)
    names_r, _, rows_r = _read(right)
    assert sorted(names) == sorted(names_r), (left.name, names, names_r)
    order = [names_r.index(n) for n in names]
    rows_r = [tuple(row[i] for i in order) for row in rows_r]
    doubles = {i for i, t in enumerate(types) if t in ("DOUBLE", "FLOAT")}

    def key(row: tuple) -> tuple:
        return tuple("" if v is None else str(v) for i, v in enumerate(row) if i not in doubles)

    def same(a: object, b: object, i: int) -> bool:
        if a is None or b is None:
            return a is None and b is None
        if i in doubles:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)  # type: ignore[arg-type]
        return a == b

    rows_l.sort(key=key)
    rows_r.sort(key=key)
    differing = [
        (a, b)
        for a, b in zip(rows_l, rows_r, strict=False)
        if not all(same(x, y, i) for i, (x, y) in enumerate(zip(a, b, strict=True)))
    ]
    extra = abs(len(rows_l) - len(rows_r))
    return differing + [("extra rows", extra)] * bool(extra)


def test_parity_every_public_table_equals_duckdb(
    exported: Path, duckdb_file: Path, tmp_path: Path
) -> None:
    on_duckdb = _export(tmp_path / "duckdb", "--db", str(duckdb_file))
    on_spark = exported
    assert sorted(p.name for p in on_spark.iterdir()) == sorted(
        f"{table}.parquet" for table in PUBLIC_TABLES
    )
    for table in PUBLIC_TABLES:
        path = f"{table}.parquet"
        assert _differing_rows(on_duckdb / path, on_spark / path) == [], table
        assert _read(on_spark / path)[2], f"{table} is empty"


def test_acceptance_figures_hold_on_spark(exported: Path) -> None:
    out = exported
    columns = ("week_ending", "tier", "status", "rows_read", "rows_accepted", "rows_rejected")
    assert sorted(
        tuple(str(r[c]) if c == "week_ending" else r[c] for c in columns)
        for r in _as_dicts(out, "captures", OTC)
    ) == [
        ("2025-11-14", "OTC", "published", 5328, 5328, 0),
        ("2025-11-21", "OTC", "published", 5192, 5192, 0),
        ("2025-11-28", "OTC", "published", 4655, 4654, 1),
    ]
    rejects = _as_dicts(out, "rejects", OTC)
    assert [
        (Path(r["source_file"]).name, r["line_number"], r["reason_codes"]) for r in rejects
    ] == [("finra_otc_weekly_otc_20251229.csv", 4656, "EMPTY_SYMBOL")]
    # a quote-free file's line is stored as fields only, and rebuilt by Spark SQL when read
    real_lines = (FINRA_DIR / "finra_otc_weekly_otc_20251229.csv").read_text().splitlines()
    assert [r["raw_line"] for r in rejects] == [real_lines[4655]]
    venues = _as_dicts(out, "venue_share_latest", OTC)
    assert len(_as_dicts(out, "symbol_venue_share_latest", OTC)) == 15174
    otcn = sorted(
        (r["week_ending"], r["market_share_pct"], r["rank"]) for r in venues if r["mpid"] == "OTCN"
    )
    assert [r[2] for r in otcn] == [1, 1, 1]
    assert [r[1] for r in otcn] == pytest.approx([0.821884, 0.809065, 0.798351], abs=1e-6)
    aabb = [
        r
        for r in _as_dicts(out, "symbol_rolling_6w_latest", OTC)
        if r["symbol"] == "AABB" and str(r["week_ending"]) == "2025-11-28"
    ]
    assert len(aabb) == 1
    assert aabb[0]["avg_volume"] == pytest.approx(3871106.3333333, rel=1e-9)
    assert aabb[0]["trend_direction"] == "DOWN"
    assert aabb[0]["trend_pct"] == pytest.approx(-56.0515, abs=1e-4)
    assert (aabb[0]["weeks_in_window"], aabb[0]["is_complete"]) == (3, False)
    days = {
        str(r["week_ending"]): r["trading_days"]
        for r in _as_dicts(out, "research_snapshot_latest", OTC)
    }
    assert days == {"2025-11-14": 5, "2025-11-21": 5, "2025-11-28": 4}


def _as_dicts(out: Path, short: str, where: str = "true") -> list[dict]:
    """The rows of one exported public table (`finra_otc_transparency_<short>`) that match
    `where`, as dicts."""
    path = out / f"finra_otc_transparency_{short}.parquet"
    with duckdb.connect() as con:
        relation = con.sql(f"select * from read_parquet('{path}') where {where}")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_bad_rows_are_rejected_with_the_same_codes(exported: Path) -> None:
    out = exported
    rejects = {r["line_number"]: r["reason_code"] for r in _as_dicts(out, "rejects", BAD_WEEK)}
    assert rejects == {
        4: "INVALID_SYMBOL",
        5: "MISSING_SHARES",
        6: "INVALID_SHARES",
        7: "INVALID_TRADES",
        8: "ZERO_VOLUME",
        10: "TIER_MISMATCH",
        11: "INVALID_TIER",
        12: "DUPLICATE_KEY",
        14: "INVALID_WEEK_ENDING",
        15: "INVALID_DATE",
        16: "NEGATIVE_SHARES",
        17: "EMPTY_SYMBOL",
        18: "MALFORMED_ROW",
        19: "SYMBOL_TOO_LONG",
        20: "EMPTY_MPID",
    }
    (capture,) = _as_dicts(out, "captures", BAD_WEEK)
    assert (capture["rows_read"], capture["rows_accepted"], capture["rows_rejected"]) == (
        18,
        3,
        15,
    )
    assert capture["status"] == "published"


def test_compiled_sql_has_no_engine_only_functions(spark_dir: Path, duckdb_file: Path) -> None:
    """`models/` calls no DuckDB-only function outside dispatched macros: the SQL every model
    ran with on each target (compiled_code in the run results of the module's builds) uses
    only what its own target has."""
    duckdb_only = (
        r"\b(regexp_full_match|string_agg|list_contains|arg_max|string_split|hugeint)\b|::"
    )
    spark_only = r"\b(collect_set|array_join|array_sort|rlike|date_add)\b"
    raw = "\n".join(p.read_text() for p in (dbt.PROJECT_DIR / "models").rglob("*.sql"))
    assert not re.search(duckdb_only, raw)
    for warehouse, forbidden in (
        (Warehouse(Path("unused"), "spark", spark_dir), duckdb_only),
        (Warehouse(duckdb_file), spark_only),
    ):
        results = json.loads((dbt.target_path(warehouse) / "run_results.json").read_text())
        compiled = {
            r["unique_id"]: r["compiled_code"] or ""
            for r in results["results"]
            if r["unique_id"].startswith("model.")
        }
        assert len([sql for sql in compiled.values() if sql]) >= 20
        offending = {name: re.findall(forbidden, sql) for name, sql in compiled.items()}
        assert {name: found for name, found in offending.items() if found} == {}, warehouse


def _report(out: Path, *target: str) -> tuple[list[str], str]:
    """`spine-dbt report` of the last real week: its summary lines, and the page with the
    run stamps of the capture ids taken out (each engine's build has its own)."""
    printed = _cli("report", "--week", "2025-11-28", "--tier", "all", "--out", str(out), *target)
    page = re.sub(r"\d{8}T\d{6}\d*Z", "<stamp>", out.read_text(encoding="utf-8"))
    return [line for line in printed.splitlines() if line.startswith("  ")], page


def test_the_report_reads_the_spark_warehouse(
    spark_dir: Path, duckdb_file: Path, tmp_path: Path
) -> None:
    """The weekly report from Spark (its report views, created by this first report and read
    through the session): the same page as from DuckDB."""
    on_spark = _report(tmp_path / "spark.html", *_spark(spark_dir))
    on_duckdb = _report(tmp_path / "duckdb.html", "--db", str(duckdb_file))
    assert on_spark[0] == on_duckdb[0]
    assert [line.split(":")[0].strip() for line in on_spark[0]] == [
        "NMS_TIER_1",
        "OTC",
        "NMS_TIER_2",
    ]
    assert "top venue OTCN" in on_spark[0][1]
    assert "no published capture" in on_spark[0][2]
    assert on_spark[1] == on_duckdb[1]


def test_the_session_runs_the_parallel_collector(spark_dir: Path) -> None:
    """profiles.yml's driver options reach the JVM the module's backfill started."""
    jvm = engines.spark_session(spark_dir).sparkContext._jvm
    beans = jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    assert sorted(bean.getName() for bean in beans) == ["PS MarkSweep", "PS Scavenge"]


def test_a_second_writer_gets_a_clear_busy_error_on_spark(
    spark_dir: Path, source_dir: Path
) -> None:
    with locked(Warehouse(Path("unused"), "spark", spark_dir)):
        result = run_cli(
            "backfill", *RANGE, *TIERS, "--source-dir", str(source_dir), *_spark(spark_dir)
        )
    assert result.exit_code == 2
    assert "database busy (held by PID" in result.output
    assert str(spark_dir) in result.output


def test_a_finra_revision_becomes_a_new_capture_on_spark(
    spark_dir: Path, source_dir: Path, tmp_path: Path
) -> None:
    """Revising 2025-11-21 makes it a new capture and rebuilds 2025-11-28, whose window reads
    it; 2025-11-14 is up to date."""
    revise_first_row(source_dir / "finra_otc_weekly_otc_20251222.csv")
    output = _cli(
        "backfill",
        *RANGE,
        "--tier",
        "OTC",
        "--source-dir",
        str(source_dir),
        *_spark(spark_dir),
        "--no-progress",
    )
    plans = {
        line.split()[0]: line.split()[2] for line in output.splitlines() if line.startswith("2025-")
    }
    assert plans == {"2025-11-14": "up", "2025-11-21": "revised", "2025-11-28": "stale"}
    out = _export(tmp_path / "after", *_spark(spark_dir), "--tier", "OTC")
    captures = _as_dicts(out, "captures")
    assert sorted((str(c["week_ending"]), c["status"]) for c in captures) == [
        ("2025-11-14", "published"),
        ("2025-11-21", "published"),
        ("2025-11-21", "published"),
        ("2025-11-28", "published"),
        ("2025-11-28", "published"),
    ]
    revised_run = max(c["run_id"] for c in captures)
    latest = {str(r["week_ending"]): r["run_id"] for r in _latest_runs(out)}
    assert latest["2025-11-21"] == latest["2025-11-28"] == revised_run != latest["2025-11-14"]
    spark_dir.joinpath("revised_run").write_text(revised_run)  # for the rollback test
    # verify reads both captures' mart rows from Spark: only the window over the revision moved
    first, rebuilt = sorted(
        c["capture_id"] for c in captures if str(c["week_ending"]) == "2025-11-28"
    )
    result = run_cli("verify", "--capture-id", first, "--against", rebuilt, *_spark(spark_dir))
    assert result.exit_code == 1, result.output
    assert "finra_otc_transparency_symbol_rolling_6w  only in A" in result.output
    assert "finra_otc_transparency_symbol_summary  " not in result.output


def _latest_runs(out: Path) -> list[dict]:
    with duckdb.connect() as con:
        summary = out / "finra_otc_transparency_symbol_summary_latest.parquet"
        captures = out / "finra_otc_transparency_captures.parquet"
        relation = con.sql(
            f"select distinct s.week_ending, c.run_id from read_parquet('{summary}') as s"
            f" inner join read_parquet('{captures}') as c on s.capture_id = c.capture_id"
        )
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_a_rollback_makes_the_previous_capture_latest_on_spark(spark_dir: Path) -> None:
    run_file = spark_dir / "revised_run"
    if not run_file.exists():
        pytest.skip("needs the revision test's run")
    revised_run = run_file.read_text()
    _cli("rollback", "--run-id", revised_run, "--yes", *_spark(spark_dir))
    # read back through this process's session: the captures, the runs the `_latest` views
    # serve, and what is left of the rolled-back captures in a capture-keyed mart
    spark = engines.spark_session(spark_dir)
    statuses = spark.sql(f"select week_ending, status from {CAPTURES_MART} where {OTC}").collect()
    assert sorted((str(week), status) for week, status in statuses) == [
        ("2025-11-14", "published"),
        ("2025-11-21", "published"),
        ("2025-11-21", "rolled_back"),
        ("2025-11-28", "published"),
        ("2025-11-28", "rolled_back"),
    ]
    served = spark.sql(
        f"select distinct s.week_ending, c.run_id from {in_marts(SUMMARY + LATEST_SUFFIX)} as s"
        f" inner join {CAPTURES_MART} as c on s.capture_id = c.capture_id where s.{OTC}"
    ).collect()
    assert sorted(str(week) for week, _ in served) == ["2025-11-14", "2025-11-21", "2025-11-28"]
    runs = {run for _, run in served}
    assert len(runs) == 1 and revised_run not in runs  # the first backfill's, for every week
    left = spark.sql(
        f"select count(*) from {in_marts(SUMMARY)}"
        f" where capture_id like '%{revised_run.removeprefix('run_')}'"
    ).collect()[0][0]
    assert left == 0


def test_status_and_plan_see_a_published_capture_missing_from_a_mart(spark_dir: Path) -> None:
    """Published ⇒ complete, checked on Spark: a capture whose partition of one served mart
    is gone (a hand-run dbt, a deleted folder) is `incomplete` in `status`, and `plan` builds
    its week again."""
    spark = engines.spark_session(spark_dir)
    mart = "finra_otc_transparency_symbol_concentration"
    [(capture_id,)] = spark.sql(
        f"select distinct capture_id from {in_marts(SUMMARY + LATEST_SUFFIX)}"
        f" where {OTC} and week_ending = date '2025-11-14'"
    ).collect()
    spark.sql(f"alter table {in_marts(mart)} drop partition (capture_id = '{capture_id}')")
    week = ["--start", "2025-11-14", "--end", "2025-11-14", "--tier", "OTC"]
    status = run_cli("status", *week, *_spark(spark_dir))
    assert status.exit_code == 1, status.output
    assert f"2025-11-14 OTC: incomplete (published, but no rows in {mart})" in status.output
    planned = _cli("plan", *week, "--source-dir", str(FINRA_DIR), *_spark(spark_dir))
    assert f"latest has no rows in {mart}" in planned, planned


def test_an_older_spark_warehouse_gains_the_added_raw_columns(spark_dir: Path) -> None:
    """A Spark warehouse whose raw.captures predates SPARK_ADDED_COLUMNS gets them (null on its
    rows, which keep their values) the next time the wrapper opens it."""
    spark = engines.spark_session(spark_dir)
    added = [d.split()[0] for d in engines.SPARK_ADDED_COLUMNS["captures"]]
    kept = [c for c in spark.table("raw.captures").columns if c not in added]
    before = sorted(map(tuple, spark.table("raw.captures").select(*kept).collect()))
    spark.sql("alter table raw.captures rename to raw.captures_now")
    try:
        spark.sql(f"create table raw.captures using parquet as select {', '.join(kept)}"
                  " from raw.captures_now")  # fmt: skip
        engines.ensure_raw_tables(engines.SessionEndpoint(spark, spark_dir / "landing"))
        table = spark.table("raw.captures")
        assert table.columns == [*kept, *added]
        assert sorted(map(tuple, table.select(*kept).collect())) == before
        assert table.where(" or ".join(f"{c} is not null" for c in added)).count() == 0
    finally:
        spark.sql("drop table if exists raw.captures")
        spark.sql("alter table raw.captures_now rename to raw.captures")
