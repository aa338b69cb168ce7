"""Benchmark of spine-dbt at FINRA scale; prints a table and writes bench/results.json.

    python bench/backfill.py [--work DIR] [--runs 3] [--full-runs 3] [--weeks 156]
                             [--duckdb-threads N]

Measures, on this machine, in one run:
  1. the full backfill of N weeks x 3 tiers of realistic files (wall time, rows/s, peak RSS,
     and its stages from the run report: plan (discover, identify, digest), load, build);
  2. the same computation as one hand-written DuckDB script (bench/handwritten.sql), the
     practical lower bound, and the ratio;
  3. one new week on top of the N-week history vs the same week on a 5-week history;
  4. dbt's fixed cost: a backfill of one tiny week;
  5. `status` and `plan` on the N-week warehouse.
Each figure is the median of --runs runs (the full backfill and the script run --full-runs
times). Targets print PASS/FAIL; ratios are the targets, since absolute times vary by machine.
--duckdb-threads N sets SPINE_DUCKDB_THREADS for every spine-dbt run (and the script's DuckDB
threads), so a 2-core machine can reproduce a big machine's setting.
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

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SPINE = str(BIN / "spine-dbt")
END = date(2025, 12, 26)
NEXT = END + timedelta(days=7)
GIB = 1024**3


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/spine-bench"))
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-runs", type=int, default=3)
    parser.add_argument("--duckdb-threads", type=int, default=None)
    args = parser.parse_args()
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

    # 2. the hand-written DuckDB script over the same files
    script = work / "handwritten.py"
    script.write_text(
        "import duckdb, sys\n"
        "files = sorted(str(p) for p in __import__('pathlib').Path(sys.argv[1]).iterdir())\n"
        f"sql = open({str(HERE / 'handwritten.sql')!r}).read()\n"
        "sql = sql.replace('{files}', '[' + ', '.join(repr(f) for f in files) + ']')\n"
        "from spine_wrapper.resources import duckdb_resources\n"
        "import os\n"
        "con = duckdb.connect(sys.argv[2], config=duckdb_resources(os.environ).settings())\n"
        "con.execute(sql)\n"
    )
    hand_db = work / "handwritten.duckdb"
    hand_s, hand_rss = median_of(
        args.full_runs,
        lambda _: measure([sys.executable, str(script), str(files), str(fresh(hand_db))])[:2],
    )
    results["handwritten_script"] = {"seconds": hand_s, "peak_rss": hand_rss}

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
    results["tiny_week_s"] = tiny_s

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
        ("full backfill <= 1.5 x hand-written script", full_s / hand_s, 1.5),
        ("one week on history <= 1.3 x on 5 weeks", on_full / on_small, 1.3),
        ("peak RSS of the full backfill <= 2 GiB", full_rss / GIB, 2.0),
        ("status <= 2 s", status_s, 2.0),
        ("plan <= 2 s", plan_s, 2.0),
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
        ("one week on the full history", f"{on_full:.1f} s"),
        ("one week on a 5-week history", f"{on_small:.1f} s"),
        ("tiny week (dbt fixed cost)", f"{tiny_s:.1f} s"),
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
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(work / "tiny_dbs", ignore_errors=True)


if __name__ == "__main__":
    main()
