"""scripts/spark-cluster's errors (taken ports, bad settings, nothing to stop), and the helpers
of the cluster tests. A real cluster started by the script, its daemons, the tasks on both
workers and a `down` without leftovers are checked in test_spark_cluster.py, around one
backfill through it; the ports are chosen outside the kernel's ephemeral range, so that no
port Spark picks at random can take them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spine_wrapper.paths import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "spark-cluster"
HOST = "127.0.0.1"
PORT_VARS = (
    "SPINE_SPARK_MASTER_PORT",
    "SPINE_SPARK_MASTER_UI_PORT",
    "SPINE_SPARK_WORKER1_UI_PORT",
    "SPINE_SPARK_WORKER2_UI_PORT",
    "SPINE_SPARK_PORT",
    "SPINE_SPARK_UI_PORT",
)


def missing_for_cluster() -> str | None:
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java runtime (Spark needs Java 17+)"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed: pip install -e '.[spark]'"
    if importlib.util.find_spec("pyhive") is None:
        return "PyHive is not installed: pip install -e '.[spark]'"
    return None


MISSING = missing_for_cluster()
needs_cluster = pytest.mark.skipif(MISSING is not None, reason=f"no Spark cluster here: {MISSING}")


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def cluster_ports() -> dict[str, int]:
    """Free ports below the ephemeral range (where Spark's random ports come from)."""
    low = 32768
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        low = int(ranges.read().split()[0])
    candidates = random.sample(range(20000, max(low, 20100)), 200)
    chosen = [port for port in candidates if port_free(port)][: len(PORT_VARS)]
    return dict(zip(PORT_VARS, chosen, strict=True))


def run(*args: str | Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def script_env(ports: dict[str, int] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_SPARK")}
    env.update({name: str(port) for name, port in (ports or {}).items()})
    return env


def cluster_pids(folder: Path, master_port: int) -> list[int]:
    """Live processes of the cluster, found in /proc: their working directory is in the
    folder, or their command line names the folder or the master."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] in "ZX" or not cmdline:
            continue  # zombies (when PID 1 does not reap) hold no ports and no memory
        if (
            cwd == str(folder)
            or cwd.startswith(f"{folder}/")
            or str(folder) in cmdline
            or f"{HOST}:{master_port}" in cmdline
        ):
            found.append(int(entry))
    return found


def get_json(port: int, path: str) -> Any:
    """A Spark web UI's JSON (a daemon's UI answers in seconds when the cores are busy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{HOST}:{port}{path}", timeout=60) as response:
        return json.load(response)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """The cluster folder; whatever a test leaves running there is stopped afterwards."""
    path = tmp_path / "cluster"
    yield path
    if path.exists():
        run("down", "--dir", path, env=script_env())


@pytest.mark.spark_cluster
@needs_cluster
def test_up_refuses_taken_ports_and_starts_nothing(folder: Path) -> None:
    ports = cluster_ports()
    # One port taken on 127.0.0.1, one on all addresses: both are conflicts.
    with socket.socket() as local, socket.socket() as wildcard:
        local.bind((HOST, ports["SPINE_SPARK_PORT"]))
        local.listen()
        wildcard.bind(("0.0.0.0", ports["SPINE_SPARK_MASTER_PORT"]))
        wildcard.listen()
        up = run("up", "--dir", folder, env=script_env(ports))
    assert up.returncode == 1, up.stdout + up.stderr
    assert f"port {ports['SPINE_SPARK_PORT']} (Thrift server, SPINE_SPARK_PORT)" in up.stderr
    assert f"port {ports['SPINE_SPARK_MASTER_PORT']} (master, SPINE_SPARK_MASTER_PORT)" in up.stderr
    assert "already in use" in up.stderr
    assert cluster_pids(folder, ports["SPINE_SPARK_MASTER_PORT"]) == []
    assert not (folder / "pids").exists() or list((folder / "pids").iterdir()) == []
    status = run("status", "--dir", folder, env=script_env(ports))
    assert status.returncode == 3, status.stdout


def test_status_and_down_without_a_cluster(tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    status = run("status", "--dir", folder, env=script_env())
    assert status.returncode == 3 and "Not running." in status.stdout
    assert "stopped" in status.stdout
    down = run("down", "--dir", folder, env=script_env())
    assert down.returncode == 0 and "nothing to stop" in down.stdout


def test_up_rejects_bad_port_settings(tmp_path: Path) -> None:
    same = run(
        "up",
        "--dir",
        tmp_path / "c",
        env=script_env({"SPINE_SPARK_PORT": 7077, "SPINE_SPARK_MASTER_PORT": 7077}),
    )
    assert same.returncode == 1 and "port 7077 is given twice" in same.stderr
    env = {**script_env(), "SPINE_SPARK_UI_PORT": "http"}
    bad = run("up", "--dir", tmp_path / "c", env=env)
    assert bad.returncode == 1 and "SPINE_SPARK_UI_PORT='http' is not a TCP port" in bad.stderr
