"""End-to-end behaviour of `spine-dbt backfill` and `load` on real DuckDB files."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from spine_wrapper import backfill as backfill_lib
from spine_wrapper import dbt, ledger, relations
from spine_wrapper.backfill import BackfillResult, collect
from spine_wrapper.report import backfill_summary
from spine_wrapper.warehouse import Warehouse

from .conftest import FINRA_DIR, FIXTURES_DIR, query, require, run_cli

FIXTURE_RANGE = ["--start", "2025-11-28", "--end", "2026-01-02", "--tier", "T1"]
LATEST_VIEWS = [f"{name}_latest" for name in relations.SERVED_MARTS]


def _latest_rows(db: Path) -> dict[str, list[tuple]]:
    """Every `_latest` view's rows, without ids and timestamps, sorted."""
    found: dict[str, list[tuple]] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for view in LATEST_VIEWS:
            columns = [
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'main' and table_name = ? order by ordinal_position",
                    [view],
                ).fetchall()
                if row[0] not in ledger.VOLATILE_COLUMNS
            ]
            select = ", ".join(columns)
            found[view] = con.execute(f"select {select} from main.{view} order by all").fetchall()
    return found


def test_second_backfill_is_up_to_date_and_force_is_deterministic(tmp_path: Path) -> None:
    source = require(FIXTURES_DIR)
    db = tmp_path / "w.duckdb"
    args = ["backfill", *FIXTURE_RANGE, "--source-dir", str(source), "--db", str(db)]
    assert run_cli(*args).exit_code == 0
    first = query(db, "select capture_id, week_ending from main.finra_otc_transparency_captures")

    again = run_cli(*args)
    assert again.exit_code == 0
    assert "nothing to load: every partition is up to date" in again.output
    assert again.output.count("up to date") >= 6
    assert query(db, "select count(*) from raw.captures") == [(6,)]

    forced = run_cli(*args, "--force")
    assert forced.exit_code == 0, forced.output
    pairs = query(
        db,
        "select a.capture_id, b.capture_id from main.finra_otc_transparency_captures a"
        " join main.finra_otc_transparency_captures b using (week_ending, tier)"
        " where a.captured_at < b.captured_at and b.status = 'published'",
    )
    assert len(pairs) == len(first) == 6
    with duckdb.connect(str(db), read_only=True) as con:
        for old, new in pairs:
            assert ledger.diff_captures(con, old, new) == []
            rows = con.execute(
                "select count(*) from main.finra_otc_transparency_symbol_rolling_6w"
                " where capture_id = ?",
                [new],
            ).fetchone()
            assert rows == (2,)


def test_hand_run_dbt_build_publishes_what_backfill_does(tmp_path: Path, fixture_db: Path) -> None:
    source = require(FIXTURES_DIR)
    db = tmp_path / "by_hand.duckdb"
    loaded = run_cli("load", *FIXTURE_RANGE, "--source-dir", str(source), "--db", str(db))
    assert loaded.exit_code == 0, loaded.output
    assert query(db, "select distinct status from raw.capture_events") == [("loaded",)]
    command = loaded.output.strip().splitlines()[-1].strip()
    assert command.startswith(f"SPINE_DB={db} dbt build")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    statuses = query(db, "select distinct status from main.finra_otc_transparency_captures")
    assert statuses == [("published",)]
    assert _latest_rows(db) == _latest_rows(fixture_db)


def test_dbt_run_alone_never_publishes(tmp_path: Path) -> None:
    source = require(FIXTURES_DIR)
    db = tmp_path / "run_only.duckdb"
    assert (
        run_cli("load", *FIXTURE_RANGE, "--source-dir", str(source), "--db", str(db)).exit_code == 0
    )
    assert dbt.invoke("seed", Warehouse(db)).success
    outcome = dbt.invoke("run", Warehouse(db))
    assert outcome.success, outcome.exception
    assert query(db, "select distinct status from raw.capture_events") == [("loaded",)]
    assert query(db, "select count(*) from main.finra_otc_transparency_symbol_summary_latest") == [
        (0,)
    ]


