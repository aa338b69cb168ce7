"""dbt's own commands, run as a dbt user runs them (the `dbt` command in the checkout), never
lose or mislabel published data (issue: dbt's own commands are clients too, DOMAIN.md §3)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from spine_wrapper.paths import PROJECT_DIR

from .conftest import FINRA_DIR, query, run_cli
from .test_backfill import _latest_rows


def _dbt(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `dbt` command from the checkout, as README "Running dbt by hand" says, with dbt's
    target and log folders beside `db` (dbt's own DBT_TARGET_PATH / DBT_LOG_PATH): the
    suite's workers run dbt at once, and `dbt retry` reads the previous command's results
    there, so they must not share the project's `target/`."""
    env = {
        **os.environ,
        "SPINE_DB": str(db),
        "DBT_TARGET_PATH": str(db.parent / "target"),
        "DBT_LOG_PATH": str(db.parent / "logs"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        ["dbt", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def hand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's hand-run warehouse and dbt's state beside it: dbt parses
    the project again whenever the database path or the --vars change, so keeping the path
    lets the commands without --vars (the first tests) reuse one parse, as a user's would."""
    return tmp_path_factory.mktemp("by-hand")


@pytest.fixture
def warehouse(real_db: Path, hand_dir: Path) -> Path:
    """A fresh copy of the warehouse built from the three real files (same path each test)."""
    db = hand_dir / "copy.duckdb"
    db.with_name(f"{db.name}.wal").unlink(missing_ok=True)  # never replayed onto the copy
    shutil.copy(real_db, db)
    return db


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--full-refresh"],
        ["run", "--full-refresh", "-s", "finra_otc_transparency_venue_share"],
        ["build", "--empty"],
    ],
    ids=["build --full-refresh", "run --full-refresh -s venue_share", "build --empty"],
)
def test_refreshing_commands_leave_published_data_alone(warehouse: Path, args: list[str]) -> None:
    before = _latest_rows(warehouse)
    result = _dbt(warehouse, *args)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Nothing was changed" in result.stdout, result.stdout[-2000:]
    assert _latest_rows(warehouse) == before


def test_dbt_test_without_vars_tests_the_published_warehouse(warehouse: Path) -> None:
    passing = _dbt(warehouse, "test")
    assert passing.returncode == 0, passing.stdout[-3000:]
    assert "PASS=" in passing.stdout and "PASS=0 " not in passing.stdout
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into main.finra_otc_transparency_venue_share"
            " select * from main.finra_otc_transparency_venue_share"
            " where week_ending = '2025-11-21'"
        )
        # one row failing three row-level checks at once, another failing a fourth
        con.execute(
            "update main.finra_otc_transparency_venue_share"
            " set mpid = null, venue_type = 'XYZ', market_share_pct = 2"
            " where week_ending = '2025-11-14' and rank = 1"
        )
        con.execute(
            "update main.finra_otc_transparency_venue_share set total_volume = -1"
            " where week_ending = '2025-11-14' and rank = 2"
        )
        [(first_week,)] = con.execute(
            "select distinct capture_id from main.finra_otc_transparency_venue_share"
            " where week_ending = '2025-11-14'"
        ).fetchall()
    failing = _dbt(warehouse, "test", "--store-failures")
    assert failing.returncode != 0
    assert "finra_otc_transparency_venue_share_invariants" in failing.stdout
    # dbt's stored failures: one row per failing (row, check), named and with its capture
    found = query(
        warehouse,
        "select invariant, failing_value, capture_id"
        " from dbt_test__audit.finra_otc_transparency_venue_share_invariants"
        " where capture_id = ? and invariant not like 'grouped_sum(%'",
        [first_week],
    )
    assert sorted(found) == [
        ("accepted_values(venue_type)", "XYZ", first_week),
        ("between(market_share_pct, 0, 1)", "2.0", first_week),
        ("between(total_volume, 0, None)", "-1", first_week),
        ("not_null(mpid)", "null", first_week),
    ]
    duplicated = query(
        warehouse,
        "select count(*), min(n_records) from"
        " dbt_test__audit.finra_otc_transparency_venue_share_invariants"
        " where invariant = 'unique(capture_id, venue_type, mpid)'",
    )
    assert duplicated == [(9, 2)]  # the nine venues of 2025-11-21, each twice


