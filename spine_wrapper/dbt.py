"""The one place that invokes dbt: in-process through dbtRunner, results read from its result."""

from __future__ import annotations

import hashlib
import json
import os
import pprint
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import engines, resources
from .paths import PROJECT_DIR
from .warehouse import LockWait, Warehouse, lock_holder

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


# The environment variables profiles.yml reads that the wrapper sets per invocation.
DBT_ENVIRONMENT = (
    "SPINE_DB",
    "SPINE_TARGET",
    "SPINE_SPARK_DIR",
    "SPINE_SPARK_METHOD",
    "SPINE_SPARK_HOST",
    "SPINE_SPARK_PORT",
    "SPINE_SPARK_USER",
    "SPINE_THREADS",
    "DO_NOT_TRACK",
    resources.MEMORY_VARIABLE,
    resources.THREADS_VARIABLE,
)


def dbt_environment(warehouse: Warehouse, environ: Mapping[str, str]) -> dict[str, str]:
    """What profiles.yml reads for one invocation on `warehouse`, given the caller's
    environment `environ`: SPINE_DB, SPINE_TARGET; on Spark SPINE_SPARK_DIR and
    SPINE_SPARK_METHOD (`session`, or `thrift` with SPINE_SPARK_HOST, SPINE_SPARK_PORT and
    SPINE_SPARK_USER when one was given); SPINE_THREADS (the user's, else default_threads()
    on DuckDB), DuckDB's SPINE_MEMORY_LIMIT and SPINE_DUCKDB_THREADS
    (resources.duckdb_resources), DO_NOT_TRACK."""
    env = {"SPINE_DB": str(warehouse.path), "SPINE_TARGET": warehouse.target, "DO_NOT_TRACK": "1"}
    if warehouse.spark_dir is not None:
        env["SPINE_SPARK_DIR"] = str(warehouse.spark_dir)
    if warehouse.spark_method is not None:
        env["SPINE_SPARK_METHOD"] = warehouse.spark_method
    if warehouse.thrift is not None:
        env["SPINE_SPARK_HOST"] = warehouse.thrift.host
        env["SPINE_SPARK_PORT"] = str(warehouse.thrift.port)
        if warehouse.thrift.user:
            env["SPINE_SPARK_USER"] = warehouse.thrift.user
    if environ.get("SPINE_THREADS"):
        env["SPINE_THREADS"] = environ["SPINE_THREADS"]
    elif not warehouse.on_spark:
        env["SPINE_THREADS"] = str(default_threads())
    if not warehouse.on_spark:  # DuckDB's memory limit and worker threads, as the loader's
        sized = resources.duckdb_resources(environ).settings()
        env[resources.MEMORY_VARIABLE] = sized["memory_limit"]
        env[resources.THREADS_VARIABLE] = sized["threads"]
    return env


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """dbt-core reads env_var() from the process environment, and dbtRunner runs in this
    process: the one place the wrapper sets environment variables, for one invocation, and
    puts back what was there before."""
    saved = {key: os.environ.get(key) for key in DBT_ENVIRONMENT}
    for key in DBT_ENVIRONMENT:
        os.environ.pop(key, None)
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


STATE_FOLDER = ".spine"  # beside the warehouse: dbt's target and logs, per warehouse


def state_dir(location: Path) -> Path:
    """dbt's files for one warehouse (`location`: the DuckDB file, or the Spark dir):
    `<its folder>/.spine/<its name>-<hash of its path>`, with `target/` (manifest, run results,
    partial-parse state) and `logs/` (dbt.log) inside.

    Never in the dbt project (site-packages, once installed) nor the current directory, and
    two spine-dbt processes on different warehouses never share manifests or run results.
    """
    location = location.expanduser().resolve()
    digest = hashlib.sha256(str(location).encode()).hexdigest()[:10]
    return location.parent / STATE_FOLDER / f"{location.stem}-{digest}"


def target_path(warehouse: Warehouse) -> Path:
    """dbt's target folder (`--target-path`) for `warehouse`."""
    return state_dir(warehouse.location) / "target"


def log_path(warehouse: Warehouse) -> Path:
    """dbt's log folder (`--log-path`) for `warehouse`."""
    return state_dir(warehouse.location) / "logs"


