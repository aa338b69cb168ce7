"""A local Apache Spark standalone cluster from the pyspark wheel: scripts/spark-cluster.

    scripts/spark-cluster up [--dir DIR] [--timeout SECONDS]
    scripts/spark-cluster status [--dir DIR]
    scripts/spark-cluster down [--dir DIR]

Spark's own daemons, each its own JVM: a standalone master, two workers (one core each; their
executors are child JVMs of the worker) and the Spark Thrift server (HiveServer2 protocol, what
dbt-spark's `thrift` method talks to), the Thrift server being the application that runs the
SQL on the workers. SPARK_HOME is the pyspark package folder (bin/spark-class, jars/).

Everything binds to 127.0.0.1 and lives in one folder (--dir, else $SPINE_SPARK_CLUSTER_DIR,
else <repo>/.spark-cluster): pids/ (one pid file a daemon), logs/ (one log a daemon), conf/,
warehouse/, metastore_db (Derby, opened by the Thrift server only: embedded Derby admits one
JVM), work/ (the workers' executor folders), tmp/, landing/ (a folder every executor can read,
since they all run on this machine).

Ports (each checked free before anything starts: Spark would otherwise move to the next one
silently) come from the environment: SPINE_SPARK_MASTER_PORT (7077), SPINE_SPARK_MASTER_UI_PORT
(8080), SPINE_SPARK_WORKER1_UI_PORT (8081), SPINE_SPARK_WORKER2_UI_PORT (8082), SPINE_SPARK_PORT
(10000, the Thrift port: the same variable the `spark` profile reads) and SPINE_SPARK_UI_PORT
(4040, the Thrift server's driver UI). Memory: SPINE_SPARK_WORKER_MEMORY (1g a worker, and each
executor's heap), SPINE_SPARK_DRIVER_MEMORY (1g, the Thrift server's heap),
SPINE_SPARK_DAEMON_MEMORY (512m, the master's and the workers' heaps). Every JVM of the cluster
runs the serial garbage collector (GC_OPTION): six JVMs share the machine's cores, and the
JVM's default (G1, with its concurrent threads) cost ~15 % more CPU for the same backfill.

Exit codes: 0 success; 1 failure (status: some daemons running, not all); 2 usage;
3 status: nothing running.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DIR_ENV = "SPINE_SPARK_CLUSTER_DIR"
APP_NAME = "spine-spark-thriftserver"
MIN_JAVA = 17
WORKERS = 2
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NONE = 0, 1, 2, 3


class ClusterError(Exception):
    """A failure to report to the user (no traceback)."""


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    key: str
    env: str
    default: int
    what: str


PORTS = (
    Port("master", "SPINE_SPARK_MASTER_PORT", 7077, "master"),
    Port("master_ui", "SPINE_SPARK_MASTER_UI_PORT", 8080, "master web UI"),
    Port("worker-1_ui", "SPINE_SPARK_WORKER1_UI_PORT", 8081, "worker-1 web UI"),
    Port("worker-2_ui", "SPINE_SPARK_WORKER2_UI_PORT", 8082, "worker-2 web UI"),
    Port("thrift", "SPINE_SPARK_PORT", 10000, "Thrift server"),
    Port("thrift_ui", "SPINE_SPARK_UI_PORT", 4040, "Thrift server's driver web UI"),
)
PORT_BY_KEY = {port.key: port for port in PORTS}


@dataclass(frozen=True)
class Daemon:
    name: str
    main_class: str
    port_keys: tuple[str, ...]


DAEMONS = (
    Daemon("master", "org.apache.spark.deploy.master.Master", ("master", "master_ui")),
    *(
        Daemon(f"worker-{n}", "org.apache.spark.deploy.worker.Worker", (f"worker-{n}_ui",))
        for n in range(1, WORKERS + 1)
    ),
    Daemon("thriftserver", THRIFT_CLASS, ("thrift", "thrift_ui")),
)
WORKER_DAEMONS = tuple(d for d in DAEMONS if d.name.startswith("worker-"))


@dataclass(frozen=True)
class Cluster:
    dir: Path
    ports: dict[str, int]
    worker_memory: str = "1g"
    driver_memory: str = "1g"
    daemon_memory: str = "512m"

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.ports['master']}"

    def pid_file(self, daemon: Daemon) -> Path:
        return self.dir / "pids" / f"{daemon.name}.pid"

    def log_file(self, daemon: Daemon) -> Path:
        return self.dir / "logs" / f"{daemon.name}.log"

    def work_dir(self, daemon: Daemon) -> Path:
        return self.dir / "work" / daemon.name

    @property
    def state_file(self) -> Path:
        return self.dir / "cluster.json"

    @property
    def conf_file(self) -> Path:
        return self.dir / "conf" / "spark-defaults.conf"

    def env_lines(self) -> str:
        return (
            f"SPINE_TARGET=spark SPINE_SPARK_METHOD=thrift SPINE_SPARK_HOST={HOST} "
            f"SPINE_SPARK_PORT={self.ports['thrift']} SPINE_SPARK_LANDING={self.dir / 'landing'}"
        )


def cluster_dir(option: str | None) -> Path:
    raw = option or os.environ.get(DIR_ENV) or str(REPO / ".spark-cluster")
    return Path(raw).expanduser().resolve()


def ports_from_env() -> dict[str, int]:
    ports: dict[str, int] = {}
    for port in PORTS:
        raw = os.environ.get(port.env, "").strip()
        if not raw:
            ports[port.key] = port.default
            continue
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ClusterError(f"{port.env}={raw!r} is not a TCP port (1-65535)")
        ports[port.key] = int(raw)
    seen: dict[int, str] = {}
    for port in PORTS:
        number = ports[port.key]
        if number in seen:
            raise ClusterError(f"port {number} is given twice: to {seen[number]} and to {port.env}")
        seen[number] = port.env
    return ports


def cluster_from_env(folder: Path) -> Cluster:
    return Cluster(
        dir=folder,
        ports=ports_from_env(),
        worker_memory=os.environ.get("SPINE_SPARK_WORKER_MEMORY", "1g"),
        driver_memory=os.environ.get("SPINE_SPARK_DRIVER_MEMORY", "1g"),
        daemon_memory=os.environ.get("SPINE_SPARK_DAEMON_MEMORY", "512m"),
    )


def recorded_cluster(folder: Path) -> Cluster:
    """The cluster as `up` recorded it (its ports), else as the environment describes it."""
    state = folder / "cluster.json"
    if state.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            data = json.loads(state.read_text())
            ports = {port.key: int(data["ports"][port.key]) for port in PORTS}
            return Cluster(
                dir=folder,
                ports=ports,
                worker_memory=data.get("worker_memory", "1g"),
                driver_memory=data.get("driver_memory", "1g"),
                daemon_memory=data.get("daemon_memory", "512m"),
            )
    return cluster_from_env(folder)


# --- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgrp: int
    state: str
    start: int  # clock ticks after boot: (pid, start) names one process even if pids recycle
    cmdline: tuple[str, ...]
    cwd: str | None


def read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    try:
        cwd: str | None = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        cwd = None
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        state=fields[0],
        start=int(fields[19]),
        cmdline=tuple(arg.decode(errors="replace") for arg in raw.split(b"\0") if arg),
        cwd=cwd,
    )


def all_procs() -> dict[int, Proc]:
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None and proc.state not in ("Z", "X") and proc.cmdline:
                procs[proc.pid] = proc
    return procs


def alive(proc: Proc) -> bool:
    now = read_proc(proc.pid)
    return now is not None and now.start == proc.start and now.state not in ("Z", "X")


def own_lineage() -> set[int]:
    """This process and its ancestors (the shim, the shell): never ours to stop."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        proc = read_proc(pid)
        if proc is None:
            break
        pid = proc.ppid
    return pids


