"""DOMAIN.md §3 Concurrency: another process holding the DuckDB file (a DuckDB session, a BI
tool, a hand-run dbt) makes spine-dbt wait and retry, then say `database busy` (exit 2), never
crash or leave captures `loaded`. Real processes hold real files; nothing is mocked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from spine_wrapper import dbt
from spine_wrapper.generate import generate
from spine_wrapper.warehouse import Warehouse, WarehouseBusy

from .conftest import query, run_cli

END = date(2025, 12, 26)
RANGE = ["--start", "2025-12-12", "--end", "2025-12-26", "--tier", "OTC"]
HOLD = """
import sys, duckdb
path, mode = sys.argv[1], sys.argv[2]
while True:  # the file may be busy for a moment (another holder, spine-dbt itself)
    try:
        con = duckdb.connect(path, read_only=mode == "read")
        break
    except duckdb.IOException:
        pass
print("held", flush=True)
sys.stdin.readline()  # until the test releases it (or dies)
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three small generated OTC weeks; a warehouse with the first two published."""
    root = tmp_path_factory.mktemp("concurrency")
    generate(root / "files", 3, ["OTC"], END)
    db = root / "base.duckdb"
    first_two = ["--start", "2025-12-12", "--end", "2025-12-19", "--tier", "OTC"]
    result = run_cli("backfill", *first_two, "--source-dir", str(root / "files"), "--db", str(db))
    assert result.exit_code == 0, result.output
    return root / "files", db


@pytest.fixture
def warehouse(base: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the base warehouse (2025-12-26 still to load) and the files folder."""
    source, db = base
    copy = tmp_path / "w.duckdb"
    shutil.copy(db, copy)
    return source, copy


@contextmanager
def holding(db: Path, mode: str = "write") -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DuckDB file (`write` or `read`) until the block ends or
    the test calls release(holder)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        release(holder)


