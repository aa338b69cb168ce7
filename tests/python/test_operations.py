"""The operator's playbook end to end: plan, revise, status, captures, verify, rollback, quality,
interrupted runs and a busy warehouse, on real DuckDB files and real dbt builds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from spine_wrapper import ledger
from spine_wrapper.generate import generate
from spine_wrapper.warehouse import Warehouse, locked

from .conftest import query, run_cli
from .test_backfill import _latest_rows
from .test_dbt_clients import _dbt

END = date(2025, 12, 26)
RANGE = ["--start", "2025-11-07", "--end", "2025-12-26", "--tier", "OTC"]
END_WEEKS = ["2025-12-12", "2025-12-19", "2025-12-26"]  # the revised week and the two after it


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """Eight small OTC weeks plus a FINRA revision of 2025-12-12 (third newest)."""
    written = generate(tmp_path / "files", 8, ["OTC"], END, revised_week=True)
    revision = tmp_path / written[-1].name
    written[-1].rename(revision)
    (tmp_path / "files" / "revisions").rmdir()
    return tmp_path / "files", revision


def _plan(source: Path, db: Path) -> dict[str, str]:
    result = run_cli("plan", *RANGE, "--source-dir", str(source), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    return {p["week_ending"]: p["plan"] for p in json.loads(result.output)["partitions"]}


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted backfill of `_files` (generated alike each time), built once: the
    reference of every kill point and of the chunked run, and the start of a rollback."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    source, _ = _files(folder)
    db = folder / "reference.duckdb"
    assert run_cli("backfill", *RANGE, "--source-dir", str(source), "--db", str(db)).exit_code == 0
    return db


@pytest.fixture(scope="module")
def uninterrupted(backfilled: Path) -> dict[str, list[tuple]]:
    """The `_latest` rows of the uninterrupted backfill."""
    return _latest_rows(backfilled)


def test_revision_flows_through_and_rolls_back(tmp_path: Path) -> None:
    source, revision = _files(tmp_path)
    db = tmp_path / "w.duckdb"
    args = [*RANGE, "--source-dir", str(source), "--db", str(db)]
    assert set(_plan(source, db).values()) == {"new"}
    assert run_cli("backfill", *args).exit_code == 0
    before = _latest_rows(db)
    assert set(_plan(source, db).values()) == {"up to date"}

    revision.replace(source / revision.name)  # FINRA re-publishes 2025-12-12
    plan = _plan(source, db)
    assert plan["2025-12-12"] == "revised"
    assert [plan["2025-12-19"], plan["2025-12-26"]] == ["stale", "stale"]
    assert {plan[w] for w in plan if w < "2025-12-12"} == {"up to date"}

    report_path = tmp_path / "run.json"
    result = run_cli("backfill", *args, "--report", str(report_path))
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    loaded = [p for p in report["partitions"] if p["capture_id"] and p["plan"] != "up to date"]
    assert [p["week_ending"] for p in loaded] == ["2025-12-12", "2025-12-19", "2025-12-26"]
    assert all(p["status"] == "published" for p in loaded)
    run_id = report["run_id"]
    after = _latest_rows(db)
    assert after != before
    # The revised week's rows reach the later weeks' rolling windows.
    rolling = query(
        db,
        "select input_capture_ids from main.finra_otc_transparency_symbol_rolling_6w_latest"
        " where week_ending = '2025-12-26' limit 1",
    )
    assert run_id.removeprefix("run_") in rolling[0][0]
    assert _plan(source, db) == {w: "up to date" for w in _plan(source, db)}

    # --json is a flag (the run report on stdout); `--json PATH` is the old --report PATH.
    again = run_cli("backfill", *args, "--json")
    assert again.exit_code == 0, again.output
    assert {p["plan"] for p in json.loads(again.stdout)["partitions"]} == {"up to date"}
    old_spelling = tmp_path / "old.json"
    deprecated = run_cli("backfill", *args, "--json", str(old_spelling))
    assert deprecated.exit_code == 0, deprecated.output
    assert "`--json PATH` is deprecated: use --report PATH" in deprecated.stderr
    assert json.loads(old_spelling.read_text())["partitions"]
    refused = run_cli("status", *RANGE, "--db", str(db), "--json", "out.json")
    assert refused.exit_code == 2 and "--json" in refused.output

    # captures: newest first; verify: the two captures of the revised week differ.
    listed = run_cli("captures", "--week", "2025-12-12", "--db", str(db), "--json")
    captures = json.loads(listed.output)
    assert [c["status"] for c in captures] == ["published", "published"]
    newest, oldest = captures[0]["capture_id"], captures[1]["capture_id"]
    differs = run_cli("verify", "--capture-id", oldest, "--against", newest, "--db", str(db))
    assert differs.exit_code == 1 and "only in A" in differs.output

    rolled = run_cli("rollback", "--run-id", run_id, "--db", str(db), "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert f"2025-12-12 OTC: {oldest}" in rolled.output
    assert _latest_rows(db) == before
    history = query(
        db,
        "select partition_key, count(*) from snapshots.finra_otc_transparency_capture_history"
        " group by 1 having count(*) > 1 order by 1",
    )
    assert history == [("OTC:2025-12-12", 3), ("OTC:2025-12-19", 3), ("OTC:2025-12-26", 3)]
    assert run_cli("status", *RANGE, "--db", str(db)).exit_code == 0  # consistent, no gaps
    assert _plan(source, db)["2025-12-12"] == "revised"  # the file on disk is still newer

    quality = run_cli("quality", "--run-id", run_id, "--db", str(db), "--json")
    results = json.loads(quality.output)
    assert results and {r["status"] for r in results} <= {"pass", "warn"}


def test_rollback_of_one_capture_lists_the_windows_that_read_it(
    backfilled: Path, tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(backfilled, db)
    [(capture_id,)] = query(
        db, "select capture_id from raw.captures where week_ending = '2025-12-05'"
    )
    refused = run_cli(
        "rollback",
        "--capture-id",
        "OTC:2025-12-05:20000101T000000000000Z",
        "--db",
        str(db),
        "--yes",
    )
    assert refused.exit_code == 1 and "unknown capture ids" in refused.output  # not found
    from click.testing import CliRunner

    from spine_wrapper.cli import main

    declined = CliRunner().invoke(
        main, ["rollback", "--capture-id", capture_id, "--db", str(db)], input="n\n"
    )
    assert declined.exit_code == 1  # aborted
    lines = declined.output.splitlines()
    dependents = lines[lines.index("and the later captures whose 6-week windows read them:") + 1 :]
    assert [d.strip().split(":")[1] for d in dependents if d.startswith("  ")] == [
        "2025-12-12",
        "2025-12-19",
        "2025-12-26",
    ]
    assert query(db, "select count(distinct status) from main.finra_otc_transparency_captures") == [
        (1,)
    ]
    done = run_cli("rollback", "--capture-id", capture_id, "--db", str(db), "--yes")
    assert done.exit_code == 0, done.output
    statuses = query(
        db,
        "select cast(week_ending as varchar), status from main.finra_otc_transparency_captures"
        " order by 1",
    )
    assert [s for w, s in statuses if w >= "2025-12-05"] == ["rolled_back"] * 4
    gap = run_cli("status", *RANGE, "--db", str(db))
    assert gap.exit_code == 1
    assert "2025-12-05 OTC: missing (every capture rolled back)" in gap.output


@pytest.fixture(scope="module")
def revised_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The eight OTC weeks backfilled, then FINRA's revision of 2025-12-12 backfilled: two
    captures of each of the three newest weeks. Built once; each test rolls back a copy."""
    tmp = tmp_path_factory.mktemp("revised")
    source, revision = _files(tmp)
    db = tmp / "w.duckdb"
    args = [*RANGE, "--source-dir", str(source), "--db", str(db)]
    assert run_cli("backfill", *args).exit_code == 0
    revision.replace(source / revision.name)
    assert run_cli("backfill", *args).exit_code == 0
    return db


