"""Live progress of a backfill on stderr: a progress line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click


class Progress:
    """Stages (planning, loading, building, publishing) and dbt nodes as they finish.

    On a terminal, one line is rewritten in place with a bar over the build's nodes; when
    stderr is not a terminal (a log file, CI), every stage and node is a plain line.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.width = width
        self.total = 0
        self.done = 0

    def stage(self, message: str) -> None:
        self._clear()
        click.echo(f"» {message}", file=self.stream)

    def on_event(self, event: Any) -> None:
        """dbtRunner callback: counts the nodes to run, then each one that finishes."""
        name = event.info.name
        if name == "ConcurrencyLine":
            self.total, self.done = event.data.node_count, 0
        elif name == "NodeFinished":
            self.done = min(self.done + 1, self.total) if self.total else self.done + 1
            node = event.data.node_info
            if self.live:
                filled = int(self.width * self.done / max(self.total, self.done))
                bar = "#" * filled + "-" * (self.width - filled)
                line = f"  dbt [{bar}] {self.done}/{self.total} {node.node_name[:50]}"
                self.stream.write("\r" + line.ljust(100))
                self.stream.flush()
            else:
                click.echo(
                    f"  dbt {self.done}/{self.total} {node.resource_type} {node.node_name}: "
                    f"{node.node_status}",
                    file=self.stream,
                )

    def _clear(self) -> None:
        if self.live and self.done:
            self.stream.write("\r" + " " * 100 + "\r")
            self.done = 0
