"""One home per concept (#13): what both the dbt project and the wrapper know, held together.

Where the wrapper can read what the models read, it does (one source): the tier spellings and
publication delays (spine_wrapper/tiers.py reads the tier_aliases and publication_delays
seeds), the calc versions (calcs.py, calc_versions), the NYSE holidays (generate.py,
nyse_holidays). What is still written twice, once for SQL and Jinja and once for Python, is held
here, the SQL side evaluated for real rather than read as text where it is code:

- the macros are rendered by dbt (`dbt compile --inline`) and run in DuckDB over grids of
  inputs next to their Python twins: the week rule (`week_ending_from_last_update`,
  `days_since_friday` / weeks.friday_before), the date reader (`parsed_iso_date` /
  formats.parse_iso), the tier spelling key (`alias_key` / tiers.alias_key), the id patterns
  (`capture_id_pattern`, `run_id_pattern` / load.capture_id_for, new_run_stamp), the tier
  and status lists (`canonical_tiers`, `capture_statuses`) and the version order
  (`sort_versions` / calcs);
- the staging model that places and validates every row (stg_finra__rows_validated) is built
  by dbt over a grid of synthetic captures whose weeks and tiers the Python functions the
  loader uses decided (formats.publication_week, formats.row_week, tiers.canonical_tier, and
  generate.publication_date for the demo files): every week rule, every tier, hundreds of
  publication dates across years and NYSE holidays. Where the two sides disagree, a row gets
  INVALID_WEEK_ENDING, INVALID_WEEK_START, INVALID_DATE, INVALID_TIER or TIER_MISMATCH;
- the raw tables' DDL (warehouse.RAW_DDL for DuckDB, engines.SPARK_RAW_DDL for Spark, the dbt
  sources, the loader's RAW_COLUMNS and the macros' INSERT column lists) are compared column
  by column;
- the enumerations written in YAML tests and in Python (tiers, capture statuses, week sources,
  reason codes) are compared as lists.

Three dbt invocations (seed, run, compile) on a temporary DuckDB warehouse, through the
wrapper's own spine_wrapper.dbt.invoke, serve the whole module (about 10 s).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from spine_wrapper import calcs, cli, engines, formats, generate, ledger, load, tiers, weeks
from spine_wrapper import dbt as spine_dbt
from spine_wrapper.paths import PROJECT_DIR, SEEDS_DIR
from spine_wrapper.warehouse import RAW_DDL, Warehouse

from .conftest import invariants

MACROS_DIR = PROJECT_DIR / "macros"
MODELS_DIR = PROJECT_DIR / "models"

# The reason codes a grid row may get from a disagreement between the two sides.
WEEK_AND_TIER_CODES = frozenset(
    {"INVALID_DATE", "INVALID_WEEK_START", "INVALID_WEEK_ENDING", "INVALID_TIER", "TIER_MISMATCH"}
)
FIELD_COUNT = 8  # every grid row has its capture's field count: never MALFORMED_ROW


# --- inputs -----------------------------------------------------------------------------------


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# The macros' grid: every day of 2018-2028, and around the epoch the macro counts from
# (1970-01-02, a Friday), leap days of other centuries and the end of the calendar.
MACRO_DAYS = sorted(
    {
        *_days(date(2018, 1, 1), date(2028, 12, 31)),
        *_days(date(1969, 12, 1), date(1970, 2, 1)),
        *_days(date(1900, 2, 20), date(1900, 3, 10)),
        *_days(date(2000, 2, 20), date(2000, 3, 10)),
        *_days(date(2100, 2, 20), date(2100, 3, 10)),
        *_days(date(9999, 12, 1), date(9999, 12, 31)),
    }
)

# The model's grid of publication (and lastUpdate) dates: every NYSE holiday of the seed and
# the days around it, every day of three months across a year end, the days around the epoch
# and leap days.
MODEL_DAYS = sorted(
    {
        *(day + timedelta(days=shift) for day in generate.nyse_holidays() for shift in (-1, 0, 1)),
        *_days(date(2025, 11, 1), date(2026, 1, 31)),
        *_days(date(1969, 12, 24), date(1970, 1, 9)),
        date(2020, 2, 29),
        date(2024, 2, 29),
        date(2028, 2, 29),
    }
)

# Texts of a date field, valid or not: the model reads them trimmed (trim, spaces only) with
# parsed_iso_date, the wrapper with formats.parse_iso.
DATE_TEXTS = [
    "2025-12-15",
    "2025-12-19",
    "2024-02-29",
    "2025-02-29",
    "1900-02-29",
    "2000-02-29",
    "2025-02-30",
    "2025-04-31",
    "2025-12-32",
    "2025-12-00",
    "2025-13-01",
    "2025-00-10",
    "0000-01-01",
    "0001-01-08",
    "9999-12-31",
    "10000-01-01",
    "20251215",
    "2025/12/15",
    "2025-1-15",
    "25-12-15",
    "2025-12-15T00:00:00",
    "2025-12-15 00:00:00",
    "+2025-12-15",
    "2025-12-1x",
    "２０２５-12-15",
    "",
    "null",
]
PADDED_DATE_TEXTS = [" 2025-12-15", "2025-12-15 ", "  2025-12-15  "]
# formats.parse_iso strips every kind of whitespace (str.strip); the model's trim() only
# spaces, so a date with a tab is a date to the wrapper and INVALID_DATE to the model.
TAB_DATE_TEXTS = ["2025-12-15\t", "\t2025-12-15"]

# Spellings of a tier: the seed's, the generator's, variants and non-tiers.
NOT_TIERS = ["", " ", "Tier 3", "NMS", "NMS Tier", "OTC Pink", "OTCBB", "T12", "T 3", "1", "TIER"]
WHITESPACE_SPELLINGS = ["\tOTC", "OTC\t", "NMS\tTier 1", "T1\r"]


def _seed_rows(name: str) -> list[dict[str, str]]:
    import csv

    with (SEEDS_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def tier_spellings() -> list[str]:
    seeded = [row["alias"] for row in _seed_rows("tier_aliases")] + list(tiers.TIERS)
    generated = [
        *generate.TIER_DESCRIPTIONS.values(),
        *(spelling for pair in generate._API_TIERS.values() for spelling in pair),
    ]
    variants = []
    for spelling in seeded:
        variants += [
            spelling.lower(),
            spelling.upper(),
            f"  {spelling} ",
            spelling.replace(" ", "_"),
            spelling.replace(" ", "-"),
            spelling.replace("_", " "),
            spelling.replace("_", "-").lower(),
            " ".join(spelling),
        ]
    return list(dict.fromkeys([*seeded, *generated, *variants, *NOT_TIERS, *WHITESPACE_SPELLINGS]))


# --- the synthetic warehouse ------------------------------------------------------------------


@dataclass
class GridCapture:
    """One capture of the model's grid: what the wrapper decided, and what its rows must get."""

    group: str
    label: str
    tier: str
    week: date
    week_source: str
    rows: list[dict[str, object]]
    expected: frozenset[str] = frozenset()  # of every row, among WEEK_AND_TIER_CODES
    capture_id: str = ""