def _rolled_back(db: Path) -> set[str]:
    rows = query(
        db,
        "select capture_id from main.finra_otc_transparency_captures where status = 'rolled_back'",
    )
    return {capture_id for (capture_id,) in rows}


def _history(db: Path) -> list[tuple]:
    """The capture-history snapshot without its timestamps."""
    return query(
        db,
        "select partition_key, capture_id, dbt_is_deleted, dbt_valid_to is null"
        " from snapshots.finra_otc_transparency_capture_history order by all",
    )


def test_a_rollback_run_by_hand_cascades_as_the_cli_does(revised_db: Path, tmp_path: Path) -> None:
    """DOMAIN.md §3: the later captures whose windows read a rolled-back capture go with it,
    whichever way the rollback is started. The CLI's preview (ledger.dependent_captures) is
    what `dbt run-operation rollback_captures` rolls back by itself; the snapshot records a
    hand-run rollback at the next `dbt snapshot`, as the CLI's at once."""
    by_cli, by_hand = tmp_path / "cli.duckdb", tmp_path / "hand.duckdb"
    shutil.copy(revised_db, by_cli)
    shutil.copy(revised_db, by_hand)
    [(capture_id,)] = query(
        by_hand, "select capture_id from raw.captures where week_ending = '2025-12-05'"
    )
    with duckdb.connect(str(by_hand), read_only=True) as con:
        preview = ledger.dependent_captures(con, [capture_id])
    assert [d.split(":")[1] for d in preview] == [w for w in END_WEEKS for _ in range(2)]

    done = run_cli("rollback", "--capture-id", capture_id, "--db", str(by_cli), "--yes")
    assert done.exit_code == 0, done.output
    assert all(f"  {d}\n" in done.output for d in preview)  # listed before it went

    unknown = {"capture_ids": ["OTC:2025-12-05:20000101T000000000000Z"]}
    refused = _dbt(by_hand, "run-operation", "rollback_captures", "--args", json.dumps(unknown))
    assert refused.returncode != 0 and "unknown capture ids" in refused.stdout
    by_id = {"capture_ids": [capture_id]}
    hand = _dbt(by_hand, "run-operation", "rollback_captures", "--args", json.dumps(by_id))
    assert hand.returncode == 0, hand.stdout[-3000:]
    dependents = hand.stdout.split("whose 6-week windows read them (dependents):")[1]
    assert [line.strip() for line in dependents.splitlines()[1:7]] == preview
    assert "run `dbt snapshot` to record it now" in hand.stdout
    assert _rolled_back(by_hand) == _rolled_back(by_cli) == {capture_id, *preview}
    assert _latest_rows(by_hand) == _latest_rows(by_cli)

    assert _history(by_hand) != _history(by_cli)  # not recorded yet
    snapshot = _dbt(by_hand, "snapshot")
    assert snapshot.returncode == 0, snapshot.stdout[-3000:]
    assert _history(by_hand) == _history(by_cli)
    assert ("OTC:2025-12-05", capture_id, "True", True) in _history(by_hand)