def under(path: str | None, folder: Path) -> bool:
    if not path:
        return False
    path = path.removesuffix(" (deleted)")
    return path == str(folder) or path.startswith(f"{folder}/")


def is_spark(proc: Proc) -> bool:
    """A JVM (or its launching script) of Spark: the daemons, their executors, the launcher."""
    return any(
        "org.apache.spark" in arg or arg.endswith(("/spark-class", "/spark-submit"))
        for arg in proc.cmdline
    )


def cluster_processes(cluster: Cluster, procs: dict[int, Proc] | None = None) -> list[Proc]:
    """Every Spark process of this cluster, found without pid files: its working directory
    is in the cluster folder (all daemons and executors run there), or its command line names
    the folder or the master."""
    procs = all_procs() if procs is None else procs
    mine = own_lineage()
    folder = str(cluster.dir)
    found = []
    for proc in procs.values():
        if proc.pid in mine or not is_spark(proc):
            continue
        if (
            under(proc.cwd, cluster.dir)
            or any(folder in arg for arg in proc.cmdline)
            or any(cluster.master_url in arg for arg in proc.cmdline)
        ):
            found.append(proc)
    return found


def descendants(roots: Iterable[Proc], procs: dict[int, Proc]) -> list[Proc]:
    """The roots, their process groups (executors are in their worker's group), and all
    their descendants."""
    result = {root.pid: root for root in roots}
    groups = {root.pid for root in roots if root.pgrp == root.pid}
    result.update({p.pid: p for p in procs.values() if p.pgrp in groups})
    grew = True
    while grew:
        grew = False
        for proc in procs.values():
            if proc.ppid in result and proc.pid not in result:
                result[proc.pid] = proc
                grew = True
    return list(result.values())


