"""Static quality gates: ruff, sqlfluff, and docs/tests coverage read from dbt's manifest."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from spine_wrapper import dbt, ledger
from spine_wrapper.paths import PROJECT_DIR
from spine_wrapper.warehouse import Warehouse

from .conftest import has_key, invariants

BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=PROJECT_DIR, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_ruff_is_clean() -> None:
    result = _run([str(BIN / "ruff"), "check", "spine_wrapper", "tests/python"])
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run([str(BIN / "ruff"), "format", "--check", "spine_wrapper", "tests/python"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_sqlfluff_is_clean(tmp_path: Path) -> None:
    # The dbt templater compiles the project; an empty warehouse is enough (nothing to build).
    result = _run(
        [str(BIN / "sqlfluff"), "lint", "models", "tests/staging", "tests/marts"],
        env={"SPINE_DB": str(tmp_path / "lint.duckdb")},
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def _own(nodes: dict, resource_type: str) -> list[dict]:
    return [
        n
        for n in nodes.values()
        if n["resource_type"] == resource_type and n["package_name"] == "spine_dbt"
    ]


def test_every_model_seed_snapshot_and_column_is_described(manifest: dict) -> None:
    missing = []
    nodes = [
        *_own(manifest["nodes"], "model"),
        *_own(manifest["nodes"], "seed"),
        *_own(manifest["nodes"], "snapshot"),
        *manifest["sources"].values(),
    ]
    for node in nodes:
        if not node["description"].strip():
            missing.append(node["unique_id"])
        missing += [
            f"{node['unique_id']}.{name}"
            for name, column in node["columns"].items()
            if not column["description"].strip()
        ]
    assert missing == []


def test_every_model_documents_its_grain(manifest: dict) -> None:
    vague = [
        n["unique_id"]
        for n in _own(manifest["nodes"], "model")
        if "one row per" not in n["description"].lower()
        and "row per" not in n["description"].lower()
    ]
    assert vague == []


def test_every_model_column_exists_in_its_sql(manifest: dict, real_db: Path) -> None:
    """Documented columns are the real ones: compare with the built relations."""
    import duckdb

    with duckdb.connect(str(real_db), read_only=True) as con:
        for node in _own(manifest["nodes"], "model"):
            if node["config"]["materialized"] == "ephemeral":
                continue  # no relation of its own
            actual = {
                row[0]
                for row in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = ? and table_name = ?",
                    [node["schema"], node["alias"]],
                ).fetchall()
            }
            assert actual, node["unique_id"]
            assert set(node["columns"]) == actual, node["unique_id"]


def test_every_model_has_a_primary_key_test(manifest: dict) -> None:
    keyed = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        if has_key(node):
            keyed.update(node["depends_on"]["nodes"])
    models = {n["unique_id"] for n in _own(manifest["nodes"], "model")}
    assert sorted(models - keyed) == []


def test_dbt_unit_tests_of_the_formulas_pass(real_db: Path) -> None:
    """dbt unit tests (models/**/_*__unit_tests.yml) need a built warehouse for column types."""
    outcome = dbt.invoke("test", Warehouse(real_db), extra_args=["--select", "test_type:unit"])
    assert outcome.success, [(n.name, n.message) for n in outcome.failed]
    unit_tests = [n for n in outcome.nodes if n.resource_type == "unit_test"]
    assert len(unit_tests) >= 14
    assert {n.status for n in unit_tests} == {"pass"}


def test_capture_statuses_have_one_definition() -> None:
    """The lifecycle's statuses: the macro family (macros/capture_events.sql), the wrapper's
    events writer (ledger.STATUSES) and the events model's accepted_values test agree."""
    macro = (PROJECT_DIR / "macros" / "capture_events.sql").read_text()
    [listed] = re.findall(r"return\(\[([^\]]*)\]\)", macro.split("macro capture_statuses")[1])
    assert tuple(name.strip(" '") for name in listed.split(",")) == ledger.STATUSES
    models = yaml.safe_load(
        (PROJECT_DIR / "models" / "staging" / "finra" / "_finra__models.yml").read_text()
    )
    [events] = [m for m in models["models"] if m["name"] == "stg_finra__capture_events"]
    assert tuple(invariants(events)["accepted_values"]["status"]) == ledger.STATUSES