def test_a_run_rolled_back_by_hand_is_dated_from_its_event(
    revised_db: Path, tmp_path: Path
) -> None:
    """The capture history dates a change from the events log, not from when `dbt snapshot`
    ran: the revision run rolled back by hand is recorded with the time of its rollback."""
    db = tmp_path / "w.duckdb"
    shutil.copy(revised_db, db)
    [(run_id,)] = query(db, "select max(run_id) from raw.captures")
    by_run = {"run_id": run_id, "detail": "rolled back by hand"}
    hand = _dbt(db, "run-operation", "rollback_captures", "--args", json.dumps(by_run))
    assert hand.returncode == 0, hand.stdout[-3000:]
    assert "dependents" not in hand.stdout  # no later capture read the run's
    events = query(
        db,
        "select capture_id, event_at from raw.capture_events"
        " where status = 'rolled_back' and detail = 'rolled back by hand' order by 1",
    )
    assert [capture_id.split(":")[1] for capture_id, _ in events] == END_WEEKS
    [rolled_back_at] = {at for _, at in events}

    assert _dbt(db, "snapshot").returncode == 0  # seconds after the rollback
    current = query(
        db,
        "select cast(week_ending as varchar), run_id, dbt_valid_from"
        " from snapshots.finra_otc_transparency_capture_history"
        " where dbt_valid_to is null and week_ending >= '2025-12-12' order by 1",
    )
    assert [(week, at) for week, _, at in current] == [(w, rolled_back_at) for w in END_WEEKS]
    assert run_id not in {run for _, run, _ in current}  # the previous captures again
    ended = query(
        db,
        "select dbt_valid_to from snapshots.finra_otc_transparency_capture_history"
        " where run_id = ?",
        [run_id],
    )
    assert ended == [(rolled_back_at,)] * 3
    count = "select count(*) from snapshots.finra_otc_transparency_capture_history"
    rows = query(db, count)
    assert _dbt(db, "snapshot").returncode == 0  # nothing changed since: nothing recorded
    assert query(db, count) == rows