def daemon_proc(cluster: Cluster, daemon: Daemon) -> Proc | None:
    """The running process of `daemon` named by its pid file, if it is really that daemon."""
    try:
        pid = int(cluster.pid_file(daemon).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    proc = read_proc(pid)
    if proc is None or proc.state in ("Z", "X"):
        return None
    if not any(daemon.main_class in arg for arg in proc.cmdline):
        return None
    if not (under(proc.cwd, cluster.dir) or any(str(cluster.dir) in a for a in proc.cmdline)):
        return None
    return proc


def rss_kib(procs: Iterable[Proc]) -> int:
    total = 0
    for proc in procs:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def signal_procs(procs: Iterable[Proc], sig: signal.Signals) -> None:
    for proc in procs:
        if alive(proc):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, sig)


def stop_procs(procs: list[Proc], timeout: float) -> list[Proc]:
    """SIGTERM, wait up to `timeout` s, then SIGKILL; the processes still alive after that."""
    signal_procs(procs, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in procs):
        time.sleep(0.2)
    left = [p for p in procs if alive(p)]
    if left:
        signal_procs(left, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in left):
            time.sleep(0.1)
    return [p for p in procs if alive(p)]


def stop_cluster(cluster: Cluster, timeout: float) -> list[Proc]:
    """Stops every process of the cluster: the Thrift server first (its application ends and
    the workers stop its executors), then the workers and the master; then anything of the
    cluster still found in /proc. Returns the processes that survived SIGKILL."""
    procs = all_procs()
    thrift_daemon = DAEMONS[-1]
    thrift = daemon_proc(cluster, thrift_daemon)
    if thrift is not None:
        stop_procs(descendants([thrift], procs), timeout)
    procs = all_procs()
    daemons = [p for d in DAEMONS if (p := daemon_proc(cluster, d)) is not None]
    stop_procs(descendants(daemons, procs), timeout)
    # Anything else: executors whose worker died, a daemon without a pid file.
    procs = all_procs()
    rest = cluster_processes(cluster, procs)
    if rest:
        stop_procs(descendants(rest, procs), min(timeout, 10))
    for daemon in DAEMONS:
        cluster.pid_file(daemon).unlink(missing_ok=True)
    return cluster_processes(cluster)


# --- ports ---------------------------------------------------------------------------------


def port_free(port: int) -> bool:
    """Whether a daemon can listen on 127.0.0.1:`port` (as Spark does, with SO_REUSEADDR, so
    connections of a stopped cluster in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def port_holders(port: int) -> list[Proc]:
    """The processes (that this user can see) listening on TCP `port`, from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    holders = []
    if not inodes:
        return holders
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        proc = read_proc(int(entry))
                        if proc is not None:
                            holders.append(proc)
                        break
    return holders