# The vars that select which captures a build covers. They change with every run, but no
# model's parse depends on them: they are read only while executing (build_vars, behind
# `execute`). dbt re-parses the whole project whenever any --vars value changes
# (dbt-core issue 6323), which costs ~4 s a run; leaving these out of the parse state check
# keeps partial parsing between runs. Every other var still forces a full parse.
RUN_SELECTION_VARS = frozenset({"run_id", "start", "end", "tiers"})


# The dbt-core release (major, minor) whose internals the partial-parse shortcut below was
# written and tested against: `ManifestLoader.build_manifest_state_check` is no public API. On
# any other dbt-core the shortcut is off and dbt parses as it always does (in full whenever a
# --vars value changed): slower by a few seconds a run, never wrong.
PARTIAL_PARSE_SHORTCUT_DBT_CORE = (1, 11)


def dbt_core_version() -> str:
    """The installed dbt-core's version ("" when it cannot be told)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-core")
    except PackageNotFoundError:
        return ""


def partial_parse_shortcut_supported(dbt_core: str) -> bool:
    """Whether the shortcut into dbt-core's internals was made for this dbt-core version."""
    try:
        major, minor = (int(part) for part in dbt_core.split(".")[:2])
    except ValueError:  # "", "1", "1.x": unknown, so not supported
        return False
    return (major, minor) == PARTIAL_PARSE_SHORTCUT_DBT_CORE


@contextmanager
def _partial_parse_across_runs() -> Any:
    """While dbt checks whether its saved parse is still valid, hide the run-selection vars
    and the warehouse's location (LOCATION_KEYS), so that a new warehouse can start from
    another's parse (_shared_parse).

    Only on the dbt-core release it was made for (PARTIAL_PARSE_SHORTCUT_DBT_CORE), and only
    when that release still has the method it wraps; elsewhere dbt parses in full.
    """
    if not partial_parse_shortcut_supported(dbt_core_version()):
        yield
        return
    try:
        from dbt.parser import manifest
    except ImportError:
        manifest = None
    loader_class = getattr(manifest, "ManifestLoader", None)
    original = getattr(loader_class, "build_manifest_state_check", None)
    if loader_class is None or original is None:  # internals moved: dbt parses in full
        yield
        return

    def state_check(loader: Any) -> Any:
        config = loader.root_project
        cli_vars = config.cli_vars
        config.cli_vars = {k: v for k, v in cli_vars.items() if k not in RUN_SELECTION_VARS}
        try:
            check = original(loader)
        finally:
            config.cli_vars = cli_vars
        return replace(check, profile_hash=_profile_hash(config.credentials))

    loader_class.build_manifest_state_check = state_check
    try:
        yield
    finally:
        loader_class.build_manifest_state_check = original


# The connection details that only say where a warehouse is: dbt hashes every connection
# detail into its parse state (a changed one forces a full parse), but the parse reads none of
# these. The catalog name dbt-duckdb derives from the file's name (`database`) stays in.
LOCATION_KEYS = frozenset({"path"})


def _profile_hash(credentials: Any) -> Any:
    """dbt's profile hash (ManifestStateCheck.profile_hash, as dbt-core 1.11 computes it) of
    `credentials`' connection details, LOCATION_KEYS left out."""
    from dbt.contracts.files import FileHash

    keys = sorted((k, v) for k, v in credentials.connection_info() if k not in LOCATION_KEYS)
    return FileHash.from_contents(pprint.pformat(keys))


PARSE_FILE = "partial_parse.msgpack"  # dbt's saved parse, in its target folder


def shared_parse(warehouse: Warehouse) -> Path:
    """Where the last parse of the project for warehouses like `warehouse` is kept for the
    next new one: the user's cache folder (platformdirs; ~/.cache/spine-dbt on Linux), one
    file per checkout, target, dbt-core release and warehouse file name (the name gives
    dbt-duckdb its catalog name, which every relation of the parse carries)."""
    import platformdirs

    key = f"{PROJECT_DIR}|{warehouse.target}|{dbt_core_version()}"
    folder = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = Path(platformdirs.user_cache_dir("spine-dbt"))
    return cache / "parse" / folder / f"{warehouse.location.stem}.msgpack"


