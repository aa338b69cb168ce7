"""FINRA weekly file layouts (DOMAIN.md §1.1) and reading their records.

One home for what a FINRA file looks like: the header names of each raw field, how a header
tells the delimiter and the layout, and how records are read with their physical line numbers
and raw text. Text files are parsed with Python's `csv` module (quotes are CSV syntax: `""`
is a quote inside a value, and quotes never reach a table); each physical line is parsed on
its own, so that a stray quote can never swallow the lines after it. FINRA's JSON output (an
array of objects) is read with the `json` module, each object's source text kept as its raw
line and the line it starts on as its line number.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from .weeks import friday_before

# Raw field -> header names that carry it (matched case-insensitively), in order of
# preference: FINRA API fields (the legacy export is a subset of them), then the simplified
# layout's. `marketParticipantIdentifier` is the older API spec's name of MPID.
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "tier": ("tierIdentifier", "tierDescription", "Tier"),
    "week_start": ("weekStartDate", "summaryStartDate"),
    "week_ending": ("WeekEnding",),
    "last_update_date": ("lastUpdateDate",),
    "initial_published_date": ("initialPublishedDate",),
    "summary_type": ("summaryTypeCode",),
    "symbol": ("issueSymbolIdentifier", "Symbol"),
    "issue_name": ("issueName",),
    "firm_crd": ("firmCRDNumber",),
    "venue_name": ("marketParticipantName",),
    "mpid": ("MPID", "marketParticipantIdentifier"),
    "shares": ("totalWeeklyShareQuantity", "TotalShares"),
    "trades": ("totalWeeklyTradeCount", "TotalTrades"),
}
RAW_FIELDS: tuple[str, ...] = tuple(FIELD_HEADERS)
# API fields that carry nothing we store: known, so never warned about as extra columns.
IGNORED_HEADERS = ("productTypeCode", "lastReportedDate")
SIMPLIFIED_HEADERS = ("WeekEnding", "Tier", "Symbol", "TotalShares", "TotalTrades")
SIMPLIFIED_LAYOUT = "WeekEnding|Tier|Symbol|MPID|TotalShares|TotalTrades"
LEGACY_LAYOUT = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate"
)
# Fields a file must have, per layout; a week source is required on top (see week_source()).
REQUIRED = {
    "finra": ("tier", "symbol", "mpid", "shares", "trades"),
    "simplified": ("week_ending", "tier", "symbol", "mpid", "shares", "trades"),
}
KNOWN_HEADERS = {name.lower() for names in FIELD_HEADERS.values() for name in names} | {
    name.lower() for name in IGNORED_HEADERS
}
DELIMITERS = {"|": "pipes", ",": "commas", "\t": "tabs", "\x01": "control-A"}
OTHER_DELIMITERS = {";": "semicolons"}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A data line of nothing but these is blank: skipped, though it keeps its line number. The
# loader's DuckDB path (load._INSERT_SPLIT_ROWS) uses the same characters.
BLANK_CHARACTERS = " \t\f\r"

# How a capture's week was found (DOMAIN.md §1.3), recorded on every capture.
WEEK_START_DATE = "week_start_date"
WEEK_ENDING_COLUMN = "week_ending_column"
PUBLICATION_DELAY = "publication_delay"
PREVIOUS_FRIDAY = "previous_friday"
# --week-rule: how a file without a week column is placed (a week_source, spelled with "-")
WEEK_RULES = ("publication-delay", "previous-friday")


@dataclass(frozen=True)
class Header:
    """What a header line (or a JSON object's keys) says: layout, field positions, problems."""

    layout: str | None  # finra | simplified | None (no FINRA header)
    names: tuple[str, ...]  # as written, quotes removed
    columns: dict[str, int]  # raw field -> 0-based position of the header name used
    extra: tuple[str, ...]  # names that are no field we know (ignored with a warning)
    repeated: tuple[str, ...]  # known names given twice

    @property
    def field_count(self) -> int:
        return len(self.names)

    def missing(self) -> list[str]:
        """Required fields the header lacks, each by its name in the header's layout."""
        if self.layout is None:
            return []
        lacking = [
            layout_name(field, self.layout)
            for field in REQUIRED[self.layout]
            if field not in self.columns
        ]
        if self.layout == "finra" and not self.columns.keys() & {
            "week_start",
            "last_update_date",
            "initial_published_date",
        }:
            lacking.append("weekStartDate (or lastUpdateDate)")
        return lacking

    def alias_hint(self, missing: str) -> str:
        """A hint when a header name of the other layout stands where `missing` is needed."""
        field = next((f for f, names in FIELD_HEADERS.items() if missing in names), None)
        if field is None:
            return ""
        lowered = [name.lower() for name in self.names]
        for name in FIELD_HEADERS[field]:
            if name.lower() in lowered and name != missing:
                return f" ({name} is there: it belongs to another layout)"
        return ""


def layout_name(field: str, layout: str) -> str:
    """The header name(s) of a raw field in a layout: `Tier`, or `tierIdentifier or
    tierDescription` for FINRA's."""
    names = FIELD_HEADERS[field]
    if layout == "simplified":
        return next(n for n in names if n in SIMPLIFIED_HEADERS or n == "MPID")
    return " or ".join(n for n in names if n not in SIMPLIFIED_HEADERS)


def parse_header(names: list[str]) -> Header:
    """Match header names (case-insensitive, trimmed) to raw fields and tell the layout."""
    cleaned = tuple(name.strip() for name in names)
    lowered = [name.lower() for name in cleaned]
    simplified = {n.lower() for n in SIMPLIFIED_HEADERS}
    finra_only = {
        name.lower()
        for names_ in FIELD_HEADERS.values()
        for name in names_
        if name not in SIMPLIFIED_HEADERS and name != "MPID"
    }
    layout = None
    if simplified & set(lowered) and not finra_only & set(lowered):
        layout = "simplified"
    elif finra_only & set(lowered):
        layout = "finra"
    columns: dict[str, int] = {}
    for field, candidates in FIELD_HEADERS.items():
        for candidate in candidates:
            if candidate.lower() in lowered:
                columns[field] = lowered.index(candidate.lower())
                break
    extra = tuple(
        name for name, low in zip(cleaned, lowered, strict=True) if low not in KNOWN_HEADERS
    )
    repeated = tuple(sorted({n for n in lowered if n in KNOWN_HEADERS and lowered.count(n) > 1}))
    return Header(layout, cleaned, columns, extra, repeated)


def week_source(header: Header, week_rule: str) -> str | None:
    """DOMAIN.md §1.3: which rule finds this file's week (None when none can)."""
    if "week_start" in header.columns:
        return WEEK_START_DATE
    if "week_ending" in header.columns:
        return WEEK_ENDING_COLUMN
    if header.columns.keys() & {"last_update_date", "initial_published_date"}:
        if week_rule.replace("-", "_") == PREVIOUS_FRIDAY and "last_update_date" in header.columns:
            return PREVIOUS_FRIDAY
        return PUBLICATION_DELAY
    return None


def sniff_delimiter(header_line: str) -> tuple[str | None, str | None]:
    """(delimiter, None) when splitting the header on it finds FINRA column names, else
    (None, what the header is separated by, for the message) or (None, None)."""
    best, best_known = None, 0
    for delimiter in (*DELIMITERS, *OTHER_DELIMITERS):
        if delimiter not in header_line:
            continue
        names = parse_line(header_line, delimiter)
        known = sum(1 for name in names if name.strip().lower() in KNOWN_HEADERS)
        if known > best_known:
            best, best_known = delimiter, known
    if best is None:
        return None, None
    if best in OTHER_DELIMITERS:
        return None, f"{OTHER_DELIMITERS[best]} ({best!r})"
    return best, None


def parse_line(line: str, delimiter: str) -> list[str]:
    """One physical line's fields (CSV syntax: double quotes, `""` escapes). A CR inside the
    line stays in its field (Python's csv would take it for a line end in an unquoted field
    and raise): it is parsed as a private-use character the line does not hold."""
    if "\r" in line:
        stand_in = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in line)
        return [
            field.replace(stand_in, "\r")
            for field in parse_line(line.replace("\r", stand_in), delimiter)
        ]
    return next(csv.reader((line,), delimiter=delimiter, quotechar='"', doublequote=True), [])