def test_failing_invariant_blocks_publication_and_keeps_previous_latest(tmp_path: Path) -> None:
    source = require(FIXTURES_DIR)
    db = tmp_path / "gate.duckdb"
    args = ["--source-dir", str(source), "--db", str(db)]
    assert run_cli("backfill", *FIXTURE_RANGE, *args).exit_code == 0
    before = _latest_rows(db)
    loaded = run_cli("load", *FIXTURE_RANGE, *args, "--force")
    run_id = json.loads(loaded.output.rsplit("--vars '", 1)[1].rstrip("'\n"))["run_id"]
    # Corrupt the test warehouse: a second copy of one raw line breaks the (capture, line) key.
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw.finra_rows select * from raw.finra_rows"
            " where capture_id like 'NMS_TIER_1:2025-12-26:%' and capture_id in"
            " (select capture_id from raw.captures where run_id = ?) and line_number = 2",
            [run_id],
        )
    outcome = dbt.invoke(
        "build",
        Warehouse(db),
        {"run_id": run_id},
        extra_args=["--exclude-resource-type", "unit_test"],
    )
    assert not outcome.success
    failed = {node.name for node in outcome.failed}
    assert "stg_finra__rows_validated_invariants" in failed
    statuses = query(
        db,
        "select week_ending::varchar, status, status_detail like 'failed: %' from "
        "main.finra_otc_transparency_captures where run_id = ? order by 1",
        [run_id],
    )
    # the corrupted capture fails, and the one whose window reads it; dbt skipped the rest
    assert [row[1:] for row in statuses if row[0] >= "2025-12-26"] == [("failed", True)] * 2
    assert {row[1] for row in statuses if row[0] < "2025-12-26"} == {"loaded"}
    assert _latest_rows(db) == before
    # What `spine-dbt backfill` prints for such a run: the failing test and its failing rows.
    result = BackfillResult(run_id, [], failed_nodes=outcome.failed)
    collect(Warehouse(db), result)
    unique_test = "stg_finra__rows_validated_invariants"
    [duplicate] = result.failing_rows[unique_test]
    assert duplicate["invariant"] == "unique(capture_id, line_number)"
    assert duplicate["n_records"] == "2" and duplicate["failing_value"].endswith(" | 2")
    summary = backfill_summary(result)
    assert f"test {unique_test}: fail, 1 failing rows" in summary
    assert "'invariant': 'unique(capture_id, line_number)'" in summary

    retried = run_cli("backfill", *FIXTURE_RANGE, *args)
    assert retried.exit_code == 0, retried.output
    assert retried.output.count("failed earlier") == 0  # an older published capture exists
    assert "up to date" in retried.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2025-12-13", "--end", "2025-12-26"], "2025-12-12 and 2025-12-19"),
        (["--start", "2025-12-26", "--end", "2025-12-12"], "is after --end"),
        (["--start", "2025-12-12", "--end", "2025-12-26x"], "is not a date"),
        (
            ["--weeks-back", "2", "--start", "2025-12-12", "--end", "2025-12-26"],
            "cannot be combined",
        ),
    ],
)
def test_bad_ranges_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    db = tmp_path / "none.duckdb"
    result = run_cli(
        "backfill", *extra, "--tier", "OTC", "--source-dir", str(tmp_path), "--db", str(db)
    )
    assert result.exit_code == 2
    assert message in result.output
    assert not db.exists()


def test_unknown_tier_and_calc_version_exit_2(tmp_path: Path) -> None:
    common = ["--start", "2025-12-12", "--end", "2025-12-12", "--source-dir", str(tmp_path)]
    result = run_cli("backfill", *common, "--tier", "OTCQX")
    assert result.exit_code == 2 and "unknown tier 'OTCQX'" in result.output
    result = run_cli("backfill", *common, "--tier", "OTC", "--calc-version", "liquidity_score=v9")
    assert result.exit_code == 2 and "known versions: v1, v2" in result.output


def test_calc_version_v2_is_computed_and_recorded(tmp_path: Path) -> None:
    source = require(FIXTURES_DIR)
    db = tmp_path / "v2.duckdb"
    result = run_cli(
        "backfill",
        *FIXTURE_RANGE,
        "--source-dir",
        str(source),
        "--db",
        str(db),
        "--calc-version",
        "liquidity_score=v2",
    )
    assert result.exit_code == 0, result.output
    [(version, score)] = query(
        db,
        "select calc_version, liquidity_score"
        " from main.finra_otc_transparency_liquidity_score_latest"
        " where symbol = 'A' and week_ending = '2026-01-02'",
    )
    expected = math.log10(3827870 + 1) * math.log10(64427 + 1) * math.log10(29 + 1)
    assert version == "v2" and score == pytest.approx(expected, rel=1e-12)
    assert query(db, "select distinct calc_versions from raw.captures") == [
        ('{"liquidity_score": "v2"}',)
    ]


