"""The text tables and the live progress, rendered through rich (issue #13): tables stay
parseable line by line, progress stays plain lines off a terminal and ends cleanly on one."""

from __future__ import annotations

import io
import re
from datetime import date
from types import SimpleNamespace

import pytest

from spine_wrapper import report
from spine_wrapper.backfill import BackfillResult, Partition
from spine_wrapper.ledger import Cell
from spine_wrapper.progress import Progress

ANSI = re.compile(r"\x1b[\[\]()#;?]*[0-9;]*[A-Za-z]|\x1b")
LONG_PATH = "/data/finra/otc/" + "deep/" * 40 + "OTC_2025-01-03_weekly_summary.csv"
CAPTURE = "OTC:2025-01-03:20250107T101112131415Z"


@pytest.fixture(autouse=True)
def _colour_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment must not bring colour or a narrow width into the tables."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "40")


def test_table_prints_long_cells_whole_rows_at_column_zero() -> None:
    text = report.table(
        ["week", "tier", "capture", "file", "rows", "detail"],
        [
            ["2025-01-03", "OTC", CAPTURE, LONG_PATH, 1234, None],
            ["2025-01-10", "NMS_T1", None, "[bold]not markup[/bold] :smile:", None, "a b"],
        ],
    )
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0].split() == ["week", "tier", "capture", "file", "rows", "detail"]
    assert set(lines[1]) <= {"-", " "} and lines[1].startswith("-")  # the rule under it
    data = [line for line in lines if line.startswith("2025-")]
    assert len(data) == 2 == len(lines) - 2
    assert data[0].split() == ["2025-01-03", "OTC", CAPTURE, LONG_PATH, "1234"]
    assert LONG_PATH in text and "…" not in text  # neither wrapped nor cut
    # None is an empty cell: the row has fewer words, the columns stay aligned
    assert data[1].split() == [
        "2025-01-10",
        "NMS_T1",
        "[bold]not",
        "markup[/bold]",
        ":smile:",
        "a",
        "b",
    ]
    column = lines[0].index("file")
    assert data[0][column:].startswith(LONG_PATH)
    assert data[1][column:].startswith("[bold]not markup[/bold] :smile:")
    assert lines[0].index("capture") == data[0].index(CAPTURE)
    assert all(line == line.rstrip() for line in lines)


def test_table_columns_are_two_spaces_apart_and_empty_tables_keep_the_header() -> None:
    assert report.table(["a", "bb"], [["x", 1], ["yyy", None]]).splitlines() == [
        "a    bb",
        "---- --",
        "x    1",
        "yyy",
    ]
    assert report.table(["week", "tier"], [])
    assert report.table(["week", "tier"], []).splitlines()[0].split() == ["week", "tier"]


def test_completeness_matrix_layout() -> None:
    weeks = [date(2025, 1, 3), date(2025, 1, 10)]
    tiers = ["OTC", "NMS_T1", "NMS_T2"]
    cells = {
        (weeks[0], "OTC"): Cell("published", 2, CAPTURE),
        (weeks[0], "NMS_T1"): Cell("failed", 0, None, "tests failed"),
        (weeks[0], "NMS_T2"): Cell("stale", 1, "NMS_T2:2025-01-03:x"),
        (weeks[1], "OTC"): Cell("missing", 0, None),
        (weeks[1], "NMS_T1"): Cell("loaded", 0, None),
        (weeks[1], "NMS_T2"): Cell("incomplete", 1, "NMS_T2:2025-01-10:y", "no venue rows"),
    }
    text = report.completeness_matrix(cells, weeks, tiers)
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0].split() == ["week", "OTC", "NMS_T1", "NMS_T2"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("2025-")}
    assert rows == {"2025-01-03": ["✓2", "✗", "~1"], "2025-01-10": ["·", "…", "!1"]}
    for line in lines[:2] + [line for line in lines if line.startswith("2025-")][:2]:
        assert not line.startswith(" ")
    assert lines.index("gaps:") == 4
    assert "  2025-01-03 NMS_T1: failed (tests failed)" in lines
    assert "  2025-01-10 NMS_T2: incomplete (no venue rows)" in lines
    assert lines[lines.index("latest capture per cell:") + 1] == f"  2025-01-03 OTC: {CAPTURE}"