def test_chunked_backfill_equals_one_build(
    tmp_path: Path, uninterrupted: dict[str, list[tuple]]
) -> None:
    source, _ = _files(tmp_path)
    chunked = tmp_path / "chunked.duckdb"
    args = [*RANGE, "--source-dir", str(source)]
    result = run_cli("backfill", *args, "--db", str(chunked), "--chunk-weeks", "3")
    assert result.exit_code == 0, result.output
    assert _latest_rows(chunked) == uninterrupted
    runs = query(chunked, "select count(distinct run_id), count(*) from raw.captures")
    assert runs == [(1, 8)]


def test_status_and_plan_show_a_missing_week(tmp_path: Path) -> None:
    source, _ = _files(tmp_path)
    (source / "finra_otc_weekly_otc_20251222.psv").unlink()  # week 2025-11-21
    db = tmp_path / "w.duckdb"
    assert _plan(source, db)["2025-11-21"] == "missing file"
    result = run_cli("backfill", *RANGE, "--source-dir", str(source), "--db", str(db))
    assert result.exit_code == 1
    status = run_cli("status", *RANGE, "--db", str(db))
    assert status.exit_code == 1
    assert "2025-11-21 OTC: missing" in status.output
    assert "·" in status.output and "✓1" in status.output


def _spine(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "spine-dbt"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_a_second_writer_gets_a_clear_busy_error(tmp_path: Path) -> None:
    source, _ = _files(tmp_path)
    db = tmp_path / "w.duckdb"
    with locked(Warehouse(db)):
        started = time.monotonic()
        process = _spine("backfill", *RANGE, "--source-dir", str(source), "--db", str(db))
        output, _ = process.communicate(timeout=60)
        assert time.monotonic() - started < 10
    assert process.returncode == 2
    assert f"database busy (held by PID {os.getpid()})" in output


@pytest.mark.parametrize("kill_after", [0.8, 3.0, 6.0])
def test_killed_backfill_completes_on_rerun(
    tmp_path: Path, kill_after: float, uninterrupted: dict[str, list[tuple]]
) -> None:
    """kill -9 during load, dbt build or publish; the rerun ends where an uninterrupted run does."""
    source, _ = _files(tmp_path)
    db = tmp_path / "killed.duckdb"
    args = [*RANGE, "--source-dir", str(source)]

    process = _spine("backfill", *args, "--db", str(db), "--no-progress")
    time.sleep(kill_after)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    if db.exists():  # the warehouse is consistent: nothing half-published is visible
        visible = query(
            db,
            "select count(*) from information_schema.tables"
            " where table_name = 'finra_otc_transparency_venue_share_latest'",
        )
        if visible[0][0]:
            weeks = query(
                db,
                "select week_ending, tier, count(distinct capture_id)"
                " from main.finra_otc_transparency_venue_share_latest group by 1, 2",
            )
            assert all(n == 1 for _, _, n in weeks)
    rerun = run_cli("backfill", *args, "--db", str(db))
    assert rerun.exit_code == 0, rerun.output
    assert _latest_rows(db) == uninterrupted
    assert query(
        db, "select count(*) from main.finra_otc_transparency_captures where status = 'loaded'"
    ) == [(0,)]


def test_a_new_run_keeps_partial_parsing_and_other_vars_do_not(tmp_path: Path) -> None:
    """The run-selection vars change every run; dbt must not re-parse the project for them."""
    from spine_wrapper import dbt

    db = tmp_path / "parse.duckdb"

    def parse_events(dbt_vars: dict) -> list[str]:
        names: list[str] = []
        outcome = dbt.invoke(
            "parse", Warehouse(db), dbt_vars, on_event=lambda e: names.append(e.info.name)
        )
        assert outcome.success, outcome.exception
        return names

    first = {"run_id": "run_20251226T000000000001Z", "start": "2025-12-05", "tiers": ["OTC"]}
    parse_events(first)
    second = {"run_id": "run_20251226T000000000002Z", "end": "2025-12-26", "tiers": ["NMS_TIER_2"]}
    events = parse_events(second)
    assert "PartialParsingEnabled" in events and "UnableToPartialParse" not in events
    assert "UnableToPartialParse" in parse_events({**second, "calc_versions": {"x": "v2"}})
