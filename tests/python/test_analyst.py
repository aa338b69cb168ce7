"""The analyst's view: documentation coverage and lineage in dbt's manifest, the docs site and
the weekly HTML report, both rendered in headless Chromium from 127.0.0.1.

The suite installs nothing: `.ci/run` installs Debian's `chromium` when it is missing; the
browser tests skip, saying why, only when no Chromium binary is on PATH. They also refresh the
README screenshots in docs/images/.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from spine_wrapper import html_report, relations, site
from spine_wrapper.cli_analyst import docs_command, report_command
from spine_wrapper.paths import PROJECT_DIR

from .conftest import has_key, query, run_cli

REAL_WEEK = "2025-11-28"  # the real file published 2025-12-29
IMAGES = PROJECT_DIR / "docs" / "images"
PUBLIC_MARTS = list(relations.SERVED_MARTS)
PUBLIC_TABLES = [
    *PUBLIC_MARTS,
    *(f"{name}_latest" for name in PUBLIC_MARTS),
    "finra_otc_transparency_reconciliation",
    "finra_otc_transparency_rejects",
    "finra_otc_transparency_captures",
]
SHARED_COLUMNS = [
    "capture_id",
    "run_id",
    "captured_at",
    "week_ending",
    "tier",
    "symbol",
    "mpid",
    "issue_name",
    "venue_name",
    "line_number",
    "raw_line",
    "source_file",
    "file_sha256",
    "rows_read",
    "reason_code",
    "reason_codes",
    "calc_version",
]
# DOMAIN.md §4, as each mart's description must write it out.
FORMULAS = {
    "finra_otc_transparency_symbol_summary": ["total_volume = Σ", "total_volume / total_trades"],
    "finra_otc_transparency_venue_share": ["market_share_pct = total_volume / Σ", "fraction 0–1"],
    "finra_otc_transparency_symbol_venue_share": ["venue_share = shares / Σ"],
    "finra_otc_transparency_symbol_concentration": ["hhi = Σ v² / (Σ v)²", "top3_share"],
    "finra_otc_transparency_symbol_rolling_6w": [
        "avg_volume = Σ total_volume / k",
        "trend_pct = (last − first) / first × 100",
        "is_complete = (k = 6)",
    ],
    "finra_otc_transparency_liquidity_score": [
        "round(avg_trade_size, 2) × venue_count",
        "log10(total_volume + 1)",
    ],
    "finra_otc_transparency_research_snapshot": ["volume_per_trading_day = total_volume /"],
}
BUILTIN_TESTS = {"unique", "not_null", "accepted_values", "relationships"}

# Chromium: the flags of the issue, plus a resolver that fails every host name, so a page that
# renders has needed no network (the tests only ever use the IP literal 127.0.0.1).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VIRTUAL_TIME = "--virtual-time-budget=20000"  # ms of page time: the Angular app has rendered
BROWSER_TIMEOUT = 120  # s of wall time for one Chromium run
WINDOW = "--window-size=1400,900"
LINEAGE = "index.html#!/overview?g_v=1&g_i=%2Bexposure:*"  # everything upstream of exposures

# A page served beside the docs site (same origin) that reads the lineage graph dbt docs draws:
# the app keeps its cytoscape instance in `window.graph`. It waits until the node count is
# stable, then writes the graph's nodes and edges as JSON into the DOM for --dump-dom.
PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<pre id="lineage">pending</pre>
<iframe id="site" src="%s" style="width:1400px;height:900px"></iframe>
<script>
var polls = 0, last = -1, stable = 0;
function probe() {
  polls++;
  var out = document.getElementById('lineage');
  try {
    var graph = document.getElementById('site').contentWindow.graph;
    var count = graph ? graph.nodes().length : 0;
    stable = (count > 0 && count === last) ? stable + 1 : 0;
    last = count;
    if (stable >= 3) {
      out.textContent = JSON.stringify({
        nodes: graph.nodes().map(function (n) {
          return {id: n.id(), type: n.data('resource_type'), label: n.data('label')};
        }),
        edges: graph.edges().map(function (e) {
          return {source: e.data('source'), target: e.data('target')};
        })
      });
      return;
    }
  } catch (err) { out.textContent = 'error: ' + err; }
  if (polls < 150) { setTimeout(probe, 100); } else { out.textContent = 'timeout'; }
}
setTimeout(probe, 100);
</script></body></html>
"""


# ------------------------------------------------------------------------------ manifest


def _own(manifest: dict, *resource_types: str) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] in resource_types and node["package_name"] == "spine_dbt"
    ]


