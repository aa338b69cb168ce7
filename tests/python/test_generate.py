"""The synthetic FINRA file generator: deterministic output, publication dates that the loader
maps back to each file's own week (FINRA's delays and NYSE holidays), the three layouts
(legacy pipe export, API CSV export, API JSON output) and their loading through the real CLI."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from spine_wrapper import formats
from spine_wrapper.discover import identify
from spine_wrapper.generate import (
    API_FIELDS,
    BAD_ROW_KINDS,
    HEADER,
    LAYOUTS,
    generate,
    nyse_holidays,
    publication_date,
    revision_date,
)
from spine_wrapper.tiers import TIERS, publication_delay_weeks

from .conftest import query, run_cli

END = date(2026, 1, 2)
# 8 weeks ending END: NMS Tier 1's week 2026-01-02 and the other tiers' week 2025-12-19 are
# published on Tuesday 2026-01-20, the Monday being Martin Luther King Jr. Day.
WEEKS = 8
FRIDAYS = [END - timedelta(weeks=i) for i in range(WEEKS - 1, -1, -1)]
EXPECTED_LAYOUT = {"legacy": "finra", "api": "finra", "json": "finra_json"}
EXPECTED_SOURCE = {
    "legacy": formats.PUBLICATION_DELAY,
    "api": formats.WEEK_START_DATE,
    "json": formats.WEEK_START_DATE,
}


def _fridays(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def _business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in nyse_holidays()


def _records(path: Path) -> list[dict[str, str]]:
    """The data records of an api or json file as {field: text} (JSON null as '')."""
    if path.suffix == ".json":
        return [
            {key: "" if value is None else str(value) for key, value in item.items()}
            for item in json.loads(path.read_text("utf-8"))
        ]
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == API_FIELDS
    return [dict(zip(API_FIELDS, row, strict=False)) for row in rows[1:]]


def _legacy_dates(path: Path) -> list[str]:
    """lastUpdateDate of every well-formed line of a legacy file."""
    lines = path.read_text("utf-8").splitlines()
    return [line.split("|")[7] for line in lines[1:] if line.count("|") == 7]


# --- publication dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "week", "published"),
    [
        # DOMAIN.md §1.3 acceptance: FINRA's examples (Regulatory Notice 19-29)
        ("NMS_TIER_1", date(2019, 11, 15), date(2019, 12, 2)),
        ("OTC", date(2019, 11, 1), date(2019, 12, 2)),
        ("OTC", date(2019, 11, 8), date(2019, 12, 9)),
        # the real OTC files, published 2025-12-15/22/29
        ("OTC", date(2025, 11, 14), date(2025, 12, 15)),
        ("OTC", date(2025, 11, 21), date(2025, 12, 22)),
        ("OTC", date(2025, 11, 28), date(2025, 12, 29)),
        # holiday Mondays of the seed: the next business day
        ("NMS_TIER_1", date(2026, 1, 2), date(2026, 1, 20)),  # Martin Luther King Jr. Day
        ("NMS_TIER_2", date(2025, 12, 19), date(2026, 1, 20)),
        ("OTC", date(2025, 12, 19), date(2026, 1, 20)),
        ("NMS_TIER_1", date(2026, 1, 30), date(2026, 2, 17)),  # Washington's Birthday
        ("OTC", date(2025, 4, 25), date(2025, 5, 27)),  # Memorial Day
        ("NMS_TIER_1", date(2025, 8, 15), date(2025, 9, 2)),  # Labor Day
        ("NMS_TIER_2", date(2025, 8, 1), date(2025, 9, 2)),
        ("OTC", date(2027, 6, 4), date(2027, 7, 6)),  # Independence Day observed 2027-07-05
    ],
)
def test_publication_date_examples(tier: str, week: date, published: date) -> None:
    assert publication_date(week, tier) == published
    assert formats.publication_week(published, publication_delay_weeks()[tier]) == week
    monday = week + timedelta(weeks=publication_delay_weeks()[tier], days=3)
    assert (monday in nyse_holidays()) == (published != monday)


@pytest.mark.parametrize("tier", TIERS)
def test_every_publication_date_maps_back_to_its_week(tier: str) -> None:
    """Every Friday the holiday seed covers (2019-2027): the publication date is the Monday
    after week + delay, or the next business day after a holiday Monday, and
    formats.publication_week gives the week back."""
    delay = publication_delay_weeks()[tier]
    holidays_moved = 0
    for week in _fridays(date(2019, 1, 4), date(2027, 11, 26)):
        published = publication_date(week, tier)
        monday = week + timedelta(weeks=delay, days=3)
        assert _business_day(published), (week, published)
        assert not any(_business_day(d) for d in _days_between(monday, published)), week
        assert formats.publication_week(published, delay) == week, (week, published)
        holidays_moved += published != monday
    assert holidays_moved >= 30  # MLK, Washington's Birthday, Memorial and Labor Day a year


def _days_between(first: date, last: date) -> list[date]:
    """The days from `first` up to, not including, `last`."""
    return [first + timedelta(days=i) for i in range((last - first).days)]


def test_revision_date_is_a_later_business_day() -> None:
    for tier in TIERS:
        for week in FRIDAYS:
            revised = revision_date(week, tier)
            assert _business_day(revised)
            assert revised > publication_date(week, tier)


# --- files and their identification -----------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Eight small weeks of all tiers with a revised week, in every layout."""
    root = tmp_path_factory.mktemp("generated")
    return {
        layout: generate(root / layout, WEEKS, list(TIERS), END, revised_week=True, layout=layout)
        for layout in LAYOUTS
    }


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_file_is_identified_as_its_own_week(
    generated: dict[str, list[Path]], layout: str
) -> None:
    paths = generated[layout]
    assert len(paths) == WEEKS * len(TIERS) + 1
    expected = {
        f"finra_otc_weekly_{tier.lower()}_{publication_date(week, tier):%Y%m%d}"
        f".{LAYOUTS[layout]}": (tier, week)
        for tier in TIERS
        for week in FRIDAYS
    }
    assert sorted(p.name for p in paths[:-1]) == sorted(expected)
    assert f"finra_otc_weekly_otc_20260120.{LAYOUTS[layout]}" in expected  # after MLK Day
    for path in paths:
        tier, week = expected[path.name]
        found = identify(path)
        assert found.error is None, (path, found.error)
        assert found.warnings == [], path
        assert (found.layout, found.tier, found.week_ending, found.week_source) == (
            EXPECTED_LAYOUT[layout],
            tier,
            week,
            EXPECTED_SOURCE[layout],
        ), path


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_earliest_date_of_every_file_is_its_publication(
    generated: dict[str, list[Path]], layout: str
) -> None:
    """Over the whole file (not only the rows identify reads), for every tier and week."""
    for path in generated[layout]:
        found = identify(path)
        tier, week = found.tier, found.week_ending
        assert tier is not None and week is not None
        if layout == "legacy":
            dates = _legacy_dates(path)
        else:
            records = _records(path)
            dates = [r["lastUpdateDate"] for r in records]
            assert {r["initialPublishedDate"] for r in records} == {
                publication_date(week, tier).isoformat()
            }
            assert {r["weekStartDate"] for r in records} == {(week - timedelta(4)).isoformat()}
            reported = {r.get("lastReportedDate") for r in records}
            assert reported <= {week.isoformat(), None}  # None: a too_few_fields row
        published = date.fromisoformat(min(dates))
        assert published == publication_date(week, tier)
        assert formats.publication_week(published, publication_delay_weeks()[tier]) == week


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_revised_week_keeps_its_name_and_publication_date(
    generated: dict[str, list[Path]], layout: str
) -> None:
    revision = generated[layout][-1]
    assert revision.parent.name == "revisions"
    original = revision.parent.parent / revision.name
    assert original in generated[layout]
    assert revision.read_bytes() != original.read_bytes()
    found, before = identify(revision), identify(original)
    assert (
        (found.tier, found.week_ending)
        == (before.tier, before.week_ending)
        == ("NMS_TIER_1", FRIDAYS[-3])
    )
    if layout == "legacy":
        dates = _legacy_dates(revision)
    else:
        dates = [r["lastUpdateDate"] for r in _records(revision)]
    published = publication_date(FRIDAYS[-3], "NMS_TIER_1").isoformat()
    revised = revision_date(FRIDAYS[-3], "NMS_TIER_1").isoformat()
    assert min(dates) == published
    assert 3 <= dates.count(revised) <= 6 + (layout != "legacy") * 6  # rows (and their totals)
    assert set(dates) == {published, revised}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_same_arguments_give_byte_identical_files(tmp_path: Path, layout: str) -> None:
    first = generate(
        tmp_path / "a", 4, ["OTC", "NMS_TIER_1"], END, revised_week=True, layout=layout
    )
    second = generate(
        tmp_path / "b", 4, ["OTC", "NMS_TIER_1"], END, revised_week=True, layout=layout
    )
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # A (week, tier) is the same whatever range of weeks it is generated in.
    alone = generate(tmp_path / "alone", 1, ["OTC"], END - timedelta(weeks=1), layout=layout)
    assert alone[0].read_bytes() == (tmp_path / "a" / alone[0].name).read_bytes()