@dataclass
class Grid:
    captures: list[GridCapture] = field(default_factory=list)

    def add(self, capture: GridCapture) -> None:
        self.captures.append(capture)

    def group(self, name: str) -> list[GridCapture]:
        found = [c for c in self.captures if c.group == name]
        assert found, name
        return found


def _row(**fields: object) -> dict[str, object]:
    return {
        "symbol_raw": "ABC",
        "mpid_raw": "ABCD",
        "shares_raw": "100",
        "trades_raw": "2",
    } | fields


def _row_week_expectation(source: str, text: str) -> tuple[date | None, frozenset[str]]:
    """The week the wrapper gives a row's own week field under `source`, and the reason codes
    the model must then give it (none when the wrapper found its week)."""
    if formats.parse_iso(text) is None:
        return None, frozenset({"INVALID_DATE"})
    week = formats.row_week(text, source)
    if week is None:
        wrong = "INVALID_WEEK_START" if source == formats.WEEK_START_DATE else "INVALID_WEEK_ENDING"
        return None, frozenset({wrong})
    return week, frozenset()


def build_grid() -> Grid:
    grid = Grid()
    delays = tiers.publication_delay_weeks()
    for tier in tiers.TIERS:
        for index, day in enumerate(MODEL_DAYS):
            # The legacy export (lastUpdateDate only; a revised row's is later, and comes
            # first) and the API export (initialPublishedDate, a later lastUpdateDate).
            # The file's publication is `day` either way (its earliest date).
            revised = (day + timedelta(days=14)).isoformat()
            if (index + tiers.TIERS.index(tier)) % 2:
                rows = [
                    _row(tier_raw=tier, last_update_date_raw=revised, symbol_raw="REV"),
                    _row(tier_raw=tier, last_update_date_raw=day.isoformat()),
                ]
            else:
                rows = [
                    _row(
                        tier_raw=tier,
                        initial_published_date_raw=day.isoformat(),
                        last_update_date_raw=revised,
                    ),
                    _row(
                        tier_raw=tier,
                        initial_published_date_raw=day.isoformat(),
                        last_update_date_raw=day.isoformat(),
                        symbol_raw="XYZ",
                    ),
                ]
            week = formats.publication_week(day, delays[tier])
            label = f"{tier} published {day}"
            grid.add(
                GridCapture("publication_delay", label, tier, week, formats.PUBLICATION_DELAY, rows)
            )

            text = day.isoformat()
            prev_week, expected = _row_week_expectation(formats.PREVIOUS_FRIDAY, text)
            assert prev_week is not None and not expected
            rows = [_row(tier_raw=tier, last_update_date_raw=text)]
            label = f"{tier} lastUpdateDate {day}"
            grid.add(
                GridCapture(
                    "previous_friday", label, tier, prev_week, formats.PREVIOUS_FRIDAY, rows
                )
            )

        # The generator's demo files: FINRA's publication day of each Friday of the seed's
        # years (the Monday after the delay, or the next NYSE business day).
        for friday in weeks.fridays(date(2019, 1, 4), date(2027, 12, 31)):
            published = generate.publication_date(friday, tier)
            rows = [
                _row(tier_raw=generate.TIER_DESCRIPTIONS[tier], last_update_date_raw=str(published))
            ]
            label = f"{tier} week {friday} generated, published {published}"
            grid.add(GridCapture("generated", label, tier, friday, formats.PUBLICATION_DELAY, rows))

    # Each row's own week field: weekStartDate (a Monday), WeekEnding (a Friday), and the
    # previous-Friday rule, over six weeks of days and every date text.
    sources = {
        formats.WEEK_START_DATE: "week_start_raw",
        formats.WEEK_ENDING_COLUMN: "week_ending_raw",
        formats.PREVIOUS_FRIDAY: "last_update_date_raw",
    }
    texts = [day.isoformat() for day in _days(date(2025, 12, 1), date(2026, 1, 11))]
    for source, column in sources.items():
        cases = [("row_week", text) for text in texts] + [
            ("date_text", text) for text in [*DATE_TEXTS, *PADDED_DATE_TEXTS, *TAB_DATE_TEXTS]
        ]
        for group, text in cases:
            week, expected = _row_week_expectation(source, text)
            rows = [_row(tier_raw="OTC", **{column: text})]
            label = f"{source} {text!r}"
            grid.add(
                GridCapture(group, label, "OTC", week or date(2025, 12, 12), source, rows, expected)
            )

    for spelling in tier_spellings():
        tier = tiers.canonical_tier(spelling)
        expected = frozenset() if tier else frozenset({"INVALID_TIER"})
        rows = [_row(tier_raw=spelling, week_ending_raw="2025-12-12")]
        label = f"tier {spelling!r}"
        grid.add(
            GridCapture(
                "tier",
                label,
                tier or "OTC",
                date(2025, 12, 12),
                formats.WEEK_ENDING_COLUMN,
                rows,
                expected,
            )
        )
    return grid


