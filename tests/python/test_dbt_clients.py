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
    """The `dbt` command from the checkout, as README "Running dbt by hand" says."""
    env = {
        **os.environ,
        "SPINE_DB": str(db),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        ["dbt", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def warehouse(real_db: Path, tmp_path: Path) -> Path:
    """A copy of the warehouse built from the three real files."""
    db = tmp_path / "copy.duckdb"
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
    failing = _dbt(warehouse, "test")
    assert failing.returncode != 0
    assert "expect_grouped_sum_to_equal_finra_otc_transparency_venue_share" in failing.stdout
