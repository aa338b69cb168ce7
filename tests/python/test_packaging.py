"""spine-dbt as an installed tool (issue 13, packaging): the wheel ships the dbt project, dbt's
target and logs live beside the warehouse, the default warehouse never lands in site-packages,
and the partial-parse shortcut into dbt-core's internals is version-checked with a tested
full-parse fallback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from datetime import date
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from spine_wrapper import dbt, paths
from spine_wrapper.generate import generate
from spine_wrapper.warehouse import Warehouse

from .conftest import FINRA_DIR, query, require, run_cli

REAL_WEEKS = ["2025-11-14", "2025-11-21", "2025-11-28"]
PROJECT_FOLDERS = ("models", "macros", "seeds", "snapshots", "tests")
PACKAGED = f"spine_wrapper/{paths.PACKAGED_PROJECT}"


# --- where things are -----------------------------------------------------------------------


def test_the_project_is_the_packaged_copy_when_there_is_one(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "spine_wrapper"
    (package / "dbt_project").mkdir(parents=True)
    (package / "dbt_project" / "dbt_project.yml").write_text("name: x\n")
    (package.parent / "dbt_project.yml").write_text("name: not this one\n")
    assert paths.project_dir(package) == package / "dbt_project"
    assert paths.is_installed(package / "dbt_project", package)
    assert paths.default_warehouse_dir(package / "dbt_project", package) == Path("warehouse")


def test_the_project_is_the_checkout_otherwise(tmp_path: Path) -> None:
    package = tmp_path / "checkout" / "spine_wrapper"
    package.mkdir(parents=True)
    (package.parent / "dbt_project.yml").write_text("name: x\n")
    assert paths.project_dir(package) == package.parent
    assert not paths.is_installed(package.parent, package)
    assert paths.default_warehouse_dir(package.parent, package) == package.parent / "warehouse"
    # neither: the packaged location, so that dbt's error names where the project should be
    empty = tmp_path / "broken" / "spine_wrapper"
    empty.mkdir(parents=True)
    assert paths.project_dir(empty) == empty / "dbt_project"


def test_this_checkout_runs_its_top_level_project() -> None:
    """The editable install (scripts/test, scripts/demo) uses the checkout, not a copy."""
    assert (paths.PROJECT_DIR / "dbt_project.yml").is_file()
    assert Path(paths.__file__).resolve().parent.parent == paths.PROJECT_DIR
    assert paths.DEFAULT_DB == paths.PROJECT_DIR / "warehouse" / "spine.duckdb"
    assert paths.DEFAULT_SPARK_DIR == paths.PROJECT_DIR / "warehouse" / "spark"
    assert paths.DEFAULT_DEMO_DIR == paths.PROJECT_DIR / "demo_data"


def test_dbt_state_lives_beside_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "wh" / "finra.duckdb"
    other = tmp_path / "elsewhere" / "finra.duckdb"
    db, other = Warehouse(db), Warehouse(other)
    for path in (dbt.target_path(db), dbt.log_path(db)):
        assert path.is_relative_to(tmp_path / "wh" / dbt.STATE_FOLDER)
        assert not path.is_relative_to(paths.PROJECT_DIR)
    assert dbt.target_path(db).parent == dbt.log_path(db).parent
    assert dbt.target_path(db) != dbt.target_path(other)  # one state per warehouse


# --- dbt-core version -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("1.11.0", True),
        ("1.11.16", True),
        ("1.11.0rc1", True),
        ("1.12.0", False),
        ("1.10.9", False),
        ("2.0.0", False),
        ("", False),
        ("1", False),
        ("1.x", False),
    ],
)
def test_partial_parse_shortcut_is_for_one_dbt_core_release(version: str, supported: bool) -> None:
    assert dbt.partial_parse_shortcut_supported(version) is supported


def test_the_installed_dbt_core_is_the_required_one() -> None:
    """require-dbt-version, the shortcut's release and the installed dbt-core agree."""
    project = yaml.safe_load((paths.PROJECT_DIR / "dbt_project.yml").read_text())
    required = SpecifierSet(",".join(project["require-dbt-version"]))
    installed = dbt.dbt_core_version()
    assert installed in required
    assert dbt.partial_parse_shortcut_supported(installed)
    major, minor = dbt.PARTIAL_PARSE_SHORTCUT_DBT_CORE
    assert f"{major}.{minor}.0" in required


