"""The dbt docs site: generate it against the warehouse (catalog included) and serve it locally."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import dbt
from .warehouse import Warehouse

HOST = "127.0.0.1"  # never another interface: the site documents a private warehouse
SITE_FILES = ("index.html", "manifest.json", "catalog.json")
STATIC_FILE = "static_index.html"


class SiteError(Exception):
    """The site could not be generated (no warehouse, or dbt failed)."""


def generate(warehouse: Warehouse, target_dir: Path | None = None, static: bool = False) -> Path:
    """Run `dbt docs generate` against `warehouse`, writing the site into `target_dir` (default:
    the warehouse's own dbt target folder, dbt.target_path, beside the warehouse).

    The catalog (column types, row counts) is read from the warehouse, so it must exist.
    Returns the page to open: `static_index.html` (one file, no server needed) with `static`,
    else `index.html` (needs a web server: it fetches manifest.json and catalog.json).
    """
    if not warehouse.exists():
        raise SiteError(f"no warehouse at {warehouse}: run `spine-dbt backfill` first")
    target_dir = (target_dir or dbt.target_path(warehouse)).resolve()
    extra = ["--target-path", str(target_dir)]  # dbt's log goes beside the warehouse (invoke)
    if static:
        extra.append("--static")
    outcome = dbt.invoke("docs generate", warehouse, extra_args=extra)
    if not outcome.success:
        failed = ", ".join(f"{node.name} ({node.message})" for node in outcome.failed)
        raise SiteError(f"dbt docs generate failed: {outcome.exception or failed or 'see logs'}")
    missing = [name for name in SITE_FILES if not (target_dir / name).exists()]
    if missing:
        raise SiteError(f"dbt docs generate wrote no {', '.join(missing)} in {target_dir}")
    return target_dir / (STATIC_FILE if static else "index.html")


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files from one folder; request lines are not echoed (the CLI prints the URL)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        return


def make_server(directory: Path, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `directory` on 127.0.0.1 (`port` 0 picks a free port)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise SiteError(f"cannot serve on {HOST}:{port}: {exc.strerror or exc}") from None


def url(server: ThreadingHTTPServer, page: str = "") -> str:
    return f"http://{HOST}:{server.server_address[1]}/{page}"


@contextmanager
def serving(directory: Path, port: int = 0) -> Iterator[ThreadingHTTPServer]:
    """Serve `directory` in a background thread for the duration of the block (tests, tools)."""
    server = make_server(directory, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