def physical_lines(text: str) -> list[str]:
    """The text's physical lines (LF or CRLF; a final newline ends the last line)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


@dataclass(frozen=True)
class Record:
    """One data record: physical line number, the line as read, its fields by raw field."""

    line_number: int
    raw_line: str
    field_count: int
    values: tuple[str, ...]  # in RAW_FIELDS order; '' where the field is absent or empty


def text_records(lines: list[str], header: Header, delimiter: str) -> Iterator[Record]:
    """Data records of a text file (lines[0] is the header); blank lines skipped, counted."""
    positions = [header.columns.get(field) for field in RAW_FIELDS]
    for index in range(1, len(lines)):
        line = lines[index]
        if not line.strip(BLANK_CHARACTERS):
            continue
        fields = parse_line(line, delimiter)
        count = len(fields)
        values = tuple(fields[p] if p is not None and p < count else "" for p in positions)
        yield Record(index + 1, line, count, values)


class NotFinraJson(ValueError):
    """The JSON text is not an array of objects (message for users)."""


def json_objects(text: str) -> Iterator[tuple[int, str, object]]:
    """(line number where it starts, source text, value) of each element of a JSON array.

    Raises NotFinraJson when the text is not a JSON array, json.JSONDecodeError when it is
    not valid JSON.
    """
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise NotFinraJson("is JSON but not an array of records")
    line, counted = 1, 0
    position = _skip_space(text, position + 1)
    if position < len(text) and text[position] == "]":
        return
    while True:
        value, end = decoder.raw_decode(text, position)
        line += text.count("\n", counted, position)
        counted = position
        yield line, text[position:end], value
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            return
        raise json.JSONDecodeError("expected ',' or ']'", text, position)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def json_header(first: object) -> Header:
    """The header a JSON export's first record stands for: its keys."""
    if not isinstance(first, dict):
        raise NotFinraJson("is a JSON array whose first element is not an object")
    return parse_header([str(key) for key in first])


