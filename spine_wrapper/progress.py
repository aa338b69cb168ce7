"""Live progress of a backfill on stderr: a rich progress bar on a terminal, plain lines
elsewhere."""

from __future__ import annotations

import atexit
import sys
import threading
from typing import Any, TextIO

import click
from rich import progress as rich_progress
from rich.console import Console
from rich.table import Column


class Progress:
    """Stages (planning, loading, building, publishing) and dbt nodes as they finish.

    On a terminal, a rich progress bar over the build's nodes shows the node that finished
    last, and stages are printed above it; the bar is removed when the dbt command completes,
    at the next stage, or at `close()` (also the end of a `with` block, and, as a last resort,
    the interpreter's exit). When the stream is not a terminal (a log file, CI), every stage is
    a plain `» <stage>` line and every node a plain
    `  dbt n/N <resource_type> <name>: <status>` line.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.width = width
        self.total = 0
        self.done = 0
        self._lock = threading.RLock()  # dbt may fire events from its worker threads
        self._bar: rich_progress.Progress | None = None
        self._task: rich_progress.TaskID | None = None
        self.console = (
            Console(
                file=self.stream,
                force_terminal=True,  # the stream said it is a terminal
                markup=False,
                emoji=False,
                highlight=False,
            )
            if self.live
            else None
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop and clear the live bar, if one is showing (safe to call more than once)."""
        with self._lock:
            self._stop()

    def stage(self, message: str) -> None:
        with self._lock:
            self._stop()  # a new stage: the build before it is over
            if self.console is not None:
                self.console.print(f"» {message}", soft_wrap=True)
            else:
                click.echo(f"» {message}", file=self.stream)

    def on_event(self, event: Any) -> None:
        """dbtRunner callback: counts the nodes to run, then each one that finishes."""
        name = event.info.name
        with self._lock:
            if name == "ConcurrencyLine":
                self.total, self.done = event.data.node_count, 0
                if self.live:
                    self._start()
            elif name == "NodeFinished":
                self.done = min(self.done + 1, self.total) if self.total else self.done + 1
                node = event.data.node_info
                if self.live:
                    if self._bar is None:  # nodes without a ConcurrencyLine before them
                        self._start()
                    assert self._bar is not None and self._task is not None
                    self._bar.update(
                        self._task,
                        completed=self.done,
                        total=self.total or None,
                        description=node.node_name,
                    )
                else:
                    click.echo(
                        f"  dbt {self.done}/{self.total} {node.resource_type} {node.node_name}: "
                        f"{node.node_status}",
                        file=self.stream,
                    )
            elif name == "CommandCompleted":  # dbt fires it last, even when the command failed
                self._stop()

    def _start(self) -> None:
        self._stop()
        assert self.console is not None
        self._bar = rich_progress.Progress(
            rich_progress.TextColumn("  dbt"),
            rich_progress.BarColumn(bar_width=self.width),
            rich_progress.MofNCompleteColumn(),
            rich_progress.TextColumn(
                "{task.description}",
                markup=False,
                # the rest of the line, the node's name cut with an ellipsis to fit it
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            console=self.console,
            expand=True,
            transient=True,  # cleared when stopped; the summary follows
            redirect_stdout=False,  # started from a dbt callback: leave sys.stdout alone
            redirect_stderr=False,
        )
        self._task = self._bar.add_task("", total=self.total or None, completed=self.done)
        self._bar.start()
        atexit.register(self.close)

    def _stop(self) -> None:
        if self._bar is None:
            return
        bar, self._bar, self._task = self._bar, None, None
        atexit.unregister(self.close)
        bar.stop()
