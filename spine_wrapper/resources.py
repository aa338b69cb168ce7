"""DuckDB's memory limit and worker threads, sized to the machine, for the loader and for dbt.

DuckDB runs one worker thread per core by default, and every thread needs working memory: 16
threads do not fit in 1.2 GB. So the two are chosen together, once, here:

- threads: SPINE_DUCKDB_THREADS, else one per core;
- memory limit: SPINE_MEMORY_LIMIT (DuckDB's size syntax: 1200MB, 16GB, 512MiB), else
  MEMORY_PER_THREAD per thread, at least DEFAULT_MEMORY_FLOOR, at most 80 % of the machine's
  memory (DuckDB's own default; the cgroup's limit when a container has one);
- then the threads are bounded so that each has at least MIN_MEMORY_PER_THREAD of the limit.

On a 2-core machine that is 2 threads and 1200 MB (the benchmark's peak RSS stays under 2 GiB);
on a 16-core, 128 GB one, 16 threads and 9.6 GB. profiles.yml reads both variables; dbt.py
sets them per invocation, warehouse.connect opens the loader's connection with them, so the
wrapper and dbt never disagree. A hand-run `dbt` without them gets the profile's defaults (2
threads, 1200MB), which fit any machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MEMORY_VARIABLE = "SPINE_MEMORY_LIMIT"
THREADS_VARIABLE = "SPINE_DUCKDB_THREADS"
MIB = 1024**2
MEMORY_PER_THREAD = 600 * 1000**2  # the default limit grows by this per thread ...
DEFAULT_MEMORY_FLOOR = 1200 * 1000**2  # ... from at least this (the 2 GiB RSS target)
MIN_MEMORY_PER_THREAD = 256 * MIB  # fewer threads than this allows are never started
MACHINE_SHARE = 0.8  # of the machine's memory, at most (DuckDB's default)

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DuckDBResources:
    """The memory limit (bytes) and worker threads of every DuckDB connection of a run."""

    memory_limit: int
    threads: int

    def settings(self) -> dict[str, str]:
        """As DuckDB settings (also the values profiles.yml reads from the environment)."""
        return {"memory_limit": f"{self.memory_limit // MIB}MiB", "threads": str(self.threads)}

    def describe(self) -> str:
        threads = f"{self.threads} thread" + ("" if self.threads == 1 else "s")
        return f"memory_limit {self.memory_limit // MIB} MiB, {threads}"


def parse_size(text: str, variable: str = MEMORY_VARIABLE) -> int:
    """A size in DuckDB's syntax (`1200MB`, `16GB`, `512MiB`, `0.5GB`) in bytes; ValueError
    naming `variable` otherwise."""
    found = _SIZE.match(text)
    unit = found["unit"].lower() if found else ""
    if not found or unit not in _UNITS or float(found["number"]) <= 0:
        raise ValueError(f"{variable} must be a size such as 1200MB, 16GB or 512MiB, not {text!r}")
    return int(float(found["number"]) * _UNITS[unit])


def machine_memory() -> int:
    """The memory this process may use: the machine's, or its cgroup's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def duckdb_resources(
    environ: Mapping[str, str], cpus: int | None = None, memory: int | None = None
) -> DuckDBResources:
    """The run's DuckDB resources from SPINE_DUCKDB_THREADS / SPINE_MEMORY_LIMIT in `environ`
    and the machine (`cpus` cores, `memory` bytes; default: this machine's). ValueError when a
    variable is malformed."""
    cpus = cpus or os.cpu_count() or 1
    raw_threads = environ.get(THREADS_VARIABLE, "").strip()
    if raw_threads and not (raw_threads.isdigit() and int(raw_threads) >= 1):
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number >= 1, not {raw_threads!r}")
    threads = int(raw_threads) if raw_threads else cpus
    raw_memory = environ.get(MEMORY_VARIABLE, "").strip()
    if raw_memory:
        limit = parse_size(raw_memory)
    else:
        ceiling = int((memory or machine_memory()) * MACHINE_SHARE)
        limit = min(max(threads * MEMORY_PER_THREAD, DEFAULT_MEMORY_FLOOR), ceiling)
    return DuckDBResources(limit, max(1, min(threads, limit // MIN_MEMORY_PER_THREAD)))


def out_of_memory_hint(resources: DuckDBResources) -> str:
    """What to change after DuckDB ran out of memory with `resources`."""
    return (
        f"DuckDB ran out of memory ({resources.describe()}): raise {MEMORY_VARIABLE} (e.g."
        f" {max(2, 2 * resources.memory_limit // 1000**3)}GB), lower {THREADS_VARIABLE}, or"
        " pass a smaller --chunk-weeks"
    )


def is_out_of_memory(message: str | None) -> bool:
    """Whether an error message (DuckDB's, or dbt's report of one) is DuckDB running out of
    memory."""
    return bool(message) and "Out of Memory Error" in str(message)