def _load_again(warehouse: Path, *extra: str, start: str = "2025-11-14") -> str:
    """`spine-dbt load --force` of the real files' weeks from `start`: new captures, `loaded`;
    returns their run id."""
    loaded = run_cli(
        "load", "--start", start, "--end", "2025-11-28", "--tier", "OTC",
        "--source-dir", str(FINRA_DIR), "--db", str(warehouse), "--force", *extra,
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    [(run_id,)] = query(
        warehouse,
        "select distinct run_id from main.finra_otc_transparency_captures where status = 'loaded'",
    )
    return run_id


def _statuses(warehouse: Path, run_id: str) -> dict[str, tuple[str, str]]:
    """week -> (status, detail) of the run's captures."""
    return {
        str(week): (status, detail)
        for week, status, detail in query(
            warehouse,
            "select week_ending, status, status_detail from main.finra_otc_transparency_captures"
            " where run_id = ?",
            [run_id],
        )
    }


def _complete(warehouse: Path) -> list[tuple]:
    """Published captures with accepted rows but no liquidity rows (published ⇒ complete)."""
    return query(
        warehouse,
        """
        select c.capture_id from main.finra_otc_transparency_captures as c
        where c.status = 'published' and c.rows_accepted > 0 and c.capture_id not in (
            select capture_id from main.finra_otc_transparency_liquidity_score)
        """,
    )


def test_published_means_complete_is_checked(warehouse: Path) -> None:
    """A published capture that lost its rows in a mart: `dbt test` fails, `spine-dbt verify
    --published` exits 1, `status` shows the gap and `backfill` builds the week again."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "delete from main.finra_otc_transparency_symbol_concentration"
            " where week_ending = '2025-11-21'"
        )
    tested = _dbt(warehouse, "test")
    assert tested.returncode != 0 and "assert_published_captures_complete" in tested.stdout
    verified = run_cli("verify", "--published", "--db", str(warehouse))
    assert verified.exit_code == 1 and "assert_published_captures_complete" in verified.output
    status = run_cli(
        "status", "--start", "2025-11-14", "--end", "2025-11-28", "--tier", "OTC",
        "--db", str(warehouse),
    )  # fmt: skip
    assert status.exit_code == 1
    assert "2025-11-21 OTC: incomplete (published, but no rows in" in status.output
    backfilled = run_cli(
        "backfill", "--start", "2025-11-14", "--end", "2025-11-28", "--tier", "OTC",
        "--source-dir", str(FINRA_DIR), "--db", str(warehouse),
    )  # fmt: skip
    assert backfilled.exit_code == 0, backfilled.output
    assert run_cli("verify", "--published", "--db", str(warehouse)).exit_code == 0


def test_full_refresh_of_a_real_build_keeps_the_history(warehouse: Path) -> None:
    """With captures to build, --full-refresh builds them incrementally: the published
    captures' rows stay (full_refresh: false on every capture-keyed model)."""
    before = _latest_rows(warehouse)
    rows_before = query(warehouse, "select count(*) from main.finra_otc_transparency_venue_share")
    loaded = run_cli(
        "load", "--start", "2025-11-28", "--end", "2025-11-28", "--tier", "OTC",
        "--source-dir", str(FINRA_DIR), "--db", str(warehouse), "--force",
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    [(run_id,)] = query(
        warehouse,
        "select run_id from main.finra_otc_transparency_captures where status = 'loaded'",
    )
    result = _dbt(warehouse, "build", "--full-refresh", "--vars", json.dumps({"run_id": run_id}))
    assert result.returncode == 0, result.stdout[-3000:]
    [(rows_after,)] = query(
        warehouse, "select count(*) from main.finra_otc_transparency_venue_share"
    )
    assert rows_after == rows_before[0][0] + 9  # the new capture's 9 venues beside the old rows
    assert _latest_rows(warehouse) == before  # same file: same rows, new capture ids


def test_vars_that_select_nothing_fail_with_a_message(warehouse: Path) -> None:
    for dbt_vars in (
        {"run_id": "run_20000101T000000000000Z"},
        {"start": "2025-11-28", "end": "2025-11-14"},
    ):
        result = _dbt(warehouse, "build", "--vars", json.dumps(dbt_vars))
        assert result.returncode != 0
        assert "the vars select no capture to build" in result.stdout, result.stdout[-2000:]


def test_a_selection_cannot_publish_incomplete_captures(warehouse: Path) -> None:
    """`--exclude` a mart, then `dbt retry`: nothing published, every `_latest` view intact,
    each refusal names the command that does publish; running it publishes complete captures."""
    before = _latest_rows(warehouse)
    run_id = _load_again(warehouse)
    dbt_vars = json.dumps({"run_id": run_id})
    excluded = _dbt(
        warehouse,
        "build",
        "--vars",
        dbt_vars,
        "--exclude",
        "finra_otc_transparency_liquidity_score",
    )
    assert excluded.returncode != 0
    assert "not published: 1 capture-keyed models did not run" in excluded.stdout
    assert f"dbt build --vars '{dbt_vars}'" in excluded.stdout
    assert {status for status, _ in _statuses(warehouse, run_id).values()} == {"loaded"}
    assert _latest_rows(warehouse) == before and _complete(warehouse) == []

    retried = _dbt(warehouse, "retry")
    assert retried.returncode != 0
    assert "`dbt retry`, which re-runs only what failed" in retried.stdout
    assert {status for status, _ in _statuses(warehouse, run_id).values()} == {"loaded"}

    alone = _dbt(warehouse, "build", "--vars", dbt_vars, "--select", "int_captures_published")
    assert alone.returncode != 0 and "not published" in alone.stdout
    assert {status for status, _ in _statuses(warehouse, run_id).values()} == {"loaded"}

    rebuilt = _dbt(warehouse, "build", "--vars", dbt_vars)
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert {status for status, _ in _statuses(warehouse, run_id).values()} == {"published"}
    assert _latest_rows(warehouse) == before and _complete(warehouse) == []


def _duplicate_a_raw_line(warehouse: Path, run_id: str, week: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw.finra_rows select r.* from raw.finra_rows as r"
            " inner join raw.captures as c on r.capture_id = c.capture_id"
            " where c.run_id = ? and c.week_ending = ? and r.line_number = 10",
            [run_id, week],
        )


def test_one_bad_capture_fails_alone_by_hand(warehouse: Path) -> None:
    """Three captures in one run, one with a duplicated raw line (2025-11-21): `dbt build`
    fails it and, DOMAIN.md §3, the capture whose window reads it (2025-11-28), exit 1, and
    says to run it again; the same command then publishes the third, and `spine-dbt quality`
    shows the failing rows with their capture."""
    run_id = _load_again(warehouse)
    _duplicate_a_raw_line(warehouse, run_id, "2025-11-21")
    dbt_vars = json.dumps({"run_id": run_id})
    first = _dbt(warehouse, "build", "--vars", dbt_vars)
    assert first.returncode == 1
    assert "run the same command again" in first.stdout
    statuses = _statuses(warehouse, run_id)
    assert statuses["2025-11-21"][0] == "failed"
    assert "stg_finra__raw_lines_invariants" in statuses["2025-11-21"][1]
    assert statuses["2025-11-28"][0] == "failed"
    assert "window reads OTC:2025-11-21:" in statuses["2025-11-28"][1]
    assert statuses["2025-11-14"][0] == "loaded"

    second = _dbt(warehouse, "build", "--vars", dbt_vars)
    assert second.returncode == 0, second.stdout[-3000:]
    statuses = _statuses(warehouse, run_id)
    assert {w: s for w, (s, _) in statuses.items()} == {
        "2025-11-14": "published",
        "2025-11-21": "failed",
        "2025-11-28": "failed",
    }
    [(bad_capture,)] = query(
        warehouse,
        "select capture_id from raw.captures where run_id = ? and week_ending = '2025-11-21'",
        [run_id],
    )
    quality = run_cli("quality", "--run-id", run_id, "--db", str(warehouse))
    assert "fail" in quality.output and bad_capture in quality.output, quality.output


def test_a_capture_is_built_with_the_calc_versions_recorded_at_load(warehouse: Path) -> None:
    run_id = _load_again(warehouse, "--calc-version", "liquidity_score=v2", start="2025-11-28")
    result = _dbt(warehouse, "build", "--vars", json.dumps({"run_id": run_id}))
    assert result.returncode == 0, result.stdout[-3000:]
    versions = query(
        warehouse,
        "select distinct l.calc_version from main.finra_otc_transparency_liquidity_score as l"
        " inner join raw.captures as c on l.capture_id = c.capture_id where c.run_id = ?",
        [run_id],
    )
    assert versions == [("v2",)]
    planned = run_cli(
        "plan", "--start", "2025-11-28", "--end", "2025-11-28", "--tier", "OTC",
        "--source-dir", str(FINRA_DIR), "--db", str(warehouse),
        "--calc-version", "liquidity_score=v2",
    )  # fmt: skip
    assert "up to date" in planned.output, planned.output