def load_grid(db: Path, grid: Grid) -> None:
    """Land the grid as the loader would: raw rows, captures and their `loaded` events (written
    by the wrapper's own events writer), in tables made by the wrapper's DDL."""
    base = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    run_id = f"run_{load.new_run_stamp(base)}"
    captures, rows = [], []
    for index, capture in enumerate(grid.captures):
        stamp = load.new_run_stamp(base + timedelta(microseconds=index))
        capture.capture_id = load.capture_id_for(capture.tier, capture.week.isoformat(), stamp)
        layout = "simplified" if capture.week_source == formats.WEEK_ENDING_COLUMN else "finra"
        captures.append(
            {
                "capture_id": capture.capture_id,
                "run_id": run_id,
                "week_ending": capture.week,
                "tier": capture.tier,
                "source_file": f"/grid/{index}.txt",
                "file_sha256": f"{index:064x}",
                "layout": layout,
                "expected_field_count": FIELD_COUNT,
                "rows_read": len(capture.rows),
                "calc_versions": "{}",
                "captured_at": base.replace(tzinfo=None),
                "week_source": capture.week_source,
            }
        )
        for line, fields in enumerate(capture.rows, start=2):
            assert set(fields) <= set(load.RAW_COLUMNS.values()), fields
            rows.append(
                {
                    "capture_id": capture.capture_id,
                    "line_number": line,
                    "raw_line": capture.label,
                    "field_count": FIELD_COUNT,
                    "capture_week_ending": capture.week,
                    **{name: fields.get(name) for name in load.RAW_COLUMNS.values()},
                }
            )
    with duckdb.connect(str(db)) as con:
        for statement in RAW_DDL:
            con.execute(statement)
        con.execute(
            "insert into raw.captures by name select unnest(?, recursive := true)", [captures]
        )
        con.execute(
            "insert into raw.finra_rows by name select unnest(?, recursive := true)", [rows]
        )
        ids = [c["capture_id"] for c in captures]
        ledger.append_events(con, ids, "loaded", "parity grid", base)


# --- dbt --------------------------------------------------------------------------------------

VERSIONS = ["v10", "v2", "v1", "v100", "v9", "v11", "v3"]