def test_a_new_warehouse_starts_from_the_parse_of_one_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt's parse is shared through the user's cache by warehouses of the same file name:
    the second `w.duckdb` skips dbt's full parse and still builds and publishes into its own
    catalog; `x` (another catalog name) parses in full."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def parse_events(db: Path) -> list[str]:
        names: list[str] = []
        outcome = dbt.invoke(
            "parse", Warehouse(db), {"run_id": "run_20251226T000000000001Z"},
            on_event=lambda e: names.append(e.info.name),
        )  # fmt: skip
        assert outcome.success, outcome.exception
        return names

    first, second, other = (
        tmp_path / "a" / "w.duckdb",
        tmp_path / "b" / "w.duckdb",
        tmp_path / "x.duckdb",
    )
    assert "UnableToPartialParse" in parse_events(first)
    shared = dbt.shared_parse(Warehouse(first))
    assert shared.is_file() and shared.is_relative_to(tmp_path / "cache" / "spine-dbt")
    assert "UnableToPartialParse" not in parse_events(second)
    assert "UnableToPartialParse" in parse_events(other)

    files = tmp_path / "files"
    generate(files, 1, ["OTC"], date(2025, 12, 26))
    args = ["--start", "2025-12-26", "--end", "2025-12-26", "--tier", "OTC"]
    result = run_cli("backfill", *args, "--source-dir", str(files), "--db", str(second))
    assert result.exit_code == 0, result.output
    captures = "select status from main.finra_otc_transparency_captures"
    assert query(second, captures) == [("published",)]
    for db, catalog in ((second, "w"), (other, "x")):
        manifest = json.loads((dbt.target_path(Warehouse(db)) / "manifest.json").read_text())
        models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
        assert {n["database"] for n in models} == {catalog}