def test_overview_page_explains_the_domain_and_the_layers(manifest: dict) -> None:
    overview = manifest["docs"].get("doc.spine_dbt.__overview__")
    assert overview is not None, "models/overview.md must define {% docs __overview__ %}"
    text = overview["block_contents"]
    for term in (
        "OTC transparency",
        "NMS_TIER_1",
        "Friday",
        "capture",
        "published",
        "staging",
        "intermediate",
        "marts",
        "exposures",
        "_latest",
    ):
        assert term in text, term


def _signature_arguments(macro_sql: str) -> list[str]:
    header = re.search(r"{%-?\s*(?:macro|test)\s+\w+\s*\((.*?)\)\s*-?%}", macro_sql, re.S)
    assert header, macro_sql[:200]
    without_strings = re.sub(r"'[^']*'|\"[^\"]*\"", "''", header.group(1))
    return re.findall(r"(?:^|,)\s*(\w+)", without_strings)


def test_every_macro_generic_test_and_argument_is_described(manifest: dict) -> None:
    missing = []
    for macro in manifest["macros"].values():
        if macro["package_name"] != "spine_dbt":
            continue
        if not macro["description"].strip():
            missing.append(macro["name"])
        documented = {a["name"]: a.get("description") or "" for a in macro["arguments"]}
        for argument in _signature_arguments(macro["macro_sql"]):
            if not documented.get(argument, "").strip():
                missing.append(f"{macro['name']}({argument})")
    assert missing == []


def test_every_generic_test_used_is_builtin_or_a_described_project_test(manifest: dict) -> None:
    described = {
        m["name"].removeprefix("test_")
        for m in manifest["macros"].values()
        if m["package_name"] == "spine_dbt"
        and m["name"].startswith("test_")
        and m["description"].strip()
    }
    used = {
        node["test_metadata"]["name"]
        for node in _own(manifest, "test")
        if node.get("test_metadata")
    }
    assert sorted(used - BUILTIN_TESTS - described) == []


def test_exposures_end_the_lineage_in_what_people_consume(manifest: dict) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert exposures["finra_venue_share_report"]["type"] == "dashboard"
    assert exposures["finra_research_snapshot"]["type"] == "analysis"
    assert (
        "model.spine_dbt.rpt_venue_share_movers"
        in exposures["finra_venue_share_report"]["depends_on"]["nodes"]
    )
    assert (
        "model.spine_dbt.finra_otc_transparency_research_snapshot_latest"
        in exposures["finra_research_snapshot"]["depends_on"]["nodes"]
    )
    for exposure in exposures.values():
        assert exposure["description"].strip(), exposure["name"]
        assert exposure["label"], exposure["name"]
        assert re.fullmatch(r"[\w.-]+@example\.com", exposure["owner"]["email"]), exposure["name"]
        assert exposure["owner"]["name"], exposure["name"]
        assert exposure["depends_on"]["nodes"], exposure["name"]


REPORT_EXPOSURE = "exposure.spine_dbt.finra_venue_share_report"


def _report_models(manifest: dict) -> dict[str, dict]:
    return {n["unique_id"]: n for n in _own(manifest, "model") if n["fqn"][1] == "reports"}


def test_report_models_are_in_the_lineage_with_tests(manifest: dict) -> None:
    """The weekly report's numbers come from dbt models: documented, tested, read only by the
    report's exposure, and reading published data only."""
    reports = _report_models(manifest)
    assert {n["name"] for n in reports.values()} >= {
        "rpt_tier_week_summary",
        "rpt_venue_share_movers",
        "rpt_symbol_movers",
        "rpt_concentration_bands",
        "rpt_week_completeness",
    }
    exposure = manifest["exposures"][REPORT_EXPOSURE]
    assert sorted(exposure["depends_on"]["nodes"]) == sorted(reports)
    assert manifest["child_map"][REPORT_EXPOSURE] == []
    tests: dict[str, list[dict]] = {}
    for test in _own(manifest, "test"):
        for parent in test["depends_on"]["nodes"]:
            tests.setdefault(parent, []).append(test)
    published = {
        n["unique_id"]
        for n in _own(manifest, "model")
        if n["name"].endswith("_latest")
        or n["name"] in ("finra_otc_transparency_captures", "int_captures_latest")
    }
    for uid, node in reports.items():
        name = node["name"]
        assert node["schema"] == relations.REPORTS_SCHEMA, name
        # a view (never capture-keyed, so the publication gate does not wait for it) and not
        # named `_latest` (the gate requires rows of every mart a `_latest` view serves)
        assert node["config"]["materialized"] == "view" and not name.endswith("_latest"), name
        assert "one row per" in node["description"].lower(), name
        assert node["columns"] and all(c["description"].strip() for c in node["columns"].values())
        own_tests = tests.get(uid, [])
        assert any(has_key(t) for t in own_tests), name
        for test in own_tests:
            assert test["config"]["severity"].lower() == "error", test["name"]
            assert test["config"]["where"] == "__weeks_in_build__", test["name"]
        parents = set(manifest["parent_map"][uid])
        assert parents, name
        rejects = "model.spine_dbt.finra_otc_transparency_rejects"
        if rejects in parents:  # every capture's rejects: only with the latest captures
            assert "model.spine_dbt.int_captures_latest" in parents, name
            parents.discard(rejects)
        assert parents <= published | set(reports), f"{name} reads {parents - published}"


