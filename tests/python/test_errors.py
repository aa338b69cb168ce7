"""Every error a user can cause ends in one line `Error: <what>; <hint>`, exit 2 (arguments,
environment) or 1 (what was asked for is not there or did not happen), never a traceback;
`--debug` shows it (issue 13, README "When things go wrong").

Each case runs one command in-process with exceptions caught by the runner: an exception that
escaped the group's one place (cli.SpineGroup.invoke) would be `result.exception` instead of
the SystemExit click ends with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from spine_wrapper import ledger
from spine_wrapper.cli import main

WEEK = "2025-12-26"
OTHER_WEEK = "2025-12-19"  # no capture of it in the warehouse below
RANGE = ["--start", WEEK, "--end", WEEK]
UNKNOWN_RUN = "run_20000101T000000000000Z"
UNKNOWN_CAPTURE = f"OTC:{WEEK}:20000101T000000000000Z"

# Every command, with the arguments it needs besides --db. DB, SRC, OUT, CAPTURE are replaced
# per test: the warehouse, an empty source folder, an output folder, a known capture id.
COMMANDS: dict[str, list[str]] = {
    "backfill": ["backfill", *RANGE, "--tier", "OTC", "--source-dir", "SRC"],
    "plan": ["plan", *RANGE, "--tier", "OTC", "--source-dir", "SRC"],
    "load": ["load", *RANGE, "--tier", "OTC", "--source-dir", "SRC"],
    "status": ["status", *RANGE],
    "captures": ["captures", "--week", WEEK],
    "rollback": ["rollback", "--run-id", UNKNOWN_RUN, "--yes"],
    "verify": ["verify", "--capture-id", "CAPTURE", "--against", UNKNOWN_CAPTURE],
    "verify --published": ["verify", "--published"],
    "quality": ["quality"],
    "export": ["export", "--out", "OUT"],
    "docs": ["docs", "--target-path", "OUT"],
    "report": ["report", "--week", WEEK, "--out", "OUT/report.html"],
    "demo": ["demo", "--out", "OUT"],
}
NO_WAREHOUSE = "Error: no warehouse at DB: run `spine-dbt backfill` first"
# What a missing warehouse gives: backfill, load and plan create it (nothing to load: the
# source folder is empty), status shows the gaps; the others say there is none, exit 1.
MISSING: dict[str, tuple[int, str]] = {
    "backfill": (1, "missing file"),
    "plan": (0, "missing file"),
    "load": (1, "nothing loaded"),
    "status": (1, f"{WEEK} OTC: missing"),
    **{
        name: (1, NO_WAREHOUSE)
        for name in (
            "captures",
            "rollback",
            "verify",
            "verify --published",
            "quality",
            "export",
            "docs",
            "report",
        )
    },
}  # demo: a missing warehouse is created and built (a whole demo), not an error


@pytest.fixture(autouse=True)
def _no_debug_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPINE_DEBUG", raising=False)
    monkeypatch.delenv("SPINE_DB", raising=False)


def invoke(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output, result.output
    return result


def check(result: Result, code: int, message: str) -> None:
    """Exit `code`; an `Error: ...` message is the last line of the output, and the only
    error line (a usage error prints the usage before it); other messages appear anywhere."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    if message.startswith("Error: "):
        assert lines[-1].startswith(message), result.output
        assert [line for line in lines if line.startswith("Error:")] == [lines[-1]]
    else:
        assert message in result.output, result.output