# Rendered by `dbt compile --inline` as one JSON object: SQL expressions over a column `d`
# (a date) or `t` (a text), and the values of the macros that return lists or patterns.
INLINE = """{{ tojson({
    'week_ending_from_last_update': week_ending_from_last_update('d') | string,
    'days_since_friday': days_since_friday('d') | string,
    'parsed_iso_date': parsed_iso_date('t') | string,
    'alias_key': alias_key('t') | string,
    'capture_id_pattern': capture_id_pattern(),
    'run_id_pattern': run_id_pattern(),
    'canonical_tiers': canonical_tiers(),
    'capture_statuses': capture_statuses(),
    'sort_versions': sort_versions(__VERSIONS__),
    'build_vars': build_vars().keys() | list,
    'finra_field_columns': finra_field_columns(),
}) }}""".replace(
    "__VERSIONS__",
    json.dumps(sorted({*VERSIONS, *(r["version"] for r in _seed_rows("calc_versions"))})),
)


@dataclass
class DbtSide:
    db: Path
    grid: Grid
    rendered: dict[str, object]
    reasons: dict[tuple[str, int], frozenset[str]]  # (capture id, line) -> its reason codes
    build_error: str | None  # why dbt could not build the staging models over the grid


def _dbt(warehouse: Warehouse, command: str, *args: str) -> tuple[spine_dbt.DbtOutcome, str]:
    """dbt's outcome, and what went wrong ('' when nothing did)."""
    outcome = spine_dbt.invoke(command, warehouse, extra_args=list(args))
    failed = [(n.name, n.message) for n in outcome.failed]
    return outcome, "" if outcome.success else f"dbt {command}: {outcome.exception} {failed}"


@pytest.fixture(scope="module")
def dbt_side(tmp_path_factory: pytest.TempPathFactory) -> DbtSide:
    """The grid landed in a new DuckDB warehouse, the macros rendered, the seeds and the
    staging models built over it: three dbt invocations through the wrapper's own
    (spine_wrapper.dbt.invoke: one parse, reused by the next two). A build that fails fails
    the model's tests only (build_error), not those of the macros."""
    db = tmp_path_factory.mktemp("parity") / "parity.duckdb"
    grid = build_grid()
    load_grid(db, grid)
    warehouse = Warehouse(db)
    compiled, error = _dbt(warehouse, "compile", "--inline", INLINE)
    assert not error, error
    [node] = compiled.nodes
    assert node.compiled_sql is not None
    rendered = json.loads(node.compiled_sql)
    _, error = _dbt(warehouse, "seed")
    if not error:
        models = ["stg_finra__capture_events", "stg_finra__captures", "stg_finra__rows_validated"]
        _, error = _dbt(warehouse, "run", "--select", *models)
    reasons = {}
    if not error:
        with duckdb.connect(str(db), read_only=True) as con:
            reasons = {
                (capture_id, line): frozenset(filter(None, (codes or "").split(",")))
                for capture_id, line, codes in con.execute(
                    "select capture_id, line_number, reason_codes"
                    " from staging.stg_finra__rows_validated"
                ).fetchall()
            }
    return DbtSide(db, grid, rendered, reasons, error or None)


def _sql(expression: str, column: str, values: list[object]) -> list[object]:
    """`expression` (over `column`) evaluated in DuckDB for each value, in order."""
    with duckdb.connect() as con:
        return [
            row[0]
            for row in con.execute(
                f"select {expression} from (select unnest(?) as {column}, "
                "generate_subscripts(?, 1) as position) order by position",
                [values, values],
            ).fetchall()
        ]


def _disagreements(dbt_side: DbtSide, captures: list[GridCapture]) -> list[str]:
    assert dbt_side.build_error is None, dbt_side.build_error
    found = []
    for capture in captures:
        for line in range(2, 2 + len(capture.rows)):
            codes = dbt_side.reasons.get((capture.capture_id, line))
            if codes is None:
                found.append(f"{capture.label} (line {line}): no row in the model")
                continue
            got = codes & WEEK_AND_TIER_CODES
            if got != capture.expected:
                found.append(
                    f"{capture.label} (line {line}, week {capture.week}):"
                    f" model {sorted(got)}, wrapper {sorted(capture.expected)}"
                )
    return found


# --- the week rule ----------------------------------------------------------------------------


def test_week_ending_from_last_update_is_friday_before(dbt_side: DbtSide) -> None:
    """The previous-Friday rule, every day of 2018-2028 and the edges: the macro run in DuckDB
    equals weeks.friday_before (and so, with the delay, formats.publication_week)."""
    got = _sql(str(dbt_side.rendered["week_ending_from_last_update"]), "d", MACRO_DAYS)
    wrong = [
        f"{day}: SQL {sql}, Python {weeks.friday_before(day)}"
        for day, sql in zip(MACRO_DAYS, got, strict=True)
        if sql != weeks.friday_before(day)
    ]
    assert wrong == []