def test_layouts_carry_the_same_rows(generated: dict[str, list[Path]]) -> None:
    """The api and json files hold the legacy file's rows (names with commas intact, every
    value quoted in the CSV), then one ATS_W_SMBL total per symbol."""
    week, tier = FRIDAYS[-1], "OTC"
    stamp = f"{publication_date(week, tier):%Y%m%d}"
    legacy = Path(generated["legacy"][0].parent, f"finra_otc_weekly_otc_{stamp}.psv")
    api = Path(generated["api"][0].parent, f"finra_otc_weekly_otc_{stamp}.csv")
    as_json = Path(generated["json"][0].parent, f"finra_otc_weekly_otc_{stamp}.json")
    legacy_lines = legacy.read_text("utf-8").splitlines()
    assert legacy_lines[0] == HEADER
    api_lines = api.read_text("utf-8").splitlines()
    assert api_lines[0] == ",".join(f'"{name}"' for name in API_FIELDS)
    assert all(line.startswith('"') and line.endswith('"') for line in api_lines)
    records = _records(api)
    assert _records(as_json) == records
    venue_rows = [r for r in records if r["summaryTypeCode"] == "ATS_W_SMBL_FIRM"]
    totals = [r for r in records if r["summaryTypeCode"] == "ATS_W_SMBL"]
    assert len(venue_rows) + len(totals) == len(records)
    assert records[: len(venue_rows)] == venue_rows  # totals come last
    assert len(venue_rows) == len(legacy_lines) - 1
    for line, record in zip(legacy_lines[1:], venue_rows, strict=True):
        fields = line.split("|")
        assert fields[1:7] == [
            record["issueSymbolIdentifier"],
            record["issueName"],
            record["marketParticipantName"],
            record["MPID"],
            record["totalWeeklyShareQuantity"],
            record["totalWeeklyTradeCount"],
        ]
        assert (len(fields) == 7) == ("lastReportedDate" not in record)
        assert (record["tierDescription"], record["tierIdentifier"]) == ("OTCE", "OTC")
        assert record["productTypeCode"] == "EQUITY"
    assert any("," in r["marketParticipantName"] for r in venue_rows)
    symbols = {
        r["issueSymbolIdentifier"]
        for r in venue_rows
        if r["issueSymbolIdentifier"] and "$" not in r["issueSymbolIdentifier"]
    }
    assert [t["issueSymbolIdentifier"] for t in totals] == sorted(symbols)
    for total in totals:
        assert (total["MPID"], total["marketParticipantName"], total["firmCRDNumber"]) == (
            "",
            "",
            "",
        )