def _reaches_exposure(manifest: dict) -> set[str]:
    """Every node with a path (through models, snapshots and exposures) to an exposure."""
    parents = manifest["parent_map"]
    reached: set[str] = set()
    todo = [uid for uid in manifest["exposures"]]
    while todo:
        uid = todo.pop()
        for parent in parents.get(uid, []):
            if parent not in reached:
                reached.add(parent)
                todo.append(parent)
    return reached


def test_no_orphan_every_node_flows_to_an_exposure(manifest: dict) -> None:
    reached = _reaches_exposure(manifest)
    nodes = [n["unique_id"] for n in _own(manifest, "model", "seed", "snapshot")]
    nodes += list(manifest["sources"])
    assert sorted(set(nodes) - reached) == []
    orphans = [
        n["unique_id"]
        for n in _own(manifest, "model")
        if not manifest["parent_map"][n["unique_id"]]
    ]
    assert orphans == []


def test_layers_flow_source_staging_intermediate_marts(manifest: dict) -> None:
    layers = {n["unique_id"]: n["fqn"][1] for n in _own(manifest, "model")}
    for node in _own(manifest, "model"):
        layer = node["fqn"][1]
        sources = [p for p in manifest["parent_map"][node["unique_id"]] if p.startswith("source.")]
        assert layer == "staging" or not sources, f"{node['name']} reads a source: {sources}"
        assert layer in ("staging", "intermediate", "marts", "reports"), node["name"]
        if layer == "staging":
            assert node["name"].startswith("stg_finra__"), node["name"]
        if layer == "intermediate":
            assert node["name"].startswith("int_"), node["name"]
        if layer == "reports":
            assert node["name"].startswith("rpt_"), node["name"]
        else:
            # reports end the model graph: only other reports (and exposures) read them
            readers = [layers[p] for p in manifest["parent_map"][node["unique_id"]] if p in layers]
            assert "reports" not in readers, f"{node['name']} reads a report model"


def test_mart_descriptions_write_out_the_formulas(manifest: dict) -> None:
    models = {n["name"]: n for n in _own(manifest, "model")}
    for name, fragments in FORMULAS.items():
        description = " ".join(models[name]["description"].split())
        for fragment in fragments:
            assert fragment in description, f"{name}: {fragment}"


def test_shared_columns_come_from_doc_blocks(manifest: dict) -> None:
    blocks = {
        uid.split(".")[-1]: " ".join(doc["block_contents"].split())
        for uid, doc in manifest["docs"].items()
        if doc["package_name"] == "spine_dbt"
    }
    assert set(SHARED_COLUMNS) <= set(blocks)
    nodes = [*_own(manifest, "model", "seed", "snapshot"), *manifest["sources"].values()]
    differing = [
        f"{node['name']}.{name}"
        for node in nodes
        for name, column in node["columns"].items()
        if name in SHARED_COLUMNS
        and not " ".join(column["description"].split()).startswith(blocks[name])
    ]
    assert differing == []


def test_public_marts_have_enforced_contracts(manifest: dict) -> None:
    models = {n["name"]: n for n in _own(manifest, "model")}
    missing = []
    for name in PUBLIC_TABLES:
        node = models[name]
        if not node["config"]["contract"]["enforced"]:
            missing.append(name)
        missing += [
            f"{name}.{column}"
            for column, spec in node["columns"].items()
            if not spec.get("data_type")
        ]
    assert missing == []


# ------------------------------------------------------------------------------ commands