def test_days_since_friday_is_python_weekday(dbt_side: DbtSide) -> None:
    """The weekday test the model makes of every week (Friday 0, Monday 3), and the anchor of
    the week rule: the same as weeks.FRIDAY's date.weekday()."""
    got = _sql(str(dbt_side.rendered["days_since_friday"]), "d", MACRO_DAYS)
    expected = [(day.weekday() - weeks.FRIDAY) % 7 for day in MACRO_DAYS]
    assert [
        (day, sql, python)
        for day, sql, python in zip(MACRO_DAYS, got, expected, strict=True)
        if sql != python
    ] == []


def test_the_model_places_legacy_files_by_publication_as_the_wrapper_does(
    dbt_side: DbtSide,
) -> None:
    """The publication-delay rule (DOMAIN.md §1.3 rule 3), in stg_finra__rows_validated: the
    earliest publication date (initialPublishedDate, else lastUpdateDate) of each of hundreds
    of captures per tier, across years and NYSE holidays, lands in the week that
    formats.publication_week gave it with the tier's delay from the seed."""
    assert _disagreements(dbt_side, dbt_side.grid.group("publication_delay")) == []


def test_the_model_places_generated_files_in_their_weeks(dbt_side: DbtSide) -> None:
    """The demo files (generate.publication_date: the Monday after the delay, or the next NYSE
    business day) of every Friday of 2019-2027 and every tier: the model places each in its
    week, as the wrapper does (test_generate.test_every_publication_date_maps_back_to_its_week)."""
    assert _disagreements(dbt_side, dbt_side.grid.group("generated")) == []


def test_the_model_places_rows_by_the_previous_friday_as_the_wrapper_does(
    dbt_side: DbtSide,
) -> None:
    """`--week-rule previous-friday`, every tier and grid day: the model's row week is
    formats.row_week's."""
    assert _disagreements(dbt_side, dbt_side.grid.group("previous_friday")) == []


def test_the_model_reads_week_columns_as_the_wrapper_does(dbt_side: DbtSide) -> None:
    """weekStartDate (a Monday gives its Friday), WeekEnding (a Friday) and lastUpdateDate over
    six weeks of days: a week the wrapper gives the row the model accepts, a day the wrapper
    refuses the model rejects with the week reason code."""
    assert _disagreements(dbt_side, dbt_side.grid.group("row_week")) == []


@pytest.mark.parametrize(
    "text",
    [
        *DATE_TEXTS,
        *PADDED_DATE_TEXTS,
        *TAB_DATE_TEXTS,
    ],
)
def test_the_model_reads_date_texts_as_the_wrapper_does(dbt_side: DbtSide, text: str) -> None:
    """A date field's text, in each of the three fields a row's week is read from: a date to
    formats.parse_iso is a date to the model (trimmed, parsed_iso_date), and a text it refuses
    is INVALID_DATE."""
    captures = [c for c in dbt_side.grid.group("date_text") if c.label.endswith(repr(text))]
    assert len(captures) == 3
    assert _disagreements(dbt_side, captures) == []


def test_parsed_iso_date_is_parse_iso(dbt_side: DbtSide) -> None:
    """The macro itself (on text already trimmed) and formats.parse_iso agree on every text."""
    # 0001-01-01..04 have no Friday before them: the model's grid cannot place them (the
    # wrapper's formats.row_week raises OverflowError), but both sides read them as dates.
    texts = [*DATE_TEXTS, "0001-01-01", *(day.isoformat() for day in MACRO_DAYS[::7])]
    got = _sql(str(dbt_side.rendered["parsed_iso_date"]), "t", texts)
    assert [
        (text, sql, formats.parse_iso(text))
        for text, sql in zip(texts, got, strict=True)
        if sql != formats.parse_iso(text)
    ] == []


# --- tiers ------------------------------------------------------------------------------------


def test_alias_key_is_python_alias_key(dbt_side: DbtSide) -> None:
    spellings = tier_spellings()
    got = _sql(str(dbt_side.rendered["alias_key"]), "t", spellings)
    assert [
        (spelling, sql, tiers.alias_key(spelling))
        for spelling, sql in zip(spellings, got, strict=True)
        if sql != tiers.alias_key(spelling)
    ] == []


def test_the_model_resolves_tier_spellings_as_the_wrapper_does(dbt_side: DbtSide) -> None:
    """Every spelling of the seed and of the generator, variants and non-tiers: the tier
    tiers.canonical_tier gives (which identifies a file's tier, and the CLI's --tier) is the
    model's (else TIER_MISMATCH), and a spelling it does not know is INVALID_TIER."""
    assert _disagreements(dbt_side, dbt_side.grid.group("tier")) == []