def json_record(line_number: int, source: str, value: object, header: Header) -> Record:
    """A JSON element as a record: values by key (case-insensitive). Its field count is its
    number of keys, or 0 when it is not an object or its keys are not the first record's, so
    that it is a MALFORMED_ROW."""
    if not isinstance(value, dict):
        return Record(line_number, source, 0, ("",) * len(RAW_FIELDS))
    by_name = {str(key).strip().lower(): item for key, item in value.items()}
    names = [
        header.names[header.columns[f]].lower() if f in header.columns else None for f in RAW_FIELDS
    ]
    values = tuple(_json_text(by_name.get(name)) if name else "" for name in names)
    same_keys = set(by_name) == {name.lower() for name in header.names}
    return Record(line_number, source, len(value) if same_keys else 0, values)


def _json_text(value: object) -> str:
    """A JSON value as the text a delimited export would carry (null -> empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def parse_iso(value: str) -> date | None:
    """YYYY-MM-DD only, as the dbt models read it (date.fromisoformat also takes 20251215).
    Surrounding spaces are dropped, as SQL's trim() does; a tab or line break is not."""
    value = value.strip(" ")
    if not ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def week_field(source: str, header: Header) -> str:
    """The raw field a week source reads: weekStartDate, WeekEnding, lastUpdateDate, or the
    publication field (see publication_field)."""
    return {
        WEEK_START_DATE: "week_start",
        WEEK_ENDING_COLUMN: "week_ending",
        PREVIOUS_FRIDAY: "last_update_date",
    }.get(source) or publication_field(header)


def row_week(text: str, source: str) -> date | None:
    """The week a record's own week field (`text`, see week_field) gives under `source`
    (None: invalid, or a publication-delay week, which is per file: see publication_week).

    week_start_date: its Monday + 4 days; week_ending_column: the Friday as given;
    previous_friday: the last Friday strictly before lastUpdateDate.
    """
    day = parse_iso(text)
    if day is None:
        return None
    if source == WEEK_START_DATE:
        return day + timedelta(days=4) if day.weekday() == 0 else None
    if source == WEEK_ENDING_COLUMN:
        return day if day.weekday() == 4 else None
    if source == PREVIOUS_FRIDAY:
        return friday_before(day)
    return None


def publication_field(header: Header) -> str:
    """The field whose earliest value is a file's initial publication (DOMAIN.md §1.3):
    initialPublishedDate when the file has it, else lastUpdateDate."""
    return (
        "initial_published_date"
        if "initial_published_date" in header.columns
        else "last_update_date"
    )


def publication_week(published: date, delay_weeks: int) -> date:
    """DOMAIN.md §1.3 rule 3: the last Friday strictly before the initial publication, minus
    the tier's publication delay."""
    return friday_before(published) - timedelta(weeks=delay_weeks)
