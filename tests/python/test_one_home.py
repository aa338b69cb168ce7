"""One home per concept, checked: every Click option declared once, dbt's environment built in
one place, no module-level mutable state, and the relation registry held to the dbt project's
own manifest (what the macros served_marts() and capture_keyed_models() find)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from spine_wrapper import dbt, relations
from spine_wrapper.paths import PROJECT_DIR
from spine_wrapper.warehouse import RAW_DDL, Warehouse

PACKAGE = PROJECT_DIR / "spine_wrapper"
MODULES = sorted(PACKAGE.glob("*.py"))


def test_every_option_is_declared_once_in_options_py() -> None:
    """`click.option(` only in options.py, and there each option name once."""
    elsewhere = [
        p.name for p in MODULES if "click.option(" in p.read_text() and p.name != "options.py"
    ]
    assert elsewhere == []
    names = re.findall(r'click\.option\(\s*"(--[a-z-]+)', (PACKAGE / "options.py").read_text())
    assert len(names) > 30
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_the_cli_uses_the_declared_options() -> None:
    """Every command's options resolve to the one declaration: the same help wherever an
    option appears (two declarations would drift)."""
    from spine_wrapper.cli import main

    helps: dict[str, set[str]] = {}
    for command in main.commands.values():
        for param in command.params:
            if param.opts[0].startswith("--") and param.opts[0] not in ("--out", "--help"):
                helps.setdefault(param.opts[0], set()).add(str(getattr(param, "help", "")))
    assert {"--json", "--db", "--tier", "--start", "--yes", "--wait"} <= set(helps)
    assert {name: found for name, found in helps.items() if len(found) > 1} == {}


def test_the_environment_is_written_in_one_place() -> None:
    """`os.environ[` (a write) only in dbt.py's _environment; no `global` statement anywhere."""
    writes = {
        p.name: [n for n, line in enumerate(p.read_text().splitlines(), 1) if "os.environ[" in line]
        for p in MODULES
    }
    assert {name: lines for name, lines in writes.items() if lines and name != "dbt.py"} == {}
    source = (PACKAGE / "dbt.py").read_text()
    tree = ast.parse(source)
    home = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "_environment"
    )
    assert all(home.lineno <= n <= home.end_lineno for n in writes["dbt.py"]), writes["dbt.py"]
    for path in MODULES:
        globals_ = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Global)]
        assert globals_ == [], path.name


def test_dbt_environment_is_built_per_invocation() -> None:
    duck = Warehouse(Path("/tmp/a.duckdb"))
    spark = Warehouse(Path("/tmp/a.duckdb"), "spark", Path("/tmp/spark"))
    env = dbt.dbt_environment(duck, {})
    assert env["SPINE_DB"] == "/tmp/a.duckdb" and env["SPINE_TARGET"] == "duckdb"
    assert "SPINE_SPARK_DIR" not in env and int(env["SPINE_THREADS"]) >= 2
    assert dbt.dbt_environment(duck, {"SPINE_THREADS": "3"})["SPINE_THREADS"] == "3"
    env = dbt.dbt_environment(spark, {})
    assert env["SPINE_TARGET"] == "spark" and env["SPINE_SPARK_DIR"] == "/tmp/spark"
    assert "SPINE_THREADS" not in env  # the profile's Spark default
    assert set(env) <= set(dbt.DBT_ENVIRONMENT)
    with pytest.raises(ValueError, match="needs a --spark-dir"):
        Warehouse(Path("x"), "spark")


def _models(manifest: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def test_every_registered_relation_is_a_model_of_its_schema(manifest: dict) -> None:
    models = _models(manifest)
    qualified = [
        value
        for name, value in vars(relations).items()
        if name.isupper() and isinstance(value, str) and value.count(".") == 1
    ]
    assert len(qualified) >= 14
    for relation in qualified:
        schema, name = relation.split(".")
        if schema == "raw":  # written by the wrapper and dbt's on-run-end, declared in RAW_DDL
            assert any(f"raw.{name} (" in statement for statement in RAW_DDL), relation
            continue
        assert name in models, relation
        assert models[name]["schema"] == schema, relation
    for name in (*relations.CAPTURE_KEYED_MARTS, *relations.PUBLIC_TABLES):
        assert models[name]["schema"] == relations.MARTS_SCHEMA, name


def test_the_registry_lists_what_the_project_defines(manifest: dict) -> None:
    """The same sets the macros derive from the graph (macros/publication_gate.sql)."""
    models = _models(manifest)
    by_id = {node["unique_id"]: node for node in models.values()}
    marts = {name for name, node in models.items() if "marts" in node["fqn"]}
    keyed_marts = {
        name
        for name in marts
        if models[name]["config"]["materialized"] in ("incremental", "table")
        and "capture_id" in models[name]["columns"]
    }
    served = {
        by_id[parent]["name"]
        for name, node in models.items()
        if name.endswith(relations.LATEST_SUFFIX)
        for parent in node["depends_on"]["nodes"]
        if parent in by_id and by_id[parent]["name"] in keyed_marts
    }
    assert set(relations.SERVED_MARTS) == served
    assert set(relations.CAPTURE_KEYED_MARTS) == keyed_marts
    assert set(relations.PUBLIC_TABLES) == marts - served
    reports = {n for n, node in models.items() if node["schema"] == relations.REPORTS_SCHEMA}
    registered = {
        value.split(".")[1]
        for value in vars(relations).values()
        if isinstance(value, str) and value.startswith(relations.REPORTS_SCHEMA + ".")
    }
    assert registered == reports