def test_tier_lists_agree(dbt_side: DbtSide) -> None:
    """The canonical tiers: tiers.TIERS (read from the publication_delays seed), the Jinja list
    (canonical_tiers: var `tiers`, capture ids), the tier_aliases seed, the accepted_values
    tests, and the tiers the generator and the demo spell."""
    assert tuple(dbt_side.rendered["canonical_tiers"]) == tiers.TIERS
    assert {row["tier"] for row in _seed_rows("tier_aliases")} == set(tiers.TIERS)
    seeds = yaml.safe_load((PROJECT_DIR / "seeds" / "_seeds.yml").read_text())["seeds"]
    [aliases] = [s for s in seeds if s["name"] == "tier_aliases"]
    assert tuple(_accepted_values(aliases, "tier")) == tiers.TIERS
    assert tuple(_accepted_values(_model("stg_finra__captures"), "tier")) == tiers.TIERS
    assert set(generate.TIER_DESCRIPTIONS) == set(generate._API_TIERS) == set(tiers.TIERS)
    assert tuple(cli.DEMO_TIERS) == tiers.TIERS


def test_each_spelling_names_one_tier() -> None:
    """Spellings are compared by their key: two seed rows whose keys are equal must name the
    same tier (the model would join a row to both, the wrapper keep one)."""
    named: dict[str, set[str]] = {}
    for row in _seed_rows("tier_aliases"):
        named.setdefault(tiers.alias_key(row["alias"]), set()).add(row["tier"])
        named.setdefault(tiers.alias_key(row["tier"]), set()).add(row["tier"])
    assert {key: names for key, names in named.items() if len(names) > 1} == {}


# --- ids --------------------------------------------------------------------------------------

STAMP_TIMES = [
    datetime(2026, 1, 5, 6, 0, tzinfo=UTC),
    datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2000, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2099, 1, 1, 12, 30, 5, 123456, tzinfo=UTC),
]
MALFORMED_IDS = [
    "T1:2025-12-12:20260105T060000000000Z",
    "otc:2025-12-12:20260105T060000000000Z",
    "NMS_TIER_3:2025-12-12:20260105T060000000000Z",
    "OTC:2025-12-12",
    "OTC:25-12-12:20260105T060000000000Z",
    "OTC:2025-12-12:20260105T060000000000",
    "OTC:2025-12-12:20260105T06000000000Z",
    "OTC:2025-12-12:20260105060000000000Z",
    "OTC:2025-12-12:20260105T060000000000Z ",
    "OTC:2025-12-12:20260105T060000000000Z\n",
    "OTC:2025-12-12:20260105T060000000000Z:x",
    "OTC:2025-12-12:20260105T060000000000Z'); drop table raw.captures; --",
    "",
]


def _minted_ids() -> list[str]:
    ids = []
    for now in STAMP_TIMES:
        stamp = load.new_run_stamp(now)
        for tier in tiers.TIERS:
            for week in (date(2019, 1, 4), date(2025, 12, 12), date(2027, 12, 31)):
                ids.append(load.capture_id_for(tier, week.isoformat(), stamp))
    ids.append(load.capture_id_for("OTC", "2025-12-12", load.new_run_stamp()))
    return ids


def _matches(pattern: str, values: list[str]) -> list[tuple[bool, bool]]:
    """(Jinja's modules.re.fullmatch, DuckDB's regexp_full_match) of each value."""
    in_sql = _sql(f"regexp_full_match(v, '{pattern}')", "v", values)
    return [(re.fullmatch(pattern, v) is not None, s) for v, s in zip(values, in_sql, strict=True)]


def test_capture_ids_the_loader_mints_match_capture_id_pattern(dbt_side: DbtSide) -> None:
    """load.capture_id_for(tier, week, load.new_run_stamp()) for every tier: valid to the
    macros (capture_id_in, build_capture_ids check them with Python's re) and in DuckDB, with
    the week where captures_in_build reads it (the second `:` field). Malformed ids are
    refused by both."""
    pattern = str(dbt_side.rendered["capture_id_pattern"])
    minted = _minted_ids()
    assert _matches(pattern, minted) == [(True, True)] * len(minted)
    assert all(i.split(":")[0] in tiers.TIERS and weeks.parse_date(i.split(":")[1]) for i in minted)
    assert _matches(pattern, MALFORMED_IDS) == [(False, False)] * len(MALFORMED_IDS)


def test_run_ids_match_run_id_pattern(dbt_side: DbtSide) -> None:
    """A run id is `run_<stamp>` (backfill.load) with the stamp of its captures' ids: what the
    var `run_id` and rollback_captures accept."""
    pattern = str(dbt_side.rendered["run_id_pattern"])
    minted = [f"run_{load.new_run_stamp(now)}" for now in [*STAMP_TIMES, None]]
    assert _matches(pattern, minted) == [(True, True)] * len(minted)
    malformed = ["run_2026", "20260105T060000000000Z", "run_20260105T060000000000Z;", "RUN_x"]
    assert _matches(pattern, malformed) == [(False, False)] * len(malformed)


# --- raw tables -------------------------------------------------------------------------------

SPARK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "date": "DATE"}
SPARK_TYPES["timestamp"] = "TIMESTAMP"