def test_demo_backfills_then_flows_a_revision_through(tmp_path: Path) -> None:
    db, out = tmp_path / "demo.duckdb", tmp_path / "demo"
    result = run_cli("demo", "--out", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    second = result.output.split("the same backfill again")[1]
    plans = [line.split()[2] for line in second.splitlines() if line[:4] == "2025"]
    assert plans.count("revised") == 1
    assert plans.count("stale") == 2  # the two later weeks of that tier inside the range
    assert plans.count("up") == 30 - 3  # "up to date"
    history = query(
        db,
        "select partition_key, count(*) from snapshots.finra_otc_transparency_capture_history"
        " group by partition_key having count(*) > 1 order by 1",
    )
    assert [key for key, _ in history] == [
        "NMS_TIER_1:2025-12-12",
        "NMS_TIER_1:2025-12-19",
        "NMS_TIER_1:2025-12-26",
    ]
    rejects = query(db, "select count(*) from main.finra_otc_transparency_rejects")
    assert rejects[0][0] > 0
    shutil.rmtree(out)


def test_raw_rows_landed_before_capture_week_ending_existed_still_build(tmp_path: Path) -> None:
    """A warehouse from before raw.finra_rows had capture_week_ending: the column is added on
    the next connection, and captures whose rows have no week still build in full."""
    from spine_wrapper.warehouse import connect

    source = require(FIXTURES_DIR)
    db = tmp_path / "old.duckdb"
    args = ["--source-dir", str(source), "--db", str(db)]
    loaded = run_cli("load", *FIXTURE_RANGE, *args)
    run_id = json.loads(loaded.output.rsplit("--vars '", 1)[1].rstrip("'\n"))["run_id"]
    with duckdb.connect(str(db)) as con:  # as the older loader left it
        con.execute("alter table raw.finra_rows drop column capture_week_ending")
    with connect(Warehouse(db)):
        pass
    assert query(db, "select count(*) from raw.finra_rows where capture_week_ending is null") == [
        (300,)
    ]
    outcome = dbt.invoke(
        "build",
        Warehouse(db),
        {"run_id": run_id},
        extra_args=["--exclude-resource-type", "unit_test"],
    )
    assert outcome.success, [(n.name, n.message) for n in outcome.failed]
    counts = query(
        db,
        "select sum(rows_read), sum(rows_accepted), sum(rows_rejected),"
        " (select count(raw_line) from main.finra_otc_transparency_rejects)"
        " from main.finra_otc_transparency_captures",
    )
    assert counts == [(300, 300, 0, 0)]


def test_the_wrapper_publishes_the_good_captures_of_a_failing_run(
    real_db: Path, tmp_path: Path
) -> None:
    """One capture of three fails an invariant (a duplicated raw line): `build_chunk` (what
    `spine-dbt backfill` runs after loading) fails it, builds the others again after dbt skipped
    them, publishes them, and leaves nothing `loaded`."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(real_db, db)
    first, last = date(2025, 11, 14), date(2025, 11, 28)
    calc_versions = {"liquidity_score": "v1"}
    partitions, _ = backfill_lib.plan(
        Warehouse(db), first, last, ["OTC"], require(FINRA_DIR), calc_versions, force=True
    )
    run_id = backfill_lib.load(Warehouse(db), partitions, calc_versions)
    assert run_id is not None
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw.finra_rows select r.* from raw.finra_rows as r"
            " inner join raw.captures as c on r.capture_id = c.capture_id"
            " where c.run_id = ? and c.week_ending = '2025-11-28' and r.line_number = 3",
            [run_id],
        )
    result = BackfillResult(run_id, partitions)
    weeks = [first, date(2025, 11, 21), last]
    backfill_lib.build_chunk(
        Warehouse(db), result, partitions, run_id, weeks, ["OTC"], calc_versions
    )
    assert {str(p.week_ending): p.status for p in partitions} == {
        "2025-11-14": "published",
        "2025-11-21": "published",
        "2025-11-28": "failed",
    }
    assert not result.ok
    assert query(
        db, "select count(*) from main.finra_otc_transparency_captures where status = 'loaded'"
    ) == [(0,)]