def test_json_numbers_and_the_short_record(generated: dict[str, list[Path]]) -> None:
    """JSON carries whole numbers as numbers, empty values as null, and its too_few_fields
    record lacks a key (a MALFORMED_ROW for the loader)."""
    for path in generated["json"][:-1]:
        items = json.loads(path.read_text("utf-8"))
        keys = [tuple(item) for item in items]
        assert keys[0] == API_FIELDS
        assert all(k == API_FIELDS or k == API_FIELDS[:-1] for k in keys)
        for item in items:
            shares = item["totalWeeklyShareQuantity"]
            assert shares is None or isinstance(shares, int | str)
            if isinstance(shares, str):
                assert not shares.lstrip("-").isdigit()
    shorts = sum(
        1
        for path in generated["json"][:-1]
        for item in json.loads(path.read_text("utf-8"))
        if "lastReportedDate" not in item
    )
    assert shorts >= 1


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout must be one of"):
        generate(tmp_path, 1, ["OTC"], END, layout="xml")


# --- through the real CLI ---------------------------------------------------------------


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_generated_weeks_load_through_the_cli(tmp_path: Path, layout: str) -> None:
    """Five OTC weeks (every bad row kind appears in any five weeks) backfilled: each capture
    is its own week, every bad row kind gives its reject code, and FINRA's symbol totals of
    the api and json files all reconcile."""
    last = date(2025, 12, 26)
    first = last - timedelta(weeks=4)
    source = tmp_path / "files"
    paths = generate(source, 5, ["OTC"], last, layout=layout)
    db = tmp_path / "w.duckdb"
    result = run_cli(
        "backfill",
        "--start",
        first.isoformat(),
        "--end",
        last.isoformat(),
        "--tier",
        "OTC",
        "--source-dir",
        str(source),
        "--db",
        str(db),
    )
    assert result.exit_code == 0, result.output

    captures = query(
        db,
        "select week_ending, week_source, status, rows_finra_totals, source_file"
        " from main.finra_otc_transparency_captures order by week_ending",
    )
    assert [c[:3] for c in captures] == [
        (week, EXPECTED_SOURCE[layout], "published") for week in _fridays(first, last)
    ]
    assert [Path(c[4]).name for c in captures] == [p.name for p in paths]

    codes = query(db, "select distinct reason_code from main.finra_otc_transparency_rejects")
    assert {code for (code,) in codes} == set(BAD_ROW_KINDS.values())

    # FINRA's symbol totals: one per symbol in the api and json files, none in legacy ones
    totals = {
        path.name: 0
        if layout == "legacy"
        else sum(1 for r in _records(path) if r["summaryTypeCode"] == "ATS_W_SMBL")
        for path in paths
    }
    assert {Path(c[4]).name: c[3] for c in captures} == totals
    reconciled = query(
        db,
        "select count(*), count(distinct capture_id || ':' || symbol),"
        " coalesce(bool_and(is_matched), true)"
        " from main.finra_otc_transparency_reconciliation where summary_type = 'ATS_W_SMBL'",
    )
    assert reconciled == [(sum(totals.values()), sum(totals.values()), True)]