def _duckdb_raw_columns(statements: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    with duckdb.connect() as con:
        for statement in statements:
            con.execute(statement)
        return _raw_columns(con)


def _raw_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from information_schema.columns"
        " where table_schema = 'raw' order by table_name, ordinal_position"
    ).fetchall():
        tables.setdefault(table, []).append((column, data_type))
    return tables


def _spark_raw_columns() -> dict[str, list[tuple[str, str]]]:
    tables = {}
    for statement in engines.SPARK_RAW_DDL:
        found = re.search(r"create table if not exists raw\.(\w+) \((.*?)\) using", statement, re.S)
        if found:
            columns = [c.split() for c in found.group(2).split(",")]
            tables[found.group(1)] = [(name, SPARK_TYPES[kind]) for name, kind in columns]
    return tables


def test_raw_tables_have_the_same_columns_on_duckdb_spark_and_in_the_sources() -> None:
    """warehouse.RAW_DDL (run in DuckDB), engines.SPARK_RAW_DDL and the dbt sources define the
    same tables with the same columns, in the same order and of the same types on both
    engines; the mirror hands every one of them back to Spark."""
    on_duckdb = _duckdb_raw_columns(RAW_DDL)
    on_spark = _spark_raw_columns()
    assert on_spark == on_duckdb
    sources = yaml.safe_load((MODELS_DIR / "staging" / "finra" / "_finra__sources.yml").read_text())
    [finra] = sources["sources"]
    assert finra["schema"] == "raw"
    declared = {t["name"]: {c["name"] for c in t["columns"]} for t in finra["tables"]}
    assert declared == {
        table: {name for name, _ in columns} for table, columns in on_duckdb.items()
    }
    assert set(engines.APPENDED_RAW) == set(on_duckdb)
    assert set(engines.MIRRORED_RAW) <= set(on_duckdb)


def test_a_migrated_warehouse_has_the_columns_of_a_new_one() -> None:
    """RAW_DDL's ALTERs (for warehouses made before a column existed) add exactly the columns
    its CREATEs end with, in the same order and types."""
    new = _duckdb_raw_columns(RAW_DDL)
    added = re.compile(r"alter table raw\.(\w+) add column if not exists (\w+)")
    with duckdb.connect() as con:
        for statement in RAW_DDL:
            con.execute(statement)
        for statement in RAW_DDL:
            if found := added.match(statement.strip()):
                con.execute(f"alter table raw.{found[1]} drop column {found[2]}")
        for statement in RAW_DDL:
            con.execute(statement)
        assert _raw_columns(con) == new


def test_raw_line_rebuild_names_the_loaders_field_columns(dbt_side: DbtSide) -> None:
    """The macro that rebuilds a line the loader kept no text of (finra_raw_line) joins the
    columns the loader's field_order names: finra_field_columns() is load.RAW_COLUMNS."""
    assert dbt_side.rendered["finra_field_columns"] == list(load.RAW_COLUMNS.values())


def test_spark_added_columns_are_in_the_spark_ddl() -> None:
    """The columns ensure_raw_tables adds to an older Spark warehouse are its DDL's last ones."""
    on_spark = _spark_raw_columns()
    for table, definitions in engines.SPARK_ADDED_COLUMNS.items():
        added = [tuple(d.split()) for d in definitions]
        want = [(name, SPARK_TYPES[kind]) for name, kind in added]
        assert on_spark[table][-len(want) :] == want, table


def test_every_writer_names_columns_of_the_raw_tables() -> None:
    """The loader's RAW_COLUMNS are exactly finra_rows' field columns, and every INSERT a macro
    writes into a raw table names its columns."""
    on_duckdb = {t: [c for c, _ in cols] for t, cols in _duckdb_raw_columns(RAW_DDL).items()}
    own = {"capture_id", "line_number", "raw_line", "field_count", "capture_week_ending"}
    assert set(load.RAW_COLUMNS.values()) == set(on_duckdb["finra_rows"]) - own
    inserts = []
    for path in sorted(MACROS_DIR.glob("*.sql")):
        inserts += re.findall(
            r"insert into \{\{ source\('finra', '(\w+)'\) \}\}\s*\(([^)]*)\)", path.read_text()
        )
    assert {table for table, _ in inserts} >= {"capture_events", "test_results"}
    for table, columns in inserts:
        assert [c.strip() for c in columns.split(",")] == on_duckdb[table], table


# --- enumerations -----------------------------------------------------------------------------


