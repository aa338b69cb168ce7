"""Where a backfill's time goes on each engine: DuckDB, a local Spark session, a Spark cluster.

    python bench/engines.py [--work DIR] [--weeks 26] [--targets duckdb,session,thrift]

For each target, backfills into a new warehouse (1) the three real OTC files of
../shared/data/finra (skipped when ../shared is absent) and (2) N generated weeks x 3 tiers
(`spine-dbt generate`, realistic scale), and prints for each: the wall time, the run report's
stages (plan: discover, identify, digest; load; build) and dbt's time by node family (models,
tests, seeds) with the slowest nodes, from dbt's run_results.json. `thrift` starts the
two-worker standalone cluster of scripts/spark-cluster (a new one for each backfill, so each
starts empty) and backfills through its Thrift server exactly as the README's cluster commands
do; `session` is the in-process local Spark session. The Spark targets need the [spark] extra
and Java. Node times add up to more than the build's wall time: dbt runs nodes in threads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from backfill import generate  # bench/backfill.py: the benchmark's generated files, kept

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
BIN = Path(sys.executable).parent
SPINE = str(BIN / "spine-dbt")
CLUSTER = str(PROJECT / "scripts" / "spark-cluster")
FINRA_DIR = PROJECT.parent / "shared" / "data" / "finra"
REAL = ("real: 3 OTC weeks", date(2025, 11, 14), date(2025, 11, 28), "OTC")
GENERATED_END = date(2025, 12, 26)
TARGETS = ("duckdb", "session", "thrift")


def run(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 1)) -> str:
    """Run a command (a backfill exits 1 when a week fails); its output, or exit naming it."""
    done = subprocess.run(
        args, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}")
    return done.stdout


def cluster_up(folder: Path) -> dict[str, str]:
    """Start the cluster in `folder`; the variables its `up` says to export."""
    output = run([CLUSTER, "up", "--dir", str(folder)], {}, ok=(0,))
    (line,) = [line for line in output.splitlines() if line.strip().startswith("export ")]
    return dict(item.split("=", 1) for item in line.split()[1:])


def node_times(target_dir: Path) -> tuple[dict[str, float], list[tuple[float, str]]]:
    """dbt's seconds by node family and the five slowest nodes of the last build."""
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    families: dict[str, float] = {}
    for result in results:
        kind = result["unique_id"].split(".", 1)[0]
        families[kind] = families.get(kind, 0.0) + result["execution_time"]
    slowest = sorted((r["execution_time"], r["unique_id"].split(".")[2]) for r in results)
    return families, slowest[::-1][:5]


def backfill(
    target: str, case: tuple[str, date, date, str], source: Path, work: Path
) -> dict[str, object]:
    """One backfill of `case` on `target` into a new warehouse under `work`."""
    from spine_wrapper import dbt, engines
    from spine_wrapper.warehouse import Warehouse

    name, start, end, tier = case
    folder = work / f"{target}-{name.split(':')[0]}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env: dict[str, str] = {}
    if target == "duckdb":
        warehouse = Warehouse(folder / "w.duckdb")
        env = {"SPINE_TARGET": "duckdb", "SPINE_DB": str(warehouse.path)}
    elif target == "session":
        warehouse = Warehouse(folder / "unused.duckdb", "spark", folder / "spark")
        env = {"SPINE_TARGET": "spark", "SPINE_SPARK_DIR": str(folder / "spark")}
    else:
        env = {**cluster_up(folder / "cluster"), "SPINE_SPARK_DIR": str(folder / "state")}
        server = engines.ThriftServer(env["SPINE_SPARK_HOST"], int(env["SPINE_SPARK_PORT"]))
        warehouse = Warehouse(folder / "unused.duckdb", "spark", folder / "state", server)
    report = folder / "run.json"
    args = [SPINE, "backfill", "--start", start.isoformat(), "--end", end.isoformat()]
    args += ["--tier", tier, "--source-dir", str(source), "--no-progress", "--yes"]
    args += ["--report", str(report)]
    try:
        started = time.monotonic()
        run(args, env)
        wall = time.monotonic() - started
    finally:
        if target == "thrift":
            run([CLUSTER, "down", "--dir", str(folder / "cluster")], {})
    payload = json.loads(report.read_text())
    families, slowest = node_times(dbt.target_path(warehouse))
    return {
        "wall_s": round(wall, 1),
        "stages_s": payload["timings_s"],
        "published": sum(p["status"] == "published" for p in payload["partitions"]),
        "partitions": len(payload["partitions"]),
        "node_s": {kind: round(seconds, 1) for kind, seconds in families.items()},
        "slowest": [(round(seconds, 1), node) for seconds, node in slowest],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/spine-bench-engines"))
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    generated = generate(args.work / f"files_{args.weeks}", args.weeks, GENERATED_END, "realistic")
    first = date.fromordinal(GENERATED_END.toordinal() - 7 * (args.weeks - 1))
    cases = [((f"generated: {args.weeks} weeks x 3 tiers", first, GENERATED_END, "all"), generated)]
    if FINRA_DIR.exists():
        cases.insert(0, (REAL, FINRA_DIR))
    print(f"spine-dbt on each engine, {os.cpu_count()} cores")
    for target in targets:
        for case, source in cases:
            figures = backfill(target, case, source, args.work)
            stages = ", ".join(f"{k} {v:.1f} s" for k, v in figures["stages_s"].items())
            nodes = ", ".join(f"{k} {v} s" for k, v in figures["node_s"].items())
            print(
                f"{target:8} {case[0]:32} {figures['wall_s']:7.1f} s  ({stages}),"
                f" {figures['published']}/{figures['partitions']} published"
            )
            print(f"{'':41} dbt node time: {nodes}")
            print(f"{'':41} slowest: " + ", ".join(f"{n} {s} s" for s, n in figures["slowest"]))


if __name__ == "__main__":
    main()