def command(name: str, db: Path, tmp: Path, capture: str = UNKNOWN_CAPTURE) -> list[str]:
    (tmp / "src").mkdir(exist_ok=True)
    places = {"SRC": str(tmp / "src"), "OUT": str(tmp / "out"), "CAPTURE": capture}
    args = [places.get(arg, arg.replace("OUT", str(tmp / "out"))) for arg in COMMANDS[name]]
    return [*args, "--db", str(db)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One generated OTC week backfilled (a dbt build, ~15 s): the warehouse and its capture.
    The tests only read it (rollback is refused before it writes)."""
    tmp = tmp_path_factory.mktemp("errors")
    files = tmp / "files"
    generated = invoke("generate", "--weeks", "1", "--tier", "OTC", "--end", WEEK, "--out", files)
    assert generated.exit_code == 0, generated.output
    db = tmp / "w.duckdb"
    built = invoke("backfill", *RANGE, "--tier", "OTC", "--source-dir", files, "--db", db)
    assert built.exit_code == 0, built.output
    with duckdb.connect(str(db), read_only=True) as con:
        [(capture,)] = con.execute("select capture_id from raw.captures").fetchall()
    return db, capture


@pytest.mark.parametrize("name", list(MISSING))
def test_missing_warehouse(tmp_path: Path, name: str) -> None:
    db = tmp_path / "none" / "w.duckdb"
    code, message = MISSING[name]
    check(invoke(*command(name, db, tmp_path)), code, message.replace("DB", str(db)))
    if code == 1 and message == NO_WAREHOUSE:
        assert not db.parent.exists()  # nothing created for it


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_folder_as_db_is_a_usage_error(tmp_path: Path, name: str) -> None:
    db = tmp_path / "w.duckdb"
    db.mkdir()
    result = invoke(*command(name, db, tmp_path))
    check(result, 2, "Error: Invalid value for '--db'")
    assert f"'{db}' is a directory" in result.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_file_duckdb_cannot_open_as_db_exits_2(tmp_path: Path, name: str) -> None:
    db = tmp_path / "w.duckdb"
    db.write_text("week_ending|tier\n2025-12-26|OTC\n", encoding="utf-8")
    result = invoke(*command(name, db, tmp_path))
    check(result, 2, f"Error: cannot open {db} as a DuckDB warehouse: IO Error:")
    assert "point --db (or SPINE_DB) at a spine-dbt warehouse" in result.output
    assert db.read_text(encoding="utf-8").startswith("week_ending|tier")  # left alone


LACKS = "Error: the warehouse lacks what was asked for: Catalog Error:"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("captures", 1, LACKS),
        ("verify", 1, LACKS),
        ("rollback", 1, LACKS),
        ("export", 1, LACKS),
        ("quality", 0, "no test results recorded"),
        ("status", 1, f"{WEEK} OTC: missing"),
    ],
    ids=["captures", "verify", "rollback", "export", "quality", "status"],
)
def test_another_duckdb_database_as_db(tmp_path: Path, name: str, code: int, message: str) -> None:
    """A DuckDB file that is not a spine-dbt warehouse (or one never built)."""
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).close()
    result = invoke(*command(name, db, tmp_path))
    check(result, code, message)
    if code == 1 and message.startswith("Error:"):
        assert "is --db a spine-dbt warehouse?" in result.output


@pytest.mark.parametrize("name", ["export", "docs", "report", "demo", "generate", "backfill"])
def test_an_output_folder_that_cannot_be_created_exits_2(
    tmp_path: Path, warehouse: tuple[Path, str], name: str
) -> None:
    """--out (docs: --target-path; backfill: --report) under a regular file: even root cannot
    make it, unlike a chmod-ed folder."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "out"
    db, _ = warehouse
    if name == "generate":
        args = ["generate", "--weeks", "1", "--tier", "OTC", "--end", WEEK, "--out", str(out)]
    elif name == "backfill":  # a new warehouse, nothing to load, then the run report
        args = [*command(name, tmp_path / "new.duckdb", tmp_path), "--report", str(out / "r.json")]
    else:
        args = command(name, tmp_path / "new.duckdb" if name == "demo" else db, tmp_path)
        args = [arg.replace(str(tmp_path / "out"), str(out)) for arg in args]
    result = invoke(*args)
    check(result, 2, "Error: cannot create ")
    assert f"{blocker} is a file, not a folder; choose another path" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["rollback", "--capture-id", UNKNOWN_CAPTURE, "--yes"],
            1,
            f"Error: unknown capture ids: {UNKNOWN_CAPTURE}; `spine-dbt captures --week",
        ),
        (
            ["rollback", "--run-id", UNKNOWN_RUN, "--yes"],
            1,
            f"Error: run {UNKNOWN_RUN} has no capture to roll back",
        ),
        (
            ["verify", "--capture-id", "CAPTURE", "--against", UNKNOWN_CAPTURE],
            1,
            f"Error: unknown capture ids: {UNKNOWN_CAPTURE};",
        ),
        (
            ["quality", "--run-id", UNKNOWN_RUN],
            1,
            f"Error: no test results of run {UNKNOWN_RUN}; `spine-dbt quality` without --run-id",
        ),
        (["quality", "--run-id", UNKNOWN_RUN, "--json"], 1, "Error: no test results of run"),
        (["report", "--week", OTHER_WEEK], 1, f"no published capture of {OTHER_WEEK}"),
        (["captures", "--week", OTHER_WEEK], 0, f"no captures of {OTHER_WEEK}"),  # an answer
    ],
    ids=[
        "rollback capture",
        "rollback run",
        "verify capture",
        "quality run",
        "quality run json",
        "report week",
        "captures week",
    ],
)
def test_unknown_capture_or_run(
    warehouse: tuple[Path, str], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    db, capture = warehouse
    args = [capture if arg == "CAPTURE" else arg for arg in args]
    if args[0] == "report":
        args += ["--out", str(tmp_path / "r.html")]
    check(invoke(*args, "--db", str(db)), code, message)


def test_a_bug_is_one_line_and_debug_raises_it(
    warehouse: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ledger, "captures_of_week", broken)
    args = ["captures", "--week", WEEK, "--db", str(warehouse[0])]
    check(invoke(*args), 1, "Error: unexpected RuntimeError: boom; a bug in spine-dbt: run again")
    debug = CliRunner().invoke(main, ["--debug", *args], catch_exceptions=True)
    assert isinstance(debug.exception, RuntimeError)


def test_debug_prints_the_traceback(tmp_path: Path) -> None:
    """The real entry point: without --debug one line, with it (or SPINE_DEBUG=1) the
    traceback, then the same line and exit code."""
    db = tmp_path / "w.duckdb"
    db.write_text("not a warehouse\n", encoding="utf-8")
    spine = str(Path(sys.executable).parent / "spine-dbt")
    env = {k: v for k, v in os.environ.items() if k not in ("SPINE_DEBUG", "SPINE_DB")}
    args = ["captures", "--week", WEEK, "--db", str(db)]
    plain = subprocess.run([spine, *args], capture_output=True, text=True, env=env, timeout=120)
    debug = subprocess.run(
        [spine, "--debug", *args], capture_output=True, text=True, env=env, timeout=120
    )
    via_env = subprocess.run(
        [spine, *args], capture_output=True, text=True, env={**env, "SPINE_DEBUG": "1"}, timeout=120
    )
    assert plain.returncode == debug.returncode == via_env.returncode == 2
    assert plain.stdout == "" and plain.stderr.startswith(f"Error: cannot open {db}")
    assert len(plain.stderr.splitlines()) == 1
    for run in (debug, via_env):
        assert "Traceback (most recent call last)" in run.stderr
        assert "spine_wrapper.warehouse.NotAWarehouse" in run.stderr
        assert run.stderr.splitlines()[-1] == plain.stderr.strip()
