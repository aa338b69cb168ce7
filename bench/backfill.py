"""Benchmark of spine-dbt at FINRA scale; prints a table and writes bench/results.json.

    python bench/backfill.py [--work DIR] [--runs 3] [--full-runs 3] [--weeks 156]
                             [--duckdb-threads N] [--write-results]

Measures, on this machine, in one run:
  1. the full backfill of N weeks x 3 tiers of realistic files (wall time, rows/s, peak RSS,
     and its stages from the run report: plan (discover, identify, digest), load, build);
  2. the same computation as one lean hand-written DuckDB script (bench/handwritten.sql:
     DuckDB's CSV reader, one pass per stage), the practical lower bound, and the ratio; then
     checks that both give the same numbers: every mart the script computes against the
     warehouse's `_latest` view (and the rejects), EXCEPT ALL both ways on keys and values;
  3. one new week on top of the N-week history vs the same week on a 5-week history;
  4. dbt's fixed cost: a backfill of one tiny week, and how many nodes its `dbt build` ran;
  5. `status` and `plan` on the N-week warehouse.
Each figure is the median of --runs runs (the full backfill and the script run --full-runs
times). Targets print PASS/FAIL; ratios are the targets, since absolute times vary by machine.
--duckdb-threads N sets SPINE_DUCKDB_THREADS for every spine-dbt run (and the script's DuckDB
threads), so a 2-core machine can reproduce a big machine's setting.
bench/results.json is written by the default run only (156 weeks, 3 runs, 3 full runs, DuckDB
threads as the machine gives them) or when --write-results asks for it, so that a trial run
never replaces the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from spine_wrapper.dbt import state_dir
from spine_wrapper.paths import SEEDS_DIR
from spine_wrapper.relations import CAPTURES, LATEST_SUFFIX, REJECTS, SERVED_MARTS, in_marts

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SPINE = str(BIN / "spine-dbt")
END = date(2025, 12, 26)
NEXT = END + timedelta(days=7)
GIB = 1024**3
DEFAULTS = {"weeks": 156, "runs": 3, "full_runs": 3}
MARTS_PREFIX = "finra_otc_transparency_"

# What the hand-written script's tables must hold, as in the warehouse's marts: each table
# (named as its mart, without the prefix) with its keys and its values. Capture ids and
# timestamps are the warehouse's own; input_capture_ids are capture ids.
WEEK_TIER = ("week_ending", "tier")
SYMBOL = (*WEEK_TIER, "symbol")
COMPARED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "symbol_summary": (
        SYMBOL,
        ("issue_name", "total_volume", "total_trades", "venue_count", "avg_trade_size"),
    ),
    "venue_share": (
        (*WEEK_TIER, "venue_type", "mpid"),
        (
            "venue_name",
            "total_volume",
            "total_trades",
            "symbol_count",
            "market_share_pct",
            "venue_type_share",
            "rank",
        ),
    ),
    "symbol_venue_share": (
        (*SYMBOL, "venue_type", "mpid"),
        ("venue_name", "total_shares", "total_trades", "avg_trade_size", "venue_share"),
    ),
    "symbol_concentration": (
        SYMBOL,
        ("venue_count", "hhi", "top_mpid", "top_venue_share", "top3_share"),
    ),
    "symbol_rolling_6w": (
        SYMBOL,
        (
            "avg_volume",
            "avg_trades",
            "min_volume",
            "max_volume",
            "trend_pct",
            "trend_direction",
            "weeks_in_window",
            "is_complete",
        ),
    ),
    "liquidity_score": ((*SYMBOL, "calc_name", "calc_version"), ("liquidity_score",)),
    "research_snapshot": (
        SYMBOL,
        (
            "issue_name",
            "total_volume",
            "total_trades",
            "venue_count",
            "avg_trade_size",
            "rolling_avg_volume",
            "rolling_avg_trades",
            "rolling_trend_pct",
            "rolling_trend_direction",
            "rolling_weeks_in_window",
            "rolling_is_complete",
            "has_rolling_data",
            "hhi",
            "top_mpid",
            "top_venue_share",
            "top3_share",
            "liquidity_calc_version",
            "liquidity_score",
            "trading_days",
            "volume_per_trading_day",
        ),
    ),
    # not served by a `_latest` view: the rows of the published captures
    "rejects": ((*WEEK_TIER, "line_number"), ("reason_code", "raw_line")),
}


def measure(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS bytes of it and its children, output)."""
    started = time.monotonic()
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed:\n{output[-3000:]}")
    return elapsed, usage.ru_maxrss * 1024, output


