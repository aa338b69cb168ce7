"""Shared fixtures: real DuckDB files in tmp dirs, the real FINRA files when ../shared is there."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from spine_wrapper import dbt
from spine_wrapper.cli import main
from spine_wrapper.paths import PROJECT_DIR
from spine_wrapper.warehouse import Warehouse

SHARED = PROJECT_DIR.parent / "shared"
FINRA_DIR = SHARED / "data" / "finra"
FIXTURES_DIR = SHARED / "data" / "fixtures" / "otc_fridays"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared absent)")
    return path


def invariants(node: dict) -> dict:
    """The arguments of a model's (or seed's) one expect_invariants test, as declared in its
    YAML entry (tests/generic/expect_invariants.sql)."""
    tests = node.get("data_tests", [])
    [test] = [t["expect_invariants"] for t in tests if "expect_invariants" in t]
    return test["arguments"]


def has_key(test: dict) -> bool:
    """Whether a manifest test node checks its model's grain: `unique`, or expect_invariants
    with a `key`."""
    metadata = test.get("test_metadata") or {}
    if metadata.get("name") == "expect_invariants":
        return bool(metadata.get("kwargs", {}).get("key"))
    return metadata.get("name") == "unique"


@pytest.fixture(scope="session")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """dbt's manifest.json of the project (one `dbt parse` for every test that reads it)."""
    target = tmp_path_factory.mktemp("manifest")
    outcome = dbt.invoke(
        "parse",
        Warehouse(target / "parse.duckdb"),
        extra_args=["--target-path", str(target), "--log-path", str(target / "logs")],
    )
    assert outcome.success, outcome.exception
    return json.loads((target / "manifest.json").read_text())


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_cli


@pytest.fixture(scope="session")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three real FINRA files (OTC, published 2025-12-15/22/29: weeks 2025-11-14..28,
    placed by FINRA's four-week publication delay) backfilled once for the session."""
    source = require(FINRA_DIR)
    db = tmp_path_factory.mktemp("real") / "real.duckdb"
    result = run_cli(
        "backfill",
        "--start",
        "2025-11-14",
        "--end",
        "2025-11-28",
        "--tier",
        "OTC",
        "--source-dir",
        str(source),
        "--db",
        str(db),
    )
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The six simplified otc_fridays fixtures (NMS Tier 1) backfilled once for the session."""
    source = require(FIXTURES_DIR)
    db = tmp_path_factory.mktemp("fixtures") / "fixtures.duckdb"
    result = run_cli(
        "backfill",
        "--start",
        "2025-11-28",
        "--end",
        "2026-01-02",
        "--tier",
        "NMS Tier 1",
        "--source-dir",
        str(source),
        "--db",
        str(db),
    )
    assert result.exit_code == 0, result.output
    return db


# The modules that take longest (a Spark cluster, many dbt builds, a Spark JVM) go first:
# pytest-xdist (pyproject addopts: a module per worker, in collection order) then fills the
# other worker with the short ones instead of leaving a long module to end the run alone. The
# two Spark modules are apart in the order, so that their JVMs seldom share the cores.
SLOWEST_FIRST = (
    "test_spark_cluster.py",
    "test_dbt_clients.py",
    "test_operations.py",
    "test_spark.py",
    "test_finra_layouts.py",
    "test_backfill.py",
    "test_concurrency.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST_FIRST)))


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process as soon as pytest has printed its summary.

    DuckDB's Python binding (nanobind) prints pages of "leaked instance" warnings at
    interpreter teardown once pyspark has been imported beside it; they are harmless but
    would bury pytest's closing line, which CI reads. Skipping the teardown keeps the exit
    status and the summary as the last lines.
    """
    if _EXIT_STATUS and not hasattr(config, "workerinput"):  # xdist's workers end as usual
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