@contextmanager
def _shared_parse(warehouse: Warehouse) -> Iterator[None]:
    """A warehouse without a saved parse in its target folder (a new one) starts from the
    shared one, and leaves its own for the next. dbt checks it as it checks its own saved
    parse (every file's checksum, the vars, the connection details but the location):
    whatever differs, dbt parses again, so the copy can make a run faster, never wrong. Only
    with the partial-parse shortcut (its state check leaves the location out); a cache that
    cannot be read or written is skipped."""
    if not partial_parse_shortcut_supported(dbt_core_version()):
        yield
        return
    own, shared = target_path(warehouse) / PARSE_FILE, shared_parse(warehouse)
    with suppress(OSError):
        if not own.exists() and shared.exists():
            own.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(shared, own)  # its time too: written back only if dbt rewrites it
    yield
    with suppress(OSError):
        if own.exists() and (not shared.exists() or shared.stat().st_mtime < own.stat().st_mtime):
            shared.parent.mkdir(parents=True, exist_ok=True)
            partial = shared.with_name(f"{shared.name}.{os.getpid()}.tmp")
            shutil.copyfile(own, partial)
            os.replace(partial, shared)  # atomic: other processes read the old or the new


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


@contextmanager
def _quiet_lock_errors() -> Any:
    """Keep DuckDB's lock conflict (and dbt's traceback of it) off dbt's console output:
    `invoke` retries it and then raises one clear WarehouseBusy. dbt's log file keeps it."""
    try:
        from dbt.events import logging as dbt_logging
    except ImportError:
        dbt_logging = None
    original = getattr(dbt_logging, "get_stdout_config", None)
    if dbt_logging is None or original is None:  # another dbt-core: dbt prints it
        yield
        return

    def stdout_config(*args: Any, **kwargs: Any) -> Any:
        config = original(*args, **kwargs)
        shown = config.filter
        config.filter = lambda msg: shown(msg) and lock_holder(msg.info.msg) is None
        return config

    dbt_logging.get_stdout_config = stdout_config
    try:
        yield
    finally:
        dbt_logging.get_stdout_config = original


def invoke(
    command: str,
    warehouse: Warehouse,
    dbt_vars: dict[str, Any] | None = None,
    *,
    extra_args: list[str] | None = None,
    on_event: Callable[[Any], None] | None = None,
) -> DbtOutcome:
    """Run one dbt command (`build`, `run`, `docs generate`, ...) against `warehouse`, with
    its target (--target), dbt's state beside it (--target-path, --log-path, unless
    `extra_args` gives them) and `dbt_vars` as --vars.

    On a local Spark session the wrapper's own session is started first, so that dbt-spark's
    `getOrCreate()` shares it; on a Thrift server dbt opens its own connections. When dbt
    could not open the DuckDB file because another process holds it, before any node ran,
    the same invocation is retried for SPINE_LOCK_TIMEOUT seconds, then WarehouseBusy is
    raised.
    """
    if warehouse.spark_method == "session":
        engines.spark_session(warehouse.location)

    args = [
        *command.split(),
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        warehouse.target,
        "--quiet",  # callbacks still receive every event
        "--no-use-colors",
    ]
    given = set(extra_args or [])
    own_target = "--target-path" not in given
    if own_target:
        args += ["--target-path", str(target_path(warehouse))]
    if "--log-path" not in given:  # else dbt writes logs/ into the project or the current dir
        args += ["--log-path", str(log_path(warehouse))]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    args += extra_args or []
    env = dbt_environment(warehouse, os.environ)
    wait = LockWait(warehouse.path)
    with _shared_parse(warehouse) if own_target else nullcontext():
        while True:
            outcome, holder = _invoke_once(args, env, on_event)
            if holder is None or outcome.success or outcome.nodes:  # not refused before it ran
                return outcome
            wait.retry(holder)  # WarehouseBusy once the time is up
            wait.until_writable()  # poll cheaply rather than re-run dbt's parse each time


def _invoke_once(
    args: list[str], env: dict[str, str], on_event: Callable[[Any], None] | None
) -> tuple[DbtOutcome, str | None]:
    """One dbtRunner invocation: its outcome, and who held the DuckDB file if dbt could not
    open it (from the exception, or from an error event: `run-operation` reports it only so)."""
    from dbt.cli.main import dbtRunner

    holders: list[str] = []

    def watch(event: Any) -> None:
        holder = lock_holder(event.info.msg)
        if holder is not None:
            holders.append(holder)

    runner = dbtRunner(callbacks=[watch, on_event] if on_event else [watch])
    with _environment(env), _partial_parse_across_runs(), _quiet_lock_errors():
        try:
            result = runner.invoke(args)
        finally:
            _release_duckdb()
    outcome = _outcome(result)
    holder = lock_holder(outcome.exception or "") or next(iter(holders), None)
    return outcome, holder


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
