"""spine-dbt on a Spark cluster behind its SQL endpoint (`--spark-method thrift`), end to end.

One standalone cluster (scripts/spark-cluster: a master, two workers, the Thrift server) is
started for the module and one backfill of the three real OTC weeks is shared by every test,
all through `spine-dbt` commands configured only by the lines `scripts/spark-cluster up`
prints: the DOMAIN Acceptance figures, export parity with DuckDB, tasks run on the workers,
the busy error of a second writer (the lease kept in the warehouse), then a FINRA revision
of the last week landed and the week's published capture rolled back. This process never
starts a Spark session of its own: `engines.spark_session` is made to fail for the module.

Slow (a cluster start and a `dbt build` through the Thrift server, minutes on 2 cores):
marker `spark_cluster`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spine_wrapper import engines
from spine_wrapper.cli import main
from spine_wrapper.relations import PUBLIC_TABLES
from spine_wrapper.warehouse import Warehouse, locked

from .conftest import FINRA_DIR, require
from .test_spark import _as_dicts, _differing_rows, _latest_runs, revise_first_row
from .test_spark_cluster_script import (
    HOST,
    cluster_pids,
    cluster_ports,
    get_json,
    missing_for_cluster,
    port_free,
    run,
    script_env,
)

MISSING = missing_for_cluster()
pytestmark = [
    pytest.mark.spark_cluster,
    pytest.mark.skipif(MISSING is not None, reason=f"no Spark cluster here: {MISSING}"),
]

RANGE = ["--start", "2025-11-14", "--end", "2025-11-28", "--tier", "OTC"]
EXPORTED = [f"{table}.parquet" for table in PUBLIC_TABLES]


@dataclass(frozen=True)
class Cluster:
    folder: Path
    ports: dict[str, int]
    env: dict[str, str]  # what `up` said to export, plus the folder for dbt's state

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(
            Path("unused.duckdb"),
            "spark",
            Path(self.env["SPINE_SPARK_DIR"]),
            engines.ThriftServer(
                HOST,
                int(self.env["SPINE_SPARK_PORT"]),
                landing=Path(self.env["SPINE_SPARK_LANDING"]),
            ),
        )


def _printed_environment(output: str) -> dict[str, str]:
    """The `export A=1 B=2` line `scripts/spark-cluster up` prints."""
    (line,) = [line for line in output.splitlines() if line.strip().startswith("export ")]
    return dict(item.split("=", 1) for item in line.split()[1:])


def _java_children() -> set[int]:
    """The Java processes this test process started (a local Spark session's JVM)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == os.getpid() and b"java" in command:
            found.add(int(entry))
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The cluster, up for the module (2 GB for the Thrift server's driver, which plans
    every query of dbt's four threads); `down` at the end stops every process it started
    within a minute and frees every port."""
    folder = tmp_path_factory.mktemp("spark-cluster") / "cluster"
    ports = cluster_ports()
    env = {**script_env(ports), "SPINE_SPARK_DRIVER_MEMORY": "2g"}
    started = False
    try:
        up = run("up", "--dir", folder, env=env, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr
        started = True
        printed = _printed_environment(up.stdout)
        assert printed["SPINE_SPARK_METHOD"] == "thrift", up.stdout
        assert printed["SPINE_SPARK_LANDING"] == str(folder / "landing"), up.stdout
        assert f"spark://{HOST}:{ports['SPINE_SPARK_MASTER_PORT']}" in up.stdout
        printed["SPINE_SPARK_DIR"] = str(folder.parent / "spine-state")
        yield Cluster(folder, ports, printed)
    finally:
        stopping = time.monotonic()
        down = run("down", "--dir", folder, env=script_env(), timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert cluster_pids(folder, ports["SPINE_SPARK_MASTER_PORT"]) == []
        if started:
            assert time.monotonic() - stopping < 60
            assert [name for name, port in ports.items() if not port_free(port)] == []
            assert list((folder / "pids").iterdir()) == []
            status = run("status", "--dir", folder, env=script_env(ports))
            assert status.returncode == 3, status.stdout
            again = run("down", "--dir", folder, env=script_env(ports))
            assert again.returncode == 0 and "not running" in again.stdout, again.stdout


@pytest.fixture(scope="module", autouse=True)
def no_local_spark() -> Iterator[None]:
    """No private Spark on the thrift path: starting a session fails the test, and no JVM
    is started by this process."""

    def refuse(spark_dir: Path) -> None:
        raise AssertionError(f"a local Spark session was started ({spark_dir})")

    before = _java_children()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engines, "spark_session", refuse)
        yield
    assert _java_children() <= before


def _cli(cluster: Cluster, *args: str) -> Result:
    """`spine-dbt ARGS` configured by the environment `up` printed, as a user runs it."""
    return CliRunner(env=cluster.env).invoke(main, list(args), catch_exceptions=False)


def _ok(cluster: Cluster, *args: str) -> str:
    result = _cli(cluster, *args)
    assert result.exit_code == 0, result.output
    return result.output


def _export(cluster: Cluster, out: Path, *args: str) -> Path:
    _ok(cluster, "export", "--out", str(out), "--format", "parquet", *args)
    assert sorted(p.name for p in out.iterdir()) == sorted(EXPORTED)
    return out


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("cluster-source")
    for path in require(FINRA_DIR).glob("*.csv"):
        shutil.copy(path, source / path.name)
    return source


@pytest.fixture(scope="module")
def backfilled(source_dir: Path, cluster: Cluster) -> Cluster:
    """The three real OTC weeks, backfilled once on the cluster (skipped, before the cluster
    starts, without ../shared)."""
    output = _ok(cluster, "backfill", *RANGE, "--source-dir", str(source_dir), "--no-progress")
    weeks = [line.split() for line in output.splitlines() if line.startswith("2025-")]
    assert [(w[0], w[2], w[-1]) for w in weeks] == [
        ("2025-11-14", "new", "published"),
        ("2025-11-21", "new", "published"),
        ("2025-11-28", "new", "published"),
    ], output
    return cluster


@pytest.fixture(scope="module")
def exported(backfilled: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backfilled warehouse's public tables, exported once (each table is a query the
    cluster plans and runs) for the tests that read them before the revision."""
    return _export(backfilled, tmp_path_factory.mktemp("exported") / "cluster")


def test_status_and_plan_read_through_the_endpoint(backfilled: Cluster, source_dir: Path) -> None:
    status = _ok(backfilled, "status", *RANGE)
    assert status.count("✓1") == 3, status
    plan = _ok(backfilled, "plan", *RANGE, "--source-dir", str(source_dir))
    assert plan.count("up to date") == 3, plan


def test_acceptance_figures_on_the_cluster(exported: Path) -> None:
    out = exported
    captures = sorted(
        (
            str(r["week_ending"]),
            r["tier"],
            r["week_source"],
            r["status"],
            r["rows_read"],
            r["rows_accepted"],
            r["rows_rejected"],
        )
        for r in _as_dicts(out, "captures")
    )
    assert captures == [
        ("2025-11-14", "OTC", "publication_delay", "published", 5328, 5328, 0),
        ("2025-11-21", "OTC", "publication_delay", "published", 5192, 5192, 0),
        ("2025-11-28", "OTC", "publication_delay", "published", 4655, 4654, 1),
    ]
    rejects = _as_dicts(out, "rejects")
    assert [
        (Path(r["source_file"]).name, r["line_number"], r["reason_code"], r["reason_codes"])
        for r in rejects
    ] == [("finra_otc_weekly_otc_20251229.csv", 4656, "EMPTY_SYMBOL", "EMPTY_SYMBOL")]
    assert len(_as_dicts(out, "symbol_venue_share_latest")) == 15174
    venues = _as_dicts(out, "venue_share_latest")
    per_week = {
        str(w): sum(1 for r in venues if r["week_ending"] == w)
        for w in {r["week_ending"] for r in venues}
    }
    assert per_week == {"2025-11-14": 9, "2025-11-21": 9, "2025-11-28": 9}
    otcn = sorted(
        (r["week_ending"], r["market_share_pct"], r["rank"]) for r in venues if r["mpid"] == "OTCN"
    )
    assert [r[2] for r in otcn] == [1, 1, 1]
    assert [r[1] for r in otcn] == pytest.approx([0.821884, 0.809065, 0.798351], abs=1e-6)
    (aabb,) = [
        r
        for r in _as_dicts(out, "symbol_rolling_6w_latest")
        if r["symbol"] == "AABB" and str(r["week_ending"]) == "2025-11-28"
    ]
    assert aabb["avg_volume"] == pytest.approx(3871106.3333333, rel=1e-9)
    assert aabb["trend_direction"] == "DOWN"
    assert aabb["trend_pct"] == pytest.approx(-56.0515, abs=1e-4)
    assert (aabb["weeks_in_window"], aabb["is_complete"]) == (3, False)
    days = {
        str(r["week_ending"]): r["trading_days"] for r in _as_dicts(out, "research_snapshot_latest")
    }
    assert days == {"2025-11-14": 5, "2025-11-21": 5, "2025-11-28": 4}


def test_export_equals_duckdb_in_every_public_table(
    exported: Path, source_dir: Path, tmp_path: Path
) -> None:
    """The same files backfilled on DuckDB and on the cluster: 0 differing rows in every
    public table (ids and timestamps aside)."""
    db = tmp_path / "parity.duckdb"
    duckdb_env = {"SPINE_TARGET": "duckdb"}
    for args in (
        ["backfill", *RANGE, "--source-dir", str(source_dir), "--db", str(db), "--no-progress"],
        ["export", "--out", str(tmp_path / "duckdb"), "--format", "parquet", "--db", str(db)],
    ):
        result = CliRunner(env=duckdb_env).invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    for name in EXPORTED:
        assert _differing_rows(tmp_path / "duckdb" / name, exported / name) == [], name


def test_the_work_ran_on_the_workers(backfilled: Cluster) -> None:
    """The Thrift server's driver REST API: both executors (one a worker) completed tasks."""
    ui = backfilled.ports["SPINE_SPARK_UI_PORT"]
    (app,) = get_json(ui, "/api/v1/applications")
    executors = get_json(ui, f"/api/v1/applications/{app['id']}/executors")
    done = {e["id"]: e["completedTasks"] for e in executors if e["id"] != "driver"}
    assert len(done) == 2 and all(count > 0 for count in done.values()), done
    assert sum(done.values()) > 100, done  # the backfill's, not only `up`'s probe


def test_the_script_runs_spark_s_own_daemons(backfilled: Cluster) -> None:
    """scripts/spark-cluster: four daemons by PID file (each JVM with the serial collector),
    `up` again a no-op, the master ALIVE with two workers and the Thrift server's application
    and no REST port, and each worker's executor ran tasks of the backfill (the log in the
    worker's own work dir)."""
    folder, ports, env = backfilled.folder, backfilled.ports, script_env(backfilled.ports)
    assert sorted(p.name for p in (folder / "pids").iterdir()) == [
        "master.pid",
        "thriftserver.pid",
        "worker-1.pid",
        "worker-2.pid",
    ]
    status = run("status", "--dir", folder, env=env)
    assert status.returncode == 0 and status.stdout.count(" running  pid ") == 4, status.stdout
    for pid_file in (folder / "pids").iterdir():  # each JVM with the script's collector
        command = Path(f"/proc/{pid_file.read_text().strip()}/cmdline").read_bytes().split(b"\0")
        assert b"-XX:+UseSerialGC" in command, (pid_file.name, command)
    again = run("up", "--dir", folder, env=env)
    assert again.returncode == 0 and "already up" in again.stdout, again.stdout
    master = get_json(ports["SPINE_SPARK_MASTER_UI_PORT"], "/json/")
    assert master["status"] == "ALIVE" and master["aliveworkers"] == 2
    (app,) = [a for a in master["activeapps"] if a["name"] == "spine-spark-thriftserver"]
    assert "REST server" not in (folder / "logs" / "master.log").read_text()
    for worker, port_var in (
        ("worker-1", "SPINE_SPARK_WORKER1_UI_PORT"),
        ("worker-2", "SPINE_SPARK_WORKER2_UI_PORT"),
    ):
        (executor,) = [
            e for e in get_json(ports[port_var], "/json/")["executors"] if e["appid"] == app["id"]
        ]
        stderr = folder / "work" / worker / app["id"] / str(executor["id"]) / "stderr"
        assert "Running task" in stderr.read_text(), stderr


def test_a_second_writer_gets_the_busy_error(backfilled: Cluster, source_dir: Path) -> None:
    """The lease in raw.writer_leases stops a writer that shares no file with the holder."""
    with locked(backfilled.warehouse):
        result = _cli(backfilled, "backfill", *RANGE, "--source-dir", str(source_dir))
    assert result.exit_code == 2, result.output
    assert re.search(r"database busy \(held by PID \d+ on .+ since .+\): thrift://", result.output)
    assert "--wait" in result.output


def test_verify_reads_both_captures_marts_through_the_endpoint(backfilled: Cluster) -> None:
    warehouse = backfilled.warehouse
    assert warehouse.spark_dir is not None
    with engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark:
        rows = spark.to_arrow("select capture_id from raw.captures order by week_ending")
    first, second, _ = [row["capture_id"] for row in rows.to_pylist()]
    same = _cli(backfilled, "verify", "--capture-id", first, "--against", first)
    assert same.exit_code == 0 and "identical" in same.output, same.output
    other = _cli(backfilled, "verify", "--capture-id", first, "--against", second)
    assert other.exit_code == 1, other.output
    assert "finra_otc_transparency_symbol_summary  only in A" in other.output


def test_a_revision_lands_and_a_rollback_drops_partitions(
    backfilled: Cluster, source_dir: Path, tmp_path: Path
) -> None:
    """FINRA revises the last week: `load` lands it through the landing folder as a new
    capture (planned `revised`); rolling back the published capture of that week drops its
    partitions from every capture-keyed model on the cluster and leaves the other weeks
    latest. (Building a revision into the latest capture is the same dbt code on both Spark
    methods: test_spark.py builds one on the local session; a second build here would add
    minutes to the suite.)"""
    revise_first_row(source_dir / "finra_otc_weekly_otc_20251229.csv")
    plan = _ok(backfilled, "plan", *RANGE, "--source-dir", str(source_dir))
    plans = {line.split()[0]: line.split()[2] for line in plan.splitlines() if line[:3] == "202"}
    assert plans == {"2025-11-14": "up", "2025-11-21": "up", "2025-11-28": "revised"}, plan
    week = ["--start", "2025-11-28", "--end", "2025-11-28", "--tier", "OTC"]
    loaded = _ok(backfilled, "load", *week, "--source-dir", str(source_dir))
    (revision_run,) = re.findall(r"loaded run (run_\S+);", loaded)

    warehouse = backfilled.warehouse
    assert warehouse.spark_dir is not None
    with engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark:
        (published,) = spark.to_arrow(  # the backfill's capture of the week, published
            "select capture_id from raw.captures"
            f" where week_ending = date '2025-11-28' and run_id <> '{revision_run}'"
        ).to_pylist()
    rolled = _ok(backfilled, "rollback", "--capture-id", published["capture_id"], "--yes")
    assert "2025-11-28: none published" in rolled, rolled

    out = _export(backfilled, tmp_path / "rolled_back")
    assert sorted((str(c["week_ending"]), c["status"]) for c in _as_dicts(out, "captures")) == [
        ("2025-11-14", "published"),
        ("2025-11-21", "published"),
        ("2025-11-28", "loaded"),
        ("2025-11-28", "rolled_back"),
    ]
    assert sorted({str(r["week_ending"]) for r in _latest_runs(out)}) == [
        "2025-11-14",
        "2025-11-21",
    ]
    with engines.endpoint(warehouse.spark_dir, warehouse.thrift) as spark:
        left = spark.to_arrow(
            "select count(*) as n from main.finra_otc_transparency_symbol_summary"
            f" where capture_id = '{published['capture_id']}'"
        ).to_pylist()
        landed = spark.to_arrow(
            "select c.rows_read, count(r.line_number) as n from raw.captures as c"
            " join raw.finra_rows as r on r.capture_id = c.capture_id"
            f" where c.run_id = '{revision_run}' group by c.rows_read"
        ).to_pylist()
    assert left == [{"n": 0}]
    assert landed == [{"rows_read": 4655, "n": 4655}]