def test_another_dbt_core_parses_in_full_and_still_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced onto the fallback (as on a dbt-core the shortcut was not made for): a new run id
    re-parses the project, as dbt always does, and a backfill still publishes."""
    monkeypatch.setattr(dbt, "dbt_core_version", lambda: "1.12.0")
    db = tmp_path / "fallback.duckdb"

    def parse_events(run_id: str) -> list[str]:
        names: list[str] = []
        outcome = dbt.invoke(
            "parse", Warehouse(db), {"run_id": run_id}, on_event=lambda e: names.append(e.info.name)
        )
        assert outcome.success, outcome.exception
        return names

    parse_events("run_20251226T000000000001Z")
    assert "UnableToPartialParse" in parse_events("run_20251226T000000000002Z")

    files = tmp_path / "files"
    generate(files, 2, ["OTC"], date(2025, 12, 26))
    args = ["--start", "2025-12-19", "--end", "2025-12-26", "--tier", "OTC"]
    result = run_cli("backfill", *args, "--source-dir", str(files), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert query(
        db, "select count(*) from main.finra_otc_transparency_captures where status = 'published'"
    ) == [(2,)]


# --- the wheel, installed into a fresh venv -------------------------------------------------


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def _clean_env() -> dict[str, str]:
    """The environment of a new user: no SPINE_* settings, no PYTHONPATH into the checkout."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SPINE_") and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel .` of this checkout (hatchling from the test extra: no network needed)."""
    pytest.importorskip("hatchling", reason="the test extra's hatchling builds the wheel")
    out = tmp_path_factory.mktemp("dist")
    build = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(paths.PROJECT_DIR),
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(out),
        ],
        cwd=out,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (found,) = out.glob("spine_dbt-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (--no-deps); its dependencies come from the test
    environment's site-packages through a .pth file."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root.parent)
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=root,
        ).stdout.strip()
    )
    (site / "_reuse_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        cwd=root,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return root


def test_the_wheel_ships_the_dbt_project_without_the_pytest_suite(wheel: Path) -> None:
    if not (paths.PROJECT_DIR / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: the project's files are listed by git")
    tracked = subprocess.run(
        ["git", "ls-files", "dbt_project.yml", "profiles.yml", *PROJECT_FOLDERS],
        cwd=paths.PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    expected = {
        f"{PACKAGED}/{name}"
        for name in tracked
        if not name.startswith("tests/python/") and (paths.PROJECT_DIR / name).is_file()
    }
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert expected - shipped == set()  # a new folder under tests/ needs its force-include
    assert not [name for name in shipped if name.startswith(f"{PACKAGED}/tests/python")]
    assert "spine_wrapper/cli.py" in shipped


@pytest.fixture(scope="module")
def backfilled(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The README's backfill of the three real weeks, run by the installed `spine-dbt` from an
    empty directory, with the venv's files listed before and after."""
    source = require(FINRA_DIR)
    work = tmp_path_factory.mktemp("empty_cwd")
    before = _tree(venv)
    result = _run(
        [
            str(venv / "bin" / "spine-dbt"),
            "backfill",
            "--start",
            REAL_WEEKS[0],
            "--end",
            REAL_WEEKS[-1],
            "--tier",
            "OTC",
            "--source-dir",
            os.path.relpath(source, work),
            "--db",
            "./wh/finra.duckdb",
        ],
        cwd=work,
    )
    return {"work": work, "result": result, "before": before}


def test_the_installed_tool_backfills_from_an_empty_directory(venv: Path, backfilled: dict) -> None:
    work, result = backfilled["work"], backfilled["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"published 3 weeks: {', '.join(REAL_WEEKS)}" in result.stderr + result.stdout
    db = work / "wh" / "finra.duckdb"
    published = query(
        db,
        "select distinct cast(week_ending as varchar) from main.finra_otc_transparency_captures"
        " where status = 'published' order by 1",
    )
    assert [week for (week,) in published] == REAL_WEEKS
    assert _tree(venv) == backfilled["before"]  # nothing written into site-packages
    assert sorted(path.name for path in work.iterdir()) == ["wh"]
    state = work / "wh" / dbt.STATE_FOLDER
    assert list(state.glob("finra-*/target/manifest.json"))
    assert list(state.glob("finra-*/logs/dbt.log"))


def test_the_installed_tool_runs_its_packaged_project(venv: Path, tmp_path: Path) -> None:
    shown = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from spine_wrapper import paths as p;"
            " print(p.PROJECT_DIR, p.DEFAULT_DB, p.DEFAULT_SPARK_DIR, p.DEFAULT_DEMO_DIR)",
        ],
        cwd=tmp_path,
    )
    project, *defaults = shown.stdout.split()
    assert Path(project).is_relative_to(venv) and Path(project).name == paths.PACKAGED_PROJECT
    assert defaults == ["warehouse/spine.duckdb", "warehouse/spark", "demo_data"]
    helped = _run([str(venv / "bin" / "spine-dbt"), "backfill", "--help"], cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "warehouse/spine.duckdb under the current directory" in " ".join(helped.stdout.split())
    assert list(tmp_path.iterdir()) == []


def test_the_installed_tool_writes_the_static_docs_site(
    venv: Path, backfilled: dict, tmp_path: Path
) -> None:
    work = backfilled["work"]
    assert backfilled["result"].returncode == 0
    before = _tree(venv)
    spine_dbt = str(venv / "bin" / "spine-dbt")
    helped = _run([spine_dbt, "docs", "--help"], cwd=work).stdout
    out_option = "--out" if "--out " in helped else "--target-path"
    site = tmp_path / "site"
    result = _run(
        [spine_dbt, "docs", "--static", out_option, str(site), "--db", "./wh/finra.duckdb"],
        cwd=work,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = (site / "static_index.html").read_text()
    assert "finra_otc_transparency_venue_share" in page
    assert _tree(venv) == before
    assert sorted(path.name for path in work.iterdir()) == ["wh"]