def release(holder: subprocess.Popen[str]) -> None:
    if holder.poll() is None:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def spine(*args: str, lock_timeout: str = "1") -> subprocess.Popen[str]:
    """`spine-dbt ARGS` in its own process, with SPINE_LOCK_TIMEOUT set."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "spine-dbt"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SPINE_LOCK_TIMEOUT": lock_timeout},
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def statuses(db: Path) -> dict[str, str]:
    rows = query(db, "select capture_id, status from main.finra_otc_transparency_captures")
    return dict(rows)


def published_weeks(db: Path) -> list[str]:
    return sorted(
        capture_id.split(":")[1]
        for capture_id, status in statuses(db).items()
        if status == "published"
    )


def test_a_foreign_holder_for_the_whole_command_is_busy_exit_2(
    warehouse: tuple[Path, Path],
) -> None:
    source, db = warehouse
    before = statuses(db)
    for command in ("backfill", "load"):
        with holding(db) as holder:
            started = time.monotonic()
            args = [command, *RANGE, "--source-dir", str(source), "--db", str(db)]
            code, output = finish(spine(*args))
            assert time.monotonic() - started < 30
        assert code == 2, output
        assert "Traceback" not in output
        last = output.strip().splitlines()[-1]
        assert last.startswith("Error: database busy (held by ")
        assert f"PID {holder.pid}, per DuckDB): {db}; still held after 1 s" in last
        assert statuses(db) == before  # nothing loaded, nothing left `loaded`


def test_a_reader_for_a_few_seconds_before_a_backfill_is_waited_for(
    warehouse: tuple[Path, Path],
) -> None:
    source, db = warehouse
    with holding(db, "read") as reader:
        args = ["backfill", *RANGE, "--source-dir", str(source), "--db", str(db)]
        process = spine(*args, lock_timeout="30")
        time.sleep(3)
        release(reader)
        code, output = finish(process)
    assert code == 0, output
    assert published_weeks(db) == ["2025-12-12", "2025-12-19", "2025-12-26"]
    assert "loaded" not in statuses(db).values()


@pytest.mark.parametrize(
    "args",
    [
        ["status", *RANGE],
        ["captures", "--week", "2025-12-19"],
        ["quality"],
        ["verify", "--capture-id", "a", "--against", "b"],
        ["plan", *RANGE],
        ["export", "--out", "EXPORT"],
    ],
    ids=lambda args: args[0],
)
def test_a_command_that_reads_meets_a_writer_busy_exit_2(
    warehouse: tuple[Path, Path], args: list[str]
) -> None:
    source, db = warehouse
    args = [str(db.parent / "export") if arg == "EXPORT" else arg for arg in args]
    if args[0] == "plan":
        args += ["--source-dir", str(source)]
    with holding(db) as holder:
        code, output = finish(spine(*args, "--db", str(db)))
    assert code == 2, output
    assert "database busy (held by " in output
    assert f"PID {holder.pid}, per DuckDB): {db}" in output
    assert "Traceback" not in output


def test_wait_waits_for_a_foreign_holder(warehouse: tuple[Path, Path]) -> None:
    """SPINE_LOCK_TIMEOUT=1 alone would give up; --wait waits as long as it takes."""
    source, db = warehouse
    with holding(db) as holder:
        process = spine("backfill", *RANGE, "--source-dir", str(source), "--db", str(db), "--wait")
        time.sleep(4)
        assert process.poll() is None  # still waiting
        release(holder)
        code, output = finish(process)
    assert code == 0, output
    assert published_weeks(db) == ["2025-12-12", "2025-12-19", "2025-12-26"]


def _load(source: Path, db: Path) -> dict[str, object]:
    """`spine-dbt load` of the range: the vars of the `dbt build` it prints."""
    code, output = finish(spine("load", *RANGE, "--source-dir", str(source), "--db", str(db)))
    assert code == 0, output
    return json.loads(output.split("--vars '")[1].rsplit("'", 1)[0])


def test_dbt_retries_when_it_cannot_open_the_file(
    warehouse: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """A reader holds the file as dbt starts; dbt fails to open it, the wrapper releases the
    reader on seeing that, and the same build is retried and publishes."""
    source, db = warehouse
    dbt_vars = _load(source, db)
    refused: list[str] = []
    once = threading.Lock()  # dbt's threads may meet the lock at the same time
    with holding(db, "read") as reader:

        def on_event(event: object) -> None:
            message = event.info.msg  # type: ignore[attr-defined]
            if "Could not set lock on file" in message:
                with once:
                    if not refused:
                        refused.append(message)
                        release(reader)

        outcome = dbt.invoke("build", Warehouse(db), dbt_vars, on_event=on_event)
    assert refused, "dbt never met the reader's lock"
    assert outcome.success, outcome.exception
    assert published_weeks(db) == ["2025-12-12", "2025-12-19", "2025-12-26"]
    printed = "".join(capfd.readouterr())
    assert "Traceback" not in printed, printed[-3000:]


def test_dbt_gives_up_busy_then_a_rerun_completes(
    warehouse: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A writer holds the file past SPINE_LOCK_TIMEOUT: `dbt build` and `dbt run-operation`
    raise WarehouseBusy naming it. The loaded captures cannot be marked failed while it holds
    the file; once it is gone, re-running the backfill completes the range."""
    source, db = warehouse
    dbt_vars = _load(source, db)
    monkeypatch.setenv("SPINE_LOCK_TIMEOUT", "1")
    args = json.dumps({"capture_ids": ["OTC:2025-12-12:x"], "detail": "test"})
    with holding(db) as holder:
        for command, extra in (("build", None), ("run-operation rollback_captures", args)):
            started = time.monotonic()
            with pytest.raises(WarehouseBusy) as busy:
                dbt.invoke(
                    command,
                    Warehouse(db),
                    dbt_vars,
                    extra_args=["--args", extra] if extra else None,
                )
            assert time.monotonic() - started < 30
            assert f"PID {holder.pid}, per DuckDB): {db}; still held after 1 s" in str(busy.value)
    printed = "".join(capfd.readouterr())
    assert "Traceback" not in printed, printed[-3000:]
    assert "loaded" in statuses(db).values()

    code, output = finish(spine("backfill", *RANGE, "--source-dir", str(source), "--db", str(db)))
    assert code == 0, output
    assert published_weeks(db) == ["2025-12-12", "2025-12-19", "2025-12-26"]
    assert "loaded" not in statuses(db).values()
