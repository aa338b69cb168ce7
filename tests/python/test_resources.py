"""DuckDB's memory limit and threads sized to the machine (resources.py), and an out-of-memory
run ending in one message, exit 1, nothing left `loaded` (issue: bigger machines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from spine_wrapper import dbt, resources
from spine_wrapper.resources import DuckDBResources, duckdb_resources
from spine_wrapper.warehouse import Warehouse, connect

GB = 1000**3
SPINE = str(Path(sys.executable).parent / "spine-dbt")


def test_defaults_fit_the_machine() -> None:
    two_cores = duckdb_resources({}, cpus=2, memory=24 * 1024**3)
    assert two_cores == DuckDBResources(1200 * 1000**2, 2)  # the 2 GiB RSS target's setting
    workstation = duckdb_resources({}, cpus=16, memory=128 * GB)
    assert workstation.threads == 16 and workstation.memory_limit == 16 * 600 * 1000**2
    small_box = duckdb_resources({}, cpus=64, memory=4 * GB)  # never past 80 % of memory
    assert small_box.memory_limit == int(4 * GB * 0.8)
    assert small_box.threads == small_box.memory_limit // resources.MIN_MEMORY_PER_THREAD


def test_threads_are_bounded_by_the_limit() -> None:
    sixteen = {"SPINE_DUCKDB_THREADS": "16"}
    assert duckdb_resources(sixteen, cpus=2, memory=24 * 1024**3).threads == 16
    assert duckdb_resources({**sixteen, "SPINE_MEMORY_LIMIT": "64MB"}, cpus=2).threads == 1
    assert duckdb_resources({**sixteen, "SPINE_MEMORY_LIMIT": "1200MB"}, cpus=2).threads == 4
    assert duckdb_resources({"SPINE_MEMORY_LIMIT": "2GiB"}, cpus=2).memory_limit == 2 * 1024**3


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SPINE_MEMORY_LIMIT": "lots"}, "SPINE_MEMORY_LIMIT must be a size"),
        ({"SPINE_MEMORY_LIMIT": "12 parsecs"}, "SPINE_MEMORY_LIMIT must be a size"),
        ({"SPINE_DUCKDB_THREADS": "0"}, "SPINE_DUCKDB_THREADS must be a whole number"),
        ({"SPINE_DUCKDB_THREADS": "many"}, "SPINE_DUCKDB_THREADS must be a whole number"),
    ],
)
def test_malformed_settings_are_usage_errors(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        duckdb_resources(environ)
    run = subprocess.run(
        [SPINE, "status", "--weeks-back", "1", "--db", str(tmp_path / "w.duckdb")],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_the_loader_and_dbt_get_the_same_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SPINE_DUCKDB_THREADS", "3")
    monkeypatch.setenv("SPINE_MEMORY_LIMIT", "900MB")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with connect(warehouse) as con:
        limit, threads = con.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
    env = dbt.dbt_environment(warehouse, os.environ)
    assert (env["SPINE_DUCKDB_THREADS"], threads) == ("3", 3)
    assert env["SPINE_MEMORY_LIMIT"] == "858MiB"
    expected = duckdb.connect(config={"memory_limit": "858MiB"})
    assert limit == expected.execute("select current_setting('memory_limit')").fetchone()[0]


def _backfill(source: Path, db: Path, memory: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(SPINE, "backfill", "--weeks-back", "4", "--end", "2025-12-26", "--tier", "OTC"),
            *("--source-dir", str(source), "--db", str(db), "--no-progress"),
        ],
        env={**os.environ, "SPINE_DUCKDB_THREADS": "16", "SPINE_MEMORY_LIMIT": memory},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _statuses(db: Path) -> list[str]:
    run = subprocess.run(
        [SPINE, "status", "--weeks-back", "4", "--end", "2025-12-26", "--tier", "OTC"]
        + ["--db", str(db), "--json"],
        capture_output=True,
        text=True,
    )
    return [cell["state"] for cell in json.loads(run.stdout)]


def test_sixteen_threads_in_a_tiny_limit_end_in_one_message(tmp_path: Path) -> None:
    """16 DuckDB threads: in 64MB they are bounded to one and the run completes; in 20MB dbt's
    models run out of memory: exit 1, one message naming the settings, no traceback, every
    capture failed (none left `loaded`, nothing published)."""
    source = tmp_path / "files"
    made = subprocess.run(
        [SPINE, "generate", "--weeks", "4", "--tier", "OTC", "--out", str(source)],
        capture_output=True,
    )
    assert made.returncode == 0
    fits = _backfill(source, tmp_path / "fits.duckdb", "64MB")
    assert fits.returncode == 0, fits.stdout + fits.stderr
    assert set(_statuses(tmp_path / "fits.duckdb")) == {"published"}

    starved = _backfill(source, tmp_path / "starved.duckdb", "20MB")
    assert starved.returncode == 1, starved.stdout + starved.stderr
    assert "Traceback" not in starved.stdout + starved.stderr
    assert "Error: DuckDB ran out of memory (memory_limit 19 MiB, 1 thread): raise" in (
        starved.stderr
    )
    assert "SPINE_MEMORY_LIMIT" in starved.stderr and "SPINE_DUCKDB_THREADS" in starved.stderr
    # failed by dbt's end of run (or, had the loader run out, never landed): none left
    # `loaded`, none published
    assert set(_statuses(tmp_path / "starved.duckdb")) <= {"failed", "missing"}