def _invoke(command: Callable, *args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", [docs_command, report_command])
def test_commands_have_help_with_an_example(command: Callable) -> None:
    result = _invoke(command, "-h")
    assert result.exit_code == 0
    assert "Example:" in result.output and "spine-dbt " in result.output


def test_docs_needs_a_warehouse(tmp_path: Path) -> None:
    result = _invoke(docs_command, "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 1
    assert "no warehouse" in result.output and not (tmp_path / "none.duckdb").exists()


def test_report_week_must_be_a_friday(real_db: Path, tmp_path: Path) -> None:
    result = _invoke(report_command, "--week", "2025-12-25", "--db", str(real_db))
    assert result.exit_code == 2
    assert "2025-12-19" in result.output and "2025-12-26" in result.output


def _otc_report(db: Path, week: str, out: Path) -> Result:
    return _invoke(
        report_command, "--week", week, "--tier", "OTC", "--db", str(db), "--out", str(out)
    )


def test_report_of_an_unpublished_week_writes_nothing(real_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = _otc_report(real_db, "2025-12-26", out)
    assert result.exit_code == 1
    assert "no published capture of 2025-12-26" in result.output and not out.exists()


@pytest.fixture(scope="module")
def report_path(real_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = _otc_report(real_db, REAL_WEEK, out)
    assert result.exit_code == 0, result.output
    assert "OTC: top venue OTCN 79.84 % (market_share_pct 0.798351)" in result.output
    return out


def test_report_of_the_real_week(report_path: Path) -> None:
    page = report_path.read_text(encoding="utf-8")
    top = re.search(r'<p id="top-venue-OTC">(.*?)</p>', page, re.S)
    assert top and "<b>OTCN</b>" in top.group(1) and "79.84 %" in top.group(1)
    assert "market_share_pct 0.798351" in top.group(1)
    assert page.count("<svg ") >= 3  # venue shares, concentration, movers
    assert "EMPTY_SYMBOL" in page and "4,656" in page  # the one reject of the real files
    matrix = page[page.index('<table class="matrix">') :]
    matrix = matrix[: matrix.index("</table>")]
    assert len(re.findall(r"<tr[^>]*><th>\d{4}-\d{2}-\d{2}</th>", matrix)) == 12


def test_report_is_self_contained(report_path: Path) -> None:
    page = report_path.read_text(encoding="utf-8").lower()
    for reference in ("http://", "https://", "<script", "<link", "<img", "@import", "<iframe"):
        assert reference not in page, reference


def test_report_reads_only_the_report_models(real_db: Path, manifest: dict) -> None:
    """html_report queries the rpt_ models of its exposure and nothing else."""

    class Recording:
        def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
            self.con, self.statements = con, []

        def execute(self, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
            self.statements.append(sql)
            return self.con.execute(sql, params or [])

    with duckdb.connect(str(real_db), read_only=True) as con:
        recording = Recording(con)
        report = html_report.collect(recording, date.fromisoformat(REAL_WEEK), ["OTC"])
    assert [s.tier for s in report.sections] == ["OTC"]
    read = {name for sql in recording.statements for name in re.findall(r"\bfrom\s+([\w.]+)", sql)}
    models = {
        f"{relations.REPORTS_SCHEMA}.{manifest['nodes'][uid]['name']}"
        for uid in manifest["exposures"][REPORT_EXPOSURE]["depends_on"]["nodes"]
    }
    assert read - {"information_schema.tables"} == models


def test_report_numbers_are_the_models_numbers(real_db: Path, report_path: Path) -> None:
    """The Δ pts of the real week is the model's market_share_change_pts, i.e. the difference
    of the two weeks' shares in the `_latest` view."""
    [(current, previous, change)] = query(
        real_db,
        "select market_share_pct, previous_market_share_pct, market_share_change_pts"
        " from reports.rpt_venue_share_movers where week_ending = ? and tier = 'OTC'"
        " and mpid = 'OTCN'",
        [REAL_WEEK],
    )
    [(latest,)] = query(
        real_db,
        "select market_share_pct from main.finra_otc_transparency_venue_share_latest"
        " where week_ending = cast(? as date) - 7 and tier = 'OTC' and mpid = 'OTCN'",
        [REAL_WEEK],
    )
    assert previous == latest and change == (current - previous) * 100
    page = report_path.read_text(encoding="utf-8")
    section = page[page.index('<section id="tier-OTC">') :]
    row = re.search(r"<td><b>OTCN</b></td>.*?</tr>", section, re.S)
    assert row and f"<td class=n>{change:+.2f}</td>" in row.group(0)


def test_report_of_a_warehouse_without_report_models(real_db: Path, tmp_path: Path) -> None:
    """A warehouse built before the rpt_ models existed: the report creates them (views over
    the published marts, nothing published changes) and renders."""
    db = tmp_path / "old.duckdb"
    shutil.copyfile(real_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("drop schema reports cascade")
    out = tmp_path / "r.html"
    result = run_cli(
        "report", "--week", REAL_WEEK, "--tier", "OTC", "--db", str(db), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "creating the report models" in result.output and out.exists()
    assert query(db, "select count(*) from reports.rpt_tier_week_summary")[0][0] > 0


def test_report_escapes_what_it_shows() -> None:
    hostile = "<script>alert(1)</script> & Co"
    venue = html_report.Venue(1, "AB&C", hostile, 10, 2, 1, 1.0, None, None)
    mover = html_report.Mover("X<Y", hostile, 12.0, "UP", 1000.0, 2, 10)
    band = html_report.Band("high", 3, 0.25, 1.0, 1, 10, 1.0)
    section = html_report.TierWeek(
        week_ending=date(2025, 12, 26),
        tier="OTC",
        capture_id="OTC:2025-12-26:20260101T000000000000Z",
        source_file="/f<1>.csv",
        rows_read=2,
        rows_accepted=1,
        rows_rejected=1,
        reject_rate=0.5,
        top_mpid="AB&C",
        top_venue_name=hostile,
        top_market_share_pct=1.0,
        venue_count=1,
        total_volume=10,
        total_trades=2,
        symbol_count=1,
        single_venue_symbol_count=1,
        venues=[venue],
        concentration=[1.0],
        bands=[band],
        risers=[mover],
        rejects_by_code=[html_report.RejectCount("EMPTY_<SYMBOL>", 1)],
        reject_samples=[html_report.RejectedLine("/f<1>.csv", 3, "EMPTY_<SYMBOL>", hostile)],
    )
    report = html_report.WeekReport(
        date(2025, 12, 26), ["OTC"], [section], [date(2025, 12, 26)], {}, 0
    )
    page = html_report.render(report)
    assert "<script>" not in page and "<SYMBOL>" not in page and "f<1>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
    assert "AB&amp;C" in page and "X&lt;Y" in page and "EMPTY_&lt;SYMBOL&gt;" in page


@pytest.fixture(scope="module")
def site_dir(real_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    result = _invoke(docs_command, "--db", str(real_db), "--target-path", str(target), "--static")
    assert result.exit_code == 0, result.output
    return target


def test_docs_site_has_the_catalog_of_the_warehouse(site_dir: Path) -> None:
    catalog = json.loads((site_dir / "catalog.json").read_text())
    venue_share = catalog["nodes"]["model.spine_dbt.finra_otc_transparency_venue_share"]
    assert venue_share["columns"]["market_share_pct"]["type"].upper() == "DOUBLE"
    assert "source.spine_dbt.finra.finra_rows" in catalog["sources"]
    assert (site_dir / "static_index.html").stat().st_size > (
        site_dir / "index.html"
    ).stat().st_size


def test_docs_serve_listens_on_127_0_0_1(site_dir: Path) -> None:
    """`spine-dbt docs --serve --no-generate --port 0` end to end, in a child process."""
    code = "from spine_wrapper.cli_analyst import docs_command; docs_command()"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--serve",
            "--no-generate",
            "--port",
            "0",
            "--target-path",
            str(site_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        with urllib.request.urlopen(match.group(1) + "manifest.json", timeout=10) as response:
            assert json.load(response)["metadata"]["project_name"] == "spine_dbt"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="session")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        binary = shutil.which(name)
        if binary:
            return binary
    pytest.skip(
        "no Chromium on PATH: `.ci/run` installs Debian's chromium (apt-get install -y "
        "chromium); the test suite itself installs nothing"
    )


def _browse(chromium: str, tmp_path: Path, url: str, *args: str) -> str:
    """Run headless Chromium on `url` (bounded in time) and return its stdout."""
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its helper processes share a group we can kill as one
    )
    try:
        out, err = process.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT}s on {url}")
    assert process.returncode == 0, err[-3000:]
    return out


def _screenshot(chromium: str, tmp_path: Path, url: str, name: str) -> None:
    """Screenshot `url` at 1400×900 and refresh docs/images/<name> (README's pictures)."""
    shot = tmp_path / name
    _browse(chromium, tmp_path, url, VIRTUAL_TIME, WINDOW, f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and 20_000 < len(data) < 2_000_000, len(data)
    IMAGES.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, IMAGES / name)


def _nav_ids(dom: str) -> set[str]:
    """The nodes the docs app listed in its sidebar trees (rendered by Angular)."""
    return set(re.findall(r'data-nav-unique-id="([^"]+)"', dom))


def test_lineage_graph_renders_source_to_exposures(
    chromium: str, site_dir: Path, tmp_path: Path, manifest: dict
) -> None:
    (site_dir / "lineage_probe.html").write_text(PROBE % LINEAGE, encoding="utf-8")
    with site.serving(site_dir) as server:
        probe = site.url(server, "lineage_probe.html")
        dom = _browse(chromium, tmp_path, probe, VIRTUAL_TIME, "--dump-dom")
        _screenshot(chromium, tmp_path, site.url(server, LINEAGE), "lineage.png")
    found = re.search(r'<pre id="lineage">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    graph = json.loads(html.unescape(found.group(1)))
    drawn = {node["id"]: node for node in graph["nodes"]}
    edges = {(edge["source"], edge["target"]) for edge in graph["edges"]}

    # Everything upstream of the exposures is drawn: every source, model, seed and snapshot
    # (so no model is an orphan that feeds nothing people consume).
    expected = {n["unique_id"] for n in _own(manifest, "model", "seed", "snapshot")}
    expected |= set(manifest["sources"]) | set(manifest["exposures"])
    assert sorted(expected - set(drawn)) == []
    by_type: dict[str, set[str]] = {}
    for node in drawn.values():
        by_type.setdefault(node["type"], set()).add(node["label"])
    assert {"finra.finra_rows", "finra.captures", "finra.capture_events"} <= by_type["source"]
    assert {"Weekly venue-share report", "Research snapshot (symbol × week)"} <= by_type["exposure"]
    models = by_type["model"]
    assert any(m.startswith("stg_finra__") for m in models)
    assert any(m.startswith("int_") for m in models)
    assert set(PUBLIC_TABLES) <= models

    # One path through every layer, edge by edge as drawn.
    path = [
        "source.spine_dbt.finra.finra_rows",
        "model.spine_dbt.stg_finra__rows_validated",
        "model.spine_dbt.int_venue_volumes",
        "model.spine_dbt.finra_otc_transparency_venue_share",
        "model.spine_dbt.finra_otc_transparency_venue_share_latest",
        "model.spine_dbt.rpt_venue_share_movers",
        "exposure.spine_dbt.finra_venue_share_report",
    ]
    assert [(a, b) for a, b in zip(path, path[1:], strict=False) if (a, b) not in edges] == []


def test_docs_site_lists_everything_and_shows_the_overview(
    chromium: str, site_dir: Path, tmp_path: Path, manifest: dict
) -> None:
    with site.serving(site_dir) as server:
        dom = _browse(
            chromium,
            tmp_path,
            site.url(server, "index.html#!/overview"),
            VIRTUAL_TIME,
            "--dump-dom",
        )
    listed = _nav_ids(dom)
    expected = {n["unique_id"] for n in _own(manifest, "model", "seed", "snapshot")}
    expected |= set(manifest["sources"]) | set(manifest["exposures"])
    assert sorted(expected - listed) == []
    assert "FINRA OTC Transparency, week by week" in dom


def test_static_site_opens_from_disk_without_a_server(
    chromium: str, site_dir: Path, tmp_path: Path
) -> None:
    page = (site_dir / "static_index.html").as_uri() + "#!/overview"
    dom = _browse(chromium, tmp_path, page, VIRTUAL_TIME, "--dump-dom")
    assert "FINRA OTC Transparency, week by week" in dom
    assert "exposure.spine_dbt.finra_venue_share_report" in _nav_ids(dom)


def test_report_renders_in_chromium_without_network(
    chromium: str, report_path: Path, tmp_path: Path
) -> None:
    with site.serving(report_path.parent) as server:
        url = site.url(server, report_path.name)
        dom = _browse(chromium, tmp_path, url, VIRTUAL_TIME, "--dump-dom")
        _screenshot(chromium, tmp_path, url, "report.png")
    top = re.search(r'<p id="top-venue-OTC">(.*?)</p>', dom, re.S)
    assert top, dom[:2000]
    text = re.sub(r"<[^>]+>", "", top.group(1))
    assert "OTCN" in text and "79.84 %" in text
    assert len(re.findall(r"<svg[^>]*class=\"chart\"", dom)) >= 3
