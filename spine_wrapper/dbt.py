"""The one place that invokes dbt: in-process through dbtRunner, results read from its result."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import engines
from .paths import PROJECT_DIR
from .warehouse import current_target

ERROR_STATUSES = {"error", "fail", "runtime error"}


@dataclass
class NodeResult:
    """One dbt node's outcome, as dbt reported it."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    failures: int | None
    message: str | None
    compiled_sql: str | None = None


@dataclass
class DbtOutcome:
    """What a dbt invocation did: success flag, every node's result, the exception if any."""

    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    exception: str | None = None

    @property
    def failed(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status in ERROR_STATUSES]

    @property
    def warned(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status == "warn"]


def default_threads() -> int:
    """dbt threads on DuckDB when SPINE_THREADS is unset: one per core, 2 to 8."""
    return max(2, min(8, os.cpu_count() or 2))


@contextmanager
def _environment(db_path: Path, target: str) -> Any:
    keys = ("SPINE_DB", "SPINE_TARGET", "SPINE_SPARK_DIR", "SPINE_THREADS", "DO_NOT_TRACK")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update({"SPINE_DB": str(db_path), "SPINE_TARGET": target, "DO_NOT_TRACK": "1"})
    if target == "duckdb" and not saved["SPINE_THREADS"]:
        os.environ["SPINE_THREADS"] = str(default_threads())
    spark_dir = current_target().spark_dir
    if spark_dir is not None:
        os.environ["SPINE_SPARK_DIR"] = str(spark_dir)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def target_path(db_path: Path) -> Path:
    """dbt's target folder for one warehouse: `target/<db name>-<hash of its path>`.

    Two spine-dbt processes on different warehouses never share manifests or run results.
    """
    spark_dir = current_target().spark_dir if current_target().name == "spark" else None
    if spark_dir is not None:  # the Spark warehouse is the dir, whatever --db says
        db_path = spark_dir
    digest = hashlib.sha256(str(db_path).encode()).hexdigest()[:10]
    return PROJECT_DIR / "target" / f"{db_path.stem}-{digest}"


# The vars that select which captures a build covers. They change with every run, but no
# model's parse depends on them: they are read only while executing (build_vars, behind
# `execute`). dbt re-parses the whole project whenever any --vars value changes
# (dbt-core issue 6323), which costs ~4 s a run; leaving these out of the parse state check
# keeps partial parsing between runs. Every other var still forces a full parse.
RUN_SELECTION_VARS = frozenset({"run_id", "start", "end", "tiers"})


@contextmanager
def _partial_parse_across_runs() -> Any:
    """While dbt checks whether its saved parse is still valid, hide the run-selection vars."""
    try:
        from dbt.parser import manifest
    except ImportError:
        manifest = None
    loader_class = getattr(manifest, "ManifestLoader", None)
    original = getattr(loader_class, "build_manifest_state_check", None)
    if loader_class is None or original is None:  # another dbt-core: dbt parses in full
        yield
        return

    def state_check(loader: Any) -> Any:
        config = loader.root_project
        cli_vars = config.cli_vars
        config.cli_vars = {k: v for k, v in cli_vars.items() if k not in RUN_SELECTION_VARS}
        try:
            return original(loader)
        finally:
            config.cli_vars = cli_vars

    loader_class.build_manifest_state_check = state_check
    try:
        yield
    finally:
        loader_class.build_manifest_state_check = original


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open after an in-process run; close it so others can write."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def invoke(
    command: str,
    db_path: Path,
    dbt_vars: dict[str, Any] | None = None,
    *,
    target: str | None = None,
    extra_args: list[str] | None = None,
    on_event: Callable[[Any], None] | None = None,
) -> DbtOutcome:
    """Run one dbt command (`build`, `run`, `docs generate`, ...) against `db_path`.

    `target` defaults to the process's (warehouse.use_target). On Spark the wrapper's own
    session is started first, so that dbt-spark's `getOrCreate()` shares it.
    """
    from dbt.cli.main import dbtRunner

    target = target or current_target().name
    spark_dir = current_target().spark_dir
    if target == "spark" and spark_dir is not None:
        engines.spark_session(spark_dir)

    args = [
        *command.split(),
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        target,
        "--quiet",  # callbacks still receive every event
        "--no-use-colors",
    ]
    if not any(arg == "--target-path" for arg in extra_args or []):
        args += ["--target-path", str(target_path(db_path))]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    args += extra_args or []
    runner = dbtRunner(callbacks=[on_event] if on_event else [])
    with _environment(db_path, target), _partial_parse_across_runs():
        try:
            result = runner.invoke(args)
        finally:
            _release_duckdb()
    return _outcome(result)


def _outcome(result: Any) -> DbtOutcome:
    nodes: list[NodeResult] = []
    for item in getattr(result.result, "results", None) or []:
        node = getattr(item, "node", None)
        if node is None:  # run-operation results carry no node
            continue
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(item.status),
                failures=item.failures,
                message=item.message,
                compiled_sql=getattr(node, "compiled_code", None),
            )
        )
    exception = str(result.exception) if result.exception else None
    return DbtOutcome(success=bool(result.success), nodes=nodes, exception=exception)