def median_of(runs: int, make: callable) -> tuple[float, int]:
    results = [make(i) for i in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def generate(out: Path, weeks: int, end: date, scale: str) -> Path:
    if not out.exists():
        subprocess.run(
            [
                SPINE,
                "generate",
                "--weeks",
                str(weeks),
                "--tier",
                "all",
                "--end",
                end.isoformat(),
                "--scale",
                scale,
                "--out",
                str(out),
            ],
            check=True,
        )
    return out


def backfill(db: Path, source: Path, start: date, end: date, *extra: str) -> list[str]:
    return [
        SPINE,
        "backfill",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--tier",
        "all",
        "--source-dir",
        str(source),
        "--db",
        str(db),
        "--no-progress",
        "--yes",
        *extra,
    ]


def fresh(path: Path) -> Path:
    for suffix in ("", ".wal", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def compare_marts(hand_db: Path, warehouse_db: Path) -> dict[str, tuple[int, int]]:
    """For each table of COMPARED: how many rows of the hand-written script's table the
    warehouse lacks, and how many of the warehouse's the script lacks, on keys and values:
    the counts of `script EXCEPT ALL warehouse` and `warehouse EXCEPT ALL script`, computed in
    one grouping of both sides (two EXCEPT ALLs take five times as long on the venue rows).
    The warehouse side is each mart's `_latest` view (the rejects: the published captures'
    rows). Both files are attached read-only to one in-memory DuckDB, each under its own name
    (the warehouse's views name their relations by schema only)."""
    if hand_db.stem == warehouse_db.stem:
        raise SystemExit(f"{hand_db} and {warehouse_db} need different names to be attached")
    served = {mart.removeprefix(MARTS_PREFIX) for mart in SERVED_MARTS}
    if served - COMPARED.keys():
        raise SystemExit(f"marts the comparison leaves out: {sorted(served - COMPARED.keys())}")
    hand, warehouse = f'"{hand_db.stem}"', f'"{warehouse_db.stem}"'
    published = (
        f"select capture_id from {warehouse}.{in_marts(CAPTURES)} where status = 'published'"
    )
    counts: dict[str, tuple[int, int]] = {}
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.execute(f"attach '{hand_db}' as {hand} (read_only)")
        con.execute(f"attach '{warehouse_db}' as {warehouse} (read_only)")
        for table, (keys, values) in COMPARED.items():
            columns = ", ".join((*keys, *values))
            if table in served:
                mart = in_marts(MARTS_PREFIX + table + LATEST_SUFFIX)
                theirs = f"select {columns} from {warehouse}.{mart}"
            else:
                assert MARTS_PREFIX + table == REJECTS, table
                mart = in_marts(REJECTS)
                theirs = (
                    f"select {columns} from {warehouse}.{mart} where capture_id in ({published})"
                )
            ours = f"select {columns} from {hand}.main.{table}"
            only_ours, only_theirs = con.execute(
                f"""
                with both_sides as (
                    select {columns}, 1 as ours, 0 as theirs from ({ours})
                    union all
                    select {columns}, 0 as ours, 1 as theirs from ({theirs})
                ),
                counted as (
                    select sum(ours) as ours, sum(theirs) as theirs
                    from both_sides
                    group by {columns}
                )
                select
                    coalesce(sum(greatest(ours - theirs, 0)), 0),
                    coalesce(sum(greatest(theirs - ours, 0)), 0)
                from counted
                """
            ).fetchone()
            counts[table] = (int(only_ours), int(only_theirs))
    return counts


def dbt_build_nodes(db: Path) -> dict[str, int]:
    """The nodes the last `dbt build` on warehouse `db` ran, by resource type, from dbt's
    run_results.json in the warehouse's dbt target folder (spine_wrapper.dbt.target_path)."""
    run_results = json.loads((state_dir(db) / "target" / "run_results.json").read_text())
    if run_results.get("args", {}).get("which") != "build":
        raise SystemExit(f"the last dbt command on {db} was not a build")
    kinds: dict[str, int] = {}
    for result in run_results["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/spine-bench"))
    parser.add_argument("--weeks", type=int, default=DEFAULTS["weeks"])
    parser.add_argument("--runs", type=int, default=DEFAULTS["runs"])
    parser.add_argument("--full-runs", type=int, default=DEFAULTS["full_runs"])
    parser.add_argument("--duckdb-threads", type=int, default=None)
    parser.add_argument(
        "--write-results",
        action="store_true",
        help="write bench/results.json even though this is not the default run",
    )
    args = parser.parse_args()
    default_run = args.duckdb_threads is None and all(
        getattr(args, name) == value for name, value in DEFAULTS.items()
    )
    if args.duckdb_threads:
        os.environ["SPINE_DUCKDB_THREADS"] = str(args.duckdb_threads)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    start = END - timedelta(days=7 * (args.weeks - 1))
    files = generate(work / f"files_{args.weeks}", args.weeks, END, "realistic")
    extra = generate(work / "next_week", 1, NEXT, "realistic")
    tiny = generate(work / "tiny", 1, END, "small")
    rows = sum(sum(1 for _ in f.open()) - 1 for f in sorted(files.iterdir()))
    results: dict[str, object] = {"weeks": args.weeks, "rows": rows, "cores": os.cpu_count()}

    # 1. the full backfill
    full_db = work / "full.duckdb"

    stages: list[dict[str, float]] = []

    def full_run(_: int) -> tuple[float, int]:
        report = work / "full_run.json"
        elapsed, rss, _out = measure(
            backfill(fresh(full_db), files, start, END, "--report", str(report))
        )
        stages.append(json.loads(report.read_text())["timings_s"])
        return elapsed, rss

    full_s, full_rss = median_of(args.full_runs, full_run)
    stage_s = {
        name: statistics.median(run[name] for run in stages) for name in ("plan", "load", "build")
    }
    results["full_backfill"] = {
        "seconds": full_s,
        "rows_s": rows / full_s,
        "peak_rss": full_rss,
        "stages_s": stage_s,
        "duckdb_threads": args.duckdb_threads or os.cpu_count(),
    }

    # 2. the hand-written DuckDB script over the same files, then its numbers against the
    # warehouse's (before step 3 adds a week to the warehouse)
    script = work / "handwritten.py"
    script.write_text(
        "import duckdb, sys\n"
        "files = sorted(str(p) for p in __import__('pathlib').Path(sys.argv[1]).iterdir())\n"
        f"sql = open({str(HERE / 'handwritten.sql')!r}).read()\n"
        "sql = sql.replace('{files}', '[' + ', '.join(repr(f) for f in files) + ']')\n"
        f"sql = sql.replace('{{nyse_holidays}}', {str(SEEDS_DIR / 'nyse_holidays.csv')!r})\n"
        "from spine_wrapper.resources import duckdb_resources\n"
        "import os\n"
        "con = duckdb.connect(sys.argv[2], config=duckdb_resources(os.environ).settings())\n"
        "con.execute(sql)\n"
        "con.close()\n"
    )
    hand_db = work / "handwritten.duckdb"
    hand_s, hand_rss = median_of(
        args.full_runs,
        lambda _: measure([sys.executable, str(script), str(files), str(fresh(hand_db))])[:2],
    )
    results["handwritten_script"] = {"seconds": hand_s, "peak_rss": hand_rss}
    differing = compare_marts(hand_db, full_db)
    differing_rows = sum(a + b for a, b in differing.values())
    results["marts_vs_script"] = {
        table: {"only_in_script": a, "only_in_warehouse": b} for table, (a, b) in differing.items()
    }

    # 3. one new week on the full history vs on a 5-week history
    small_db = fresh(work / "five_weeks.duckdb")
    measure(backfill(small_db, files, END - timedelta(days=28), END))
    on_full, _ = median_of(
        args.runs, lambda _: measure(backfill(full_db, extra, NEXT, NEXT, "--force"))[:2]
    )
    on_small, _ = median_of(
        args.runs, lambda _: measure(backfill(small_db, extra, NEXT, NEXT, "--force"))[:2]
    )
    results["one_week"] = {"on_full_history_s": on_full, "on_5_weeks_s": on_small}

    # 4. dbt's fixed cost: one tiny week on a fresh warehouse
    tiny_s, _ = median_of(
        args.runs, lambda i: measure(backfill(fresh(work / f"tiny{i}.duckdb"), tiny, END, END))[:2]
    )
    nodes_by_type = dbt_build_nodes(work / "tiny0.duckdb")
    # dbt's nodes (models, tests, seeds, snapshots), as its "Found ..." line counts them; the
    # project's two hooks (on-run-start/end, `operation` results) are shown beside them.
    nodes = sum(count for kind, count in nodes_by_type.items() if kind != "operation")
    results["tiny_week_s"] = tiny_s
    results["dbt_build_nodes"] = {"total": nodes, **nodes_by_type}

    # 5. status and plan on the full warehouse
    status_s, _ = median_of(
        args.runs,
        lambda _: measure(
            [
                SPINE,
                "status",
                "--start",
                start.isoformat(),
                "--end",
                END.isoformat(),
                "--db",
                str(full_db),
                "--yes",
            ]
        )[:2],
    )
    plan_s, _ = median_of(
        args.runs,
        lambda _: measure(
            [
                SPINE,
                "plan",
                "--start",
                start.isoformat(),
                "--end",
                END.isoformat(),
                "--tier",
                "all",
                "--source-dir",
                str(files),
                "--db",
                str(full_db),
                "--yes",
            ]
        )[:2],
    )
    results["status_s"], results["plan_s"] = status_s, plan_s

    targets = [
        ("full backfill <= 2.0 x the lean hand-written script", full_s / hand_s, 2.0),
        ("marts equal to the lean script's: 0 differing rows", differing_rows, 0),
        ("one week on history <= 1.3 x on 5 weeks", on_full / on_small, 1.3),
        ("peak RSS of the full backfill <= 2 GiB", full_rss / GIB, 2.0),
        ("status <= 2 s", status_s, 2.0),
        ("plan <= 2 s", plan_s, 2.0),
        ("dbt build nodes per backfill <= 80", nodes, 80),
    ]
    results["targets"] = [
        {"target": name, "value": round(value, 3), "limit": limit, "pass": value <= limit}
        for name, value, limit in targets
    ]
    table = [
        ("rows", f"{rows:,}"),
        (
            "full backfill",
            f"{full_s:.1f} s, {rows / full_s:,.0f} rows/s, peak RSS {full_rss / GIB:.2f} GiB",
        ),
        (
            "  of which plan / load / build",
            " / ".join(f"{stage_s[name]:.1f} s" for name in ("plan", "load", "build"))
            + f" (plan+load {(stage_s['plan'] + stage_s['load']) / full_s:.0%} of the run)",
        ),
        ("hand-written DuckDB script", f"{hand_s:.1f} s (peak RSS {hand_rss / GIB:.2f} GiB)"),
        (
            "marts vs the script (differing rows)",
            ", ".join(f"{table} {a}/{b}" for table, (a, b) in differing.items())
            + " (only in the script / only in the warehouse)",
        ),
        ("one week on the full history", f"{on_full:.1f} s"),
        ("one week on a 5-week history", f"{on_small:.1f} s"),
        ("tiny week (dbt fixed cost)", f"{tiny_s:.1f} s"),
        (
            "dbt build nodes per backfill",
            f"{nodes}, hooks aside ("
            + ", ".join(
                f"{kind} {count}"
                for kind, count in sorted(nodes_by_type.items(), key=lambda item: -item[1])
            )
            + ")",
        ),
        ("status / plan on the full warehouse", f"{status_s:.2f} s / {plan_s:.2f} s"),
    ]
    width = max(len(name) for name, _ in table)
    threads = args.duckdb_threads or "one per core"
    print(
        f"spine-dbt benchmark: {args.weeks} weeks x 3 tiers, {os.cpu_count()} cores,"
        f" DuckDB threads: {threads}"
    )
    for name, value in table:
        print(f"  {name.ljust(width)}  {value}")
    for item in results["targets"]:
        verdict = "PASS" if item["pass"] else "FAIL"
        print(f"  {verdict}  {item['target']}: {item['value']} (limit {item['limit']})")
    if default_run or args.write_results:
        (HERE / "results.json").write_text(json.dumps(results, indent=2))
    else:
        print("  (a trial run: bench/results.json not written; --write-results writes it)")
    shutil.rmtree(work / "tiny_dbs", ignore_errors=True)


if __name__ == "__main__":
    main()