def describe(proc: Proc) -> str:
    command = " ".join(" ".join(proc.cmdline).split())
    return f"pid {proc.pid} ({command[:120]}{'...' if len(command) > 120 else ''})"


def check_ports(cluster: Cluster) -> None:
    taken = []
    for port in PORTS:
        number = cluster.ports[port.key]
        if not port_free(number):
            holders = ", ".join(describe(p) for p in port_holders(number)) or "another process"
            taken.append(
                f"port {number} ({port.what}, {port.env}) is already in use on {HOST}: "
                f"held by {holders}"
            )
    if taken:
        raise ClusterError(
            "\n".join(taken)
            + "\nSpark would silently move to another port: free it, or choose another port "
            "with the variable named."
        )


# --- prerequisites -------------------------------------------------------------------------


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ClusterError(
            f"no Java runtime: Spark needs Java {MIN_JAVA}+ "
            "(e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
        )
    return java


def check_java() -> str:
    java = java_binary()
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClusterError(f"{java} -version failed: {error}") from error
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ClusterError(f"cannot tell the version of {java}: {out.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise ClusterError(f"{java} is Java {major}; Spark 4 needs Java {MIN_JAVA}+")
    return java


def spark_home() -> Path:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.origin:
        raise ClusterError(
            f"pyspark is not installed for {sys.executable}: pip install -e '.[spark]'"
        )
    home = Path(spec.origin).parent
    needed = [home / "bin" / "spark-class", home / "bin" / "spark-submit", home / "jars"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise ClusterError(f"the pyspark install at {home} lacks {', '.join(missing)}")
    if not list((home / "jars").glob("spark-hive-thriftserver_*.jar")):
        raise ClusterError(f"the pyspark install at {home} has no Thrift server jar")
    return home


# --- starting ------------------------------------------------------------------------------


# The collector of every JVM of the cluster: one thread, no concurrent work beside the queries.
# Measured on 2 cores (the 3 real weeks, after `up`): 560 CPU-s and 323 s against G1's 641-680
# CPU-s and 343-360 s; the parallel collector 622 CPU-s and 374 s.
GC_OPTION = "-XX:+UseSerialGC"


def spark_defaults(cluster: Cluster) -> dict[str, str]:
    d = cluster.dir
    return {
        # The master's REST submission server would listen on 6066 without authentication.
        "spark.master.rest.enabled": "false",
        # A taken port is an error rather than a silent move to the next one.
        "spark.port.maxRetries": "0",
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.ui.port": str(cluster.ports["thrift_ui"]),
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(d / "tmp"),
        "spark.executor.memory": cluster.worker_memory,
        "spark.executor.cores": "1",
        "spark.executor.extraJavaOptions": GC_OPTION,
        "spark.cores.max": str(WORKERS),
        "spark.sql.warehouse.dir": str(d / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={d / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={d} -Dderby.stream.error.file={d / 'logs' / 'derby.log'} "
            f"-Djava.io.tmpdir={d / 'tmp'} "
            # The metastore's DataNucleus calls System.gc() each time it drops a persistence
            # manager factory (some per session): a concurrent cycle rather than a full,
            # stop-the-world collection that pauses every query (about 100 a backfill).
            "-XX:+ExplicitGCInvokesConcurrent"
        ),
    }


def hive_conf(cluster: Cluster) -> dict[str, str]:
    d = cluster.dir
    return {
        "hive.server2.thrift.bind.host": HOST,
        "hive.server2.thrift.port": str(cluster.ports["thrift"]),
        "hive.exec.scratchdir": str(d / "tmp" / "hive"),
        "hive.exec.local.scratchdir": str(d / "tmp" / "hive-local"),
        # One folder per session, as Hive's default: a session deletes its folder when it
        # closes, so a shared one vanishes under sessions opening at the same time (dbt
        # opens one per thread) and they fail with "Couldn't create directory".
        "hive.downloaded.resources.dir": str(d / "tmp" / "hive-resources" / "${hive.session.id}"),
        "hive.querylog.location": str(d / "tmp" / "hive-querylog"),
        "hive.server2.logging.operation.log.location": str(d / "tmp" / "operation_logs"),
    }


def command(cluster: Cluster, home: Path, daemon: Daemon) -> list[str]:
    props = ["--properties-file", str(cluster.conf_file)]
    ports = cluster.ports
    if daemon.name == "master":
        return [
            "bash", str(home / "bin" / "spark-class"), daemon.main_class,
            "--host", HOST, "--port", str(ports["master"]),
            "--webui-port", str(ports["master_ui"]), *props,
        ]  # fmt: skip
    if daemon in WORKER_DAEMONS:
        return [
            "bash", str(home / "bin" / "spark-class"), daemon.main_class, cluster.master_url,
            "--host", HOST, "--cores", "1", "--memory", cluster.worker_memory,
            "--webui-port", str(ports[f"{daemon.name}_ui"]),
            "--work-dir", str(cluster.work_dir(daemon)), *props,
        ]  # fmt: skip
    hiveconf = [arg for k, v in hive_conf(cluster).items() for arg in ("--hiveconf", f"{k}={v}")]
    return [
        "bash", str(home / "bin" / "spark-submit"), "--class", daemon.main_class,
        "--master", cluster.master_url, "--name", APP_NAME, *props,
        "spark-internal", *hiveconf,
    ]  # fmt: skip


def daemon_env(cluster: Cluster, home: Path, java: str, daemon: Daemon) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_", "HIVE_"))}
    env.update(
        SPARK_HOME=str(home),
        SPARK_CONF_DIR=str(cluster.dir / "conf"),
        SPARK_LOCAL_IP=HOST,  # also the address the web UIs bind to
        SPARK_PUBLIC_DNS=HOST,
        SPARK_LOCAL_DIRS=str(cluster.dir / "tmp"),
        SPARK_LOG_DIR=str(cluster.dir / "logs"),
        SPARK_PID_DIR=str(cluster.dir / "pids"),
        # The Thrift server takes its driver heap from SPARK_DAEMON_MEMORY too.
        SPARK_DAEMON_MEMORY=(
            cluster.driver_memory if daemon.name == "thriftserver" else cluster.daemon_memory
        ),
        # The master's, the workers' and (Spark's launcher treats it as a daemon) the Thrift
        # server's JVM options.
        SPARK_DAEMON_JAVA_OPTS=GC_OPTION,
        JAVA_HOME=os.environ.get("JAVA_HOME") or str(Path(java).resolve().parent.parent),
    )
    return env


def prepare(cluster: Cluster) -> None:
    d = cluster.dir
    for sub in ("pids", "logs", "conf", "warehouse", "work", "tmp", "landing"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    for daemon in WORKER_DAEMONS:
        cluster.work_dir(daemon).mkdir(parents=True, exist_ok=True)
    lines = ["# written by scripts/spark-cluster up; rewritten on every up\n"]
    lines += [f"{key} {value}\n" for key, value in spark_defaults(cluster).items()]
    cluster.conf_file.write_text("".join(lines))
    for daemon in DAEMONS:
        log = cluster.log_file(daemon)
        if log.exists():
            log.replace(log.with_suffix(".log.1"))


_children: list[subprocess.Popen[bytes]] = []


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def spawn(cluster: Cluster, home: Path, java: str, daemon: Daemon) -> Proc:
    """Starts `daemon` detached: its own session (no terminal, no signal from this script's
    terminal or its exit), stdin from /dev/null, stdout and stderr to its log file."""
    log = cluster.log_file(daemon)
    argv = command(cluster, home, daemon)
    with log.open("ab") as out:
        out.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            argv,
            cwd=cluster.dir,
            env=daemon_env(cluster, home, java, daemon),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    cluster.pid_file(daemon).write_text(f"{process.pid}\n")
    # spark-class ends in `exec java`: the pid is the daemon's JVM from then on.
    _children.append(process)
    proc = read_proc(process.pid)
    if proc is None:
        raise Failure((daemon,), f"{daemon.name} exited at once")
    return proc


@dataclass
class Failure(Exception):
    daemons: tuple[Daemon, ...]  # whose log tails to show; () for all
    message: str


def fetch_json(port: int, path: str = "/json/") -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{HOST}:{port}{path}", timeout=3) as response:
        return json.load(response)


def try_json(port: int, path: str = "/json/") -> Any:
    try:
        return fetch_json(port, path)
    except (OSError, ValueError):
        return None


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def pyhive_available() -> bool:
    return importlib.util.find_spec("pyhive") is not None


def thrift_query(port: int, timeout: float = 60) -> str | None:
    """Runs `SELECT 1` over the Thrift port with PyHive: None when it answers 1, else why not.
    (In a thread, so that a server that accepts but never answers cannot hang `up`.)"""
    result: list[str | None] = []

    def run() -> None:
        try:
            from pyhive import hive

            user = os.environ.get("USER") or "spine"
            connection = hive.connect(host=HOST, port=port, username=user)
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT 1")
                rows = cursor.fetchall()
            finally:
                connection.close()
            result.append(None if [tuple(r) for r in rows] == [(1,)] else f"answered {rows!r}")
        except Exception as error:  # noqa: BLE001 - any failure means: not ready yet
            result.append(f"{type(error).__name__}: {error}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else f"no answer within {timeout:.0f} s"


def thrift_app(cluster: Cluster) -> dict[str, Any] | None:
    master = try_json(cluster.ports["master_ui"])
    if not master:
        return None
    for app in master.get("activeapps", []):
        if app.get("name") == APP_NAME:
            return app
    return None


def executors_by_worker(cluster: Cluster, app_id: str) -> dict[str, int]:
    """How many running executors of `app_id` each worker reports."""
    counts = {}
    for daemon in WORKER_DAEMONS:
        worker = try_json(cluster.ports[f"{daemon.name}_ui"]) or {}
        counts[daemon.name] = sum(
            1
            for executor in worker.get("executors", [])
            if executor.get("appid") == app_id
            or (executor.get("appdesc") or {}).get("name") == APP_NAME
        )
    return counts


def wait_ready(cluster: Cluster, started: dict[str, Proc], deadline: float) -> dict[str, Any]:
    """Waits for: the master ALIVE on its port, both workers registered, the Thrift server
    answering a query, its application holding an executor on each worker."""
    ports = cluster.ports
    by_name = {d.name: d for d in DAEMONS}
    workers = tuple(d.name for d in WORKER_DAEMONS)
    thrift = ("thriftserver",)
    steps = [
        (("master",), "the master to be ALIVE"),
        (workers, f"{WORKERS} workers to register with the master"),
        (thrift, f"the Thrift server to accept connections on {HOST}:{ports['thrift']}"),
        (thrift, "the Thrift server to answer a query"),
        (thrift + workers, "the Thrift server's application to get an executor on each worker"),
    ]
    step = 0
    last_error: str | None = None
    info: dict[str, Any] = {}
    while step < len(steps):
        for name, proc in started.items():
            if not alive(proc):
                raise Failure((by_name[name],), f"{name} (pid {proc.pid}) exited while starting")
        if time.monotonic() > deadline:
            names, what = steps[step]
            detail = f" (last: {last_error})" if last_error else ""
            raise Failure(tuple(by_name[n] for n in names), f"timed out waiting for {what}{detail}")
        if step == 0:
            master = try_json(ports["master_ui"])
            if master and master.get("status") == "ALIVE":
                if master.get("url") != cluster.master_url:
                    raise Failure(DAEMONS[:1], f"the master runs at {master.get('url')}")
                step += 1
                continue
        elif step == 1:
            master = try_json(ports["master_ui"]) or {}
            if int(master.get("aliveworkers", 0)) >= WORKERS:
                step += 1
                continue
        elif step == 2:
            if tcp_open(ports["thrift"]):
                step += 1
                if not pyhive_available():
                    print(
                        "  (PyHive is not installed: checked the Thrift port accepts "
                        "connections, not that it answers; pip install -e '.[spark]')",
                        flush=True,
                    )
                    step += 1
                continue
        elif step == 3:
            last_error = thrift_query(ports["thrift"], max(5.0, deadline - time.monotonic()))
            if last_error is None:
                step += 1
                continue
        elif step == 4:
            app = thrift_app(cluster)
            if app is not None:
                counts = executors_by_worker(cluster, app["id"])
                if all(counts.values()):
                    info = {"app": app["id"], "executors": counts}
                    step += 1
                    continue
        time.sleep(0.5)
    return info


def log_tail(cluster: Cluster, daemon: Daemon, lines: int = 40) -> str:
    log = cluster.log_file(daemon)
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One `up`/`down` at a time on a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another spark-cluster command on {folder} ...", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def summary(cluster: Cluster) -> str:
    p = cluster.ports
    workers = ", ".join(f"http://{HOST}:{p[f'{d.name}_ui']}" for d in WORKER_DAEMONS)
    return "\n".join(
        [
            f"  master   {cluster.master_url}  (web UI http://{HOST}:{p['master_ui']})",
            f"  workers  {WORKERS} x 1 core, {cluster.worker_memory}  (web UIs {workers})",
            f"  thrift   {HOST}:{p['thrift']}  (driver UI http://{HOST}:{p['thrift_ui']})",
            f"  folder   {cluster.dir}  (logs in logs/, landing files in landing/)",
            "Use it with:",
            f"  export {cluster.env_lines()}",
            f"Stop it with: scripts/spark-cluster down --dir {cluster.dir}",
        ]
    )


def up(folder: Path, timeout: float) -> int:
    with locked(folder):
        recorded = recorded_cluster(folder)
        running = {d.name: daemon_proc(recorded, d) for d in DAEMONS}
        if all(running.values()):
            print(f"The Spark cluster in {folder} is already up.")
            print(summary(recorded))
            return EXIT_OK
        leftovers = cluster_processes(recorded)
        if leftovers:
            raise ClusterError(
                f"the Spark cluster in {folder} is partly running "
                f"({', '.join(n for n, p in running.items() if p) or 'no daemon'} of "
                f"{', '.join(d.name for d in DAEMONS)}; processes: "
                f"{', '.join(str(p.pid) for p in leftovers)}): run `down` first"
            )
        cluster = cluster_from_env(folder)
        java = check_java()
        home = spark_home()
        check_ports(cluster)
        prepare(cluster)
        cluster.state_file.write_text(
            json.dumps(
                {
                    "ports": cluster.ports,
                    "spark_home": str(home),
                    "worker_memory": cluster.worker_memory,
                    "driver_memory": cluster.driver_memory,
                    "daemon_memory": cluster.daemon_memory,
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                indent=2,
            )
            + "\n"
        )
        started_at = time.monotonic()
        deadline = started_at + timeout
        started: dict[str, Proc] = {}
        # A CI job's timeout (SIGTERM) or a closed terminal (SIGHUP) stops what was started,
        # like Ctrl-C does.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        print(
            f"Starting a Spark standalone cluster in {folder} (SPARK_HOME {home}) ...", flush=True
        )
        try:
            master = DAEMONS[0]
            started[master.name] = spawn(cluster, home, java, master)
            # The workers and the Thrift server retry until the master is up; starting them
            # at once saves most of a JVM start.
            for daemon in DAEMONS[1:]:
                started[daemon.name] = spawn(cluster, home, java, daemon)
            info = wait_ready(cluster, started, deadline)
        except (Failure, KeyboardInterrupt, OSError) as error:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)  # the clean-up takes seconds: let it finish
            survivors = stop_cluster(cluster, timeout=15)
            if isinstance(error, KeyboardInterrupt):
                print("interrupted: stopped what had started", file=sys.stderr)
                return 130
            if isinstance(error, OSError):
                error = Failure((), f"cannot start the daemons: {error}")
            print(f"error: {error.message}", file=sys.stderr)
            shown = error.daemons or DAEMONS
            for daemon in shown:
                print(
                    f"--- last lines of {cluster.log_file(daemon)} ---\n"
                    f"{log_tail(cluster, daemon)}",
                    file=sys.stderr,
                )
            print(
                f"(all logs in {cluster.dir / 'logs'}; everything started was stopped)",
                file=sys.stderr,
            )
            if survivors:
                print(
                    "warning: still running: " + ", ".join(describe(p) for p in survivors),
                    file=sys.stderr,
                )
            return EXIT_FAIL
        elapsed = time.monotonic() - started_at
        procs = all_procs()
        rss = rss_kib(descendants(started.values(), procs))
        executors = ", ".join(f"{n}: {c}" for n, c in info.get("executors", {}).items())
        print(
            f"The Spark cluster is up ({elapsed:.0f} s, {rss / 1024 / 1024:.1f} GiB resident; "
            f"Thrift application {info.get('app', '?')}, executors {executors or '?'}):"
        )
        print(summary(cluster))
        return EXIT_OK


def down(folder: Path, timeout: float) -> int:
    if not folder.is_dir():
        print(f"No Spark cluster in {folder} (no such folder): nothing to stop.")
        return EXIT_OK
    with locked(folder):
        cluster = recorded_cluster(folder)
        before = cluster_processes(cluster)
        running = [d.name for d in DAEMONS if daemon_proc(cluster, d) is not None]
        if not before and not running:
            for daemon in DAEMONS:
                cluster.pid_file(daemon).unlink(missing_ok=True)
            print(f"The Spark cluster in {folder} is not running: nothing to stop.")
            return EXIT_OK
        print(
            f"Stopping the Spark cluster in {folder} ({', '.join(running) or 'leftovers'}) ...",
            flush=True,
        )
        survivors = stop_cluster(cluster, timeout)
        if survivors:
            print(
                "error: still running after SIGKILL: " + ", ".join(describe(p) for p in survivors),
                file=sys.stderr,
            )
            return EXIT_FAIL
        busy = [p for p in PORTS if not port_free(cluster.ports[p.key])]
        for port in busy:
            holders = ", ".join(describe(p) for p in port_holders(cluster.ports[port.key]))
            print(
                f"warning: port {cluster.ports[port.key]} ({port.what}) is still in use"
                f"{': ' + holders if holders else ''} (not a process of this cluster)",
                file=sys.stderr,
            )
        print(
            f"Stopped: {len(descendants(before, {p.pid: p for p in before}))} processes; "
            "none of the cluster remains."
        )
        return EXIT_OK


def status(folder: Path) -> int:
    cluster = recorded_cluster(folder)
    procs = all_procs()
    ports = cluster.ports
    running = 0
    total_rss = 0
    print(f"Spark cluster in {folder}:")
    for daemon in DAEMONS:
        proc = daemon_proc(cluster, daemon)
        where = ", ".join(f"{PORT_BY_KEY[key].what} {ports[key]}" for key in daemon.port_keys)
        if proc is None:
            print(f"  {daemon.name:<13} stopped                    {where}")
            continue
        running += 1
        family = descendants([proc], procs)
        rss = rss_kib(family)
        total_rss += rss
        extra = f", {len(family) - 1} child JVMs" if len(family) > 1 else ""
        print(
            f"  {daemon.name:<13} running  pid {proc.pid:<8} {rss / 1024:6.0f} MiB{extra}  {where}"
        )
    if running == len(DAEMONS):
        print(f"All {running} daemons running ({total_rss / 1024 / 1024:.1f} GiB resident).")
        print(f"  export {cluster.env_lines()}")
        return EXIT_OK
    orphans = cluster_processes(cluster, procs)
    if running == 0 and not orphans:
        print("Not running.")
        return EXIT_NONE
    print(
        f"Partly running ({running} of {len(DAEMONS)} daemons"
        f"{f', {len(orphans)} processes in all' if orphans else ''}): "
        "`down` then `up` to restart it."
    )
    return EXIT_FAIL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/spark-cluster",
        description="A local Apache Spark standalone cluster (master, 2 workers, Thrift "
        "server) from the pyspark wheel, on 127.0.0.1.",
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--dir",
        help=f"the cluster's folder (state, logs, warehouse); default ${DIR_ENV}, "
        f"else {REPO / '.spark-cluster'}",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="up: seconds to wait for the cluster to be ready (default 180); "
        "down: seconds to wait for each stage to exit before SIGKILL (default 30)",
    )
    args = parser.parse_args(argv)
    try:
        folder = cluster_dir(args.dir)
        if args.command == "up":
            return up(folder, 180 if args.timeout is None else args.timeout)
        if args.command == "down":
            return down(folder, 30 if args.timeout is None else args.timeout)
        return status(folder)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `scripts/spark-cluster status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAIL)