def _model(name: str) -> dict:
    for path in MODELS_DIR.rglob("_*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            if model["name"] == name:
                return model
    raise AssertionError(name)


def _accepted_values(node: dict, column: str) -> list[str]:
    assert column in {c["name"] for c in node["columns"]}, column
    return invariants(node)["accepted_values"][column]


def test_capture_statuses_agree(dbt_side: DbtSide) -> None:
    """The lifecycle (and its precedence on a tie, current_capture_events_sql): the macro's
    list as dbt renders it is ledger.STATUSES; the report's completeness states are those
    statuses (test_quality holds the events model's accepted_values)."""
    assert tuple(dbt_side.rendered["capture_statuses"]) == ledger.STATUSES
    states = _accepted_values(_model("rpt_week_completeness"), "completeness_state")
    assert sorted(states) == sorted(ledger.STATUSES)


def test_dbt_vars_agree(dbt_side: DbtSide) -> None:
    """The vars the wrapper passes (every `dbt_vars` dict literal in spine_wrapper/) are the
    ones dbt_project.yml declares and the project reads (a misspelt var would be ignored, and
    a build select every capture); the run-selection vars the wrapper keeps out of dbt's parse
    check (dbt.RUN_SELECTION_VARS) are exactly those build_vars returns."""
    declared = set(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"])
    read = set()
    for folder in ("macros", "models", "tests", "snapshots"):
        for path in (PROJECT_DIR / folder).rglob("*.sql"):
            read |= set(re.findall(r"\bvar\(\s*'(\w+)'", path.read_text()))
    assert read == declared
    assert set(dbt_side.rendered["build_vars"]) == spine_dbt.RUN_SELECTION_VARS
    passed = {}
    for path in sorted((PROJECT_DIR / "spine_wrapper").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            assigned = isinstance(node, ast.Assign) and "dbt_vars" in [
                t.id for t in node.targets if isinstance(t, ast.Name)
            ]
            keyword = isinstance(node, ast.keyword) and node.arg == "dbt_vars"
            if (assigned or keyword) and isinstance(node.value, ast.Dict):
                keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
                passed[f"{path.name}:{node.lineno}"] = keys
    assert passed, "no dbt_vars literal found"
    assert {where: keys - declared for where, keys in passed.items() if keys - declared} == {}


def test_week_sources_agree() -> None:
    """formats' week sources are the captures mart's accepted values (the test that fails a
    build whose captures carry another: the model's CASE would give their rows no week), and
    each --week-rule is one of them."""
    sources = [
        formats.WEEK_START_DATE,
        formats.WEEK_ENDING_COLUMN,
        formats.PUBLICATION_DELAY,
        formats.PREVIOUS_FRIDAY,
    ]
    captures = _model("finra_otc_transparency_captures")
    assert _accepted_values(captures, "week_source") == sources
    assert {rule.replace("-", "_") for rule in formats.WEEK_RULES} <= set(sources)


def test_reason_codes_agree() -> None:
    """The codes stg_finra__rows_validated gives are the rejects mart's accepted values, in
    the same order (DOMAIN.md §2's), and the generator's bad rows expect some of them."""
    sql = (MODELS_DIR / "staging" / "finra" / "stg_finra__rows_validated.sql").read_text()
    given = list(
        dict.fromkeys(
            re.findall(r"then '([A-Z]+(?:_[A-Z]+)+)'", sql.split("{{ rows }}_reasoned as (")[1])
        )
    )
    accepted = _accepted_values(_model("finra_otc_transparency_rejects"), "reason_code")
    assert given == accepted
    assert set(generate.BAD_ROW_KINDS.values()) <= set(accepted)


def test_calc_versions_sort_and_resolve_alike(dbt_side: DbtSide) -> None:
    """Versions compare by number on both sides (sort_versions / calcs), and the seed has one
    current version per calc, so the macro's `current | first` and calcs.resolve pick the
    same."""
    versions = sorted({*VERSIONS, *(r["version"] for r in _seed_rows("calc_versions"))})
    assert dbt_side.rendered["sort_versions"] == sorted(versions, key=calcs._version_number)
    current: dict[str, list[str]] = {}
    for row in _seed_rows("calc_versions"):
        assert re.fullmatch("v[0-9]+", row["version"]), row
        if row["is_current"].strip().lower() == "true":
            current.setdefault(row["calc_name"], []).append(row["version"])
    names = {row["calc_name"] for row in _seed_rows("calc_versions")}
    assert {name: len(current.get(name, [])) for name in names} == dict.fromkeys(names, 1)
    assert calcs.resolve([])[0] == {name: found[0] for name, found in current.items()}


def test_the_grid_covers_what_it_claims(dbt_side: DbtSide) -> None:
    """Hundreds of days per tier and rule, every NYSE holiday, and a row of the model for every
    row landed (the comparison above never passes for want of rows)."""
    for group in ("publication_delay", "previous_friday"):
        placed = dbt_side.grid.group(group)
        assert {c.tier for c in placed} == set(tiers.TIERS)
        assert len(placed) >= 300 * len(tiers.TIERS)
    assert set(generate.nyse_holidays()) <= set(MODEL_DAYS)
    assert dbt_side.build_error is None, dbt_side.build_error
    landed = sum(len(c.rows) for c in dbt_side.grid.captures)
    assert len(dbt_side.reasons) == landed