def test_backfill_summary_table() -> None:
    partitions = [
        Partition(date(2025, 1, 3), "OTC", "load", capture_id=CAPTURE, status="published"),
        Partition(date(2025, 1, 10), "OTC", "up to date"),
    ]
    partitions[0].rows_read, partitions[0].rows_accepted, partitions[0].rows_rejected = 9, 8, 1
    text = report.backfill_summary(BackfillResult("run-1", partitions))
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0] == "run run-1"
    assert lines[1].split()[:4] == ["week", "tier", "plan", "capture"]
    rows = [line.split() for line in lines if line.startswith("2025-")]
    assert rows == [
        ["2025-01-03", "OTC", "load", CAPTURE, "9", "8", "1", "published"],
        ["2025-01-10", "OTC", "up", "to", "date", "up", "to", "date"],
    ]


def _event(name: str, **data: object) -> SimpleNamespace:
    return SimpleNamespace(info=SimpleNamespace(name=name), data=SimpleNamespace(**data))


def _finished(name: str, status: str = "success", kind: str = "model") -> SimpleNamespace:
    node = SimpleNamespace(node_name=name, resource_type=kind, node_status=status)
    return _event("NodeFinished", node_info=node)


def _build(progress: Progress, nodes: list[SimpleNamespace]) -> None:
    progress.stage("dbt build of 2 captures (run r1)")
    progress.on_event(_event("ConcurrencyLine", node_count=len(nodes)))
    for node in nodes:
        progress.on_event(node)
    progress.on_event(_event("CommandCompleted"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_prints_plain_lines() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    assert not progress.live
    _build(progress, [_finished("stg_otc"), _finished("not_null_x", "fail", "test")])
    progress.stage("published 1 weeks: 2025-01-03")
    progress.close()
    assert stream.getvalue() == (
        "» dbt build of 2 captures (run r1)\n"
        "  dbt 1/2 model stg_otc: success\n"
        "  dbt 2/2 test not_null_x: fail\n"
        "» published 1 weeks: 2025-01-03\n"
    )


def test_progress_on_a_terminal_shows_a_bar_and_ends_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    stream = Terminal()
    with Progress(stream) as progress:
        assert progress.live
        progress.stage("planning")
        progress.on_event(_event("ConcurrencyLine", node_count=3))
        progress.on_event(_finished("stg_finra_otc_weekly"))
        bar = progress._bar
        assert bar is not None and bar.live.is_started
        progress.on_event(_finished("int_windows"))
        progress.on_event(_finished("fct_venue_share_" + "long_name_" * 10))
        progress.on_event(_event("CommandCompleted"))
        assert progress._bar is None and not bar.live.is_started  # the command is over
        progress.stage("published 1 weeks")
    output = stream.getvalue()
    assert "» planning\n" in output and output.endswith("» published 1 weeks\n")
    frames = [ANSI.sub("", frame) for frame in output.split("\r")]
    last = next(frame for frame in reversed(frames) if "3/3" in frame)
    # a long node name is cut to the line; the bar and the count keep their room
    assert re.search(r"^  dbt \S{30} 3/3 fct_venue_share_long_name_\S*…", last)
    assert len(last.rstrip("\n")) <= 80
    assert "\x1b[?25h" in output  # the cursor is shown again


def test_progress_on_a_terminal_stops_the_bar_at_a_stage_or_close() -> None:
    stream = Terminal()
    progress = Progress(stream)
    progress.on_event(_event("ConcurrencyLine", node_count=5))
    progress.on_event(_finished("a"))
    progress.stage("dbt build of 1 captures (run r1)")  # no CommandCompleted before it
    assert progress._bar is None
    progress.on_event(_finished("b"))  # nodes without a ConcurrencyLine still show
    assert progress._bar is not None
    progress.close()
    progress.close()
    assert progress._bar is None
    assert stream.getvalue().count("\x1b[?25h") == 2
