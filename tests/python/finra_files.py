"""Files shaped like FINRA's downloads, built in tests from the real legacy samples.

FINRA's API (POST https://api.finra.org/data/group/otcMarket/name/weeklySummary) returns the
weeklySummary dataset as text — comma-delimited with every value in double quotes by default,
or with another delimiter and unquoted — or as a JSON array of objects. These helpers turn the
rows of a real legacy export (../shared/data/finra) into those forms with Python's own csv and
json modules, independently of the loader under test.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

# Every field of the weeklySummary dataset, in the order FINRA's metadata lists them.
API_FIELDS = (
    "issueSymbolIdentifier",
    "issueName",
    "firmCRDNumber",
    "MPID",
    "marketParticipantName",
    "tierIdentifier",
    "tierDescription",
    "summaryStartDate",
    "totalWeeklyTradeCount",
    "totalWeeklyShareQuantity",
    "productTypeCode",
    "summaryTypeCode",
    "weekStartDate",
    "lastUpdateDate",
    "initialPublishedDate",
    "lastReportedDate",
)


def legacy_rows(path: Path) -> list[dict[str, str]]:
    """The data rows of a legacy pipe export as dicts (header names as keys)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="|"))


def api_records(
    path: Path,
    week_start: str,
    published: str,
    totals: bool = True,
    alter: Callable[[dict[str, str]], None] | None = None,
) -> list[dict[str, str]]:
    """The legacy file's rows as API records (ATS venue rows), plus FINRA's symbol totals
    (ATS_W_SMBL) and firm totals (ATS_W_FIRM) summed from the rows when `totals`.
    `alter` may change any record (e.g. one total) before it is returned."""
    crd: dict[str, str] = {}
    records = []
    for row in legacy_rows(path):
        mpid = row["MPID"]
        crd.setdefault(mpid, str(100000 + len(crd)))
        records.append(
            {
                "issueSymbolIdentifier": row["issueSymbolIdentifier"],
                "issueName": row["issueName"],
                "firmCRDNumber": crd[mpid],
                "MPID": mpid,
                "marketParticipantName": row["marketParticipantName"],
                "tierIdentifier": "OTC",
                "tierDescription": "OTCE",
                "summaryStartDate": week_start,
                "totalWeeklyTradeCount": row["totalWeeklyTradeCount"],
                "totalWeeklyShareQuantity": row["totalWeeklyShareQuantity"],
                "productTypeCode": "OTC",
                "summaryTypeCode": "ATS_W_SMBL_FIRM",
                "weekStartDate": week_start,
                "lastUpdateDate": row["lastUpdateDate"],
                "initialPublishedDate": published,
                "lastReportedDate": week_start,
            }
        )
    if totals:
        records += _totals(records, "issueSymbolIdentifier", "ATS_W_SMBL")
        records += _totals(records, "MPID", "ATS_W_FIRM")
    for record in records:
        if alter:
            alter(record)
    return records


def _totals(records: list[dict[str, str]], key: str, code: str) -> list[dict[str, str]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    first: dict[str, dict[str, str]] = {}
    for r in records:
        if r["summaryTypeCode"] != "ATS_W_SMBL_FIRM" or not r[key]:
            continue
        sums[r[key]][0] += int(r["totalWeeklyShareQuantity"])
        sums[r[key]][1] += int(r["totalWeeklyTradeCount"])
        first.setdefault(r[key], r)
    out = []
    for value, (shares, trades) in sums.items():
        total = dict(first[value])
        blank = ("MPID", "marketParticipantName", "firmCRDNumber")
        if key == "MPID":
            blank = ("issueSymbolIdentifier", "issueName")
        total.update({name: "" for name in blank})
        total.update(
            summaryTypeCode=code,
            totalWeeklyShareQuantity=str(shares),
            totalWeeklyTradeCount=str(trades),
        )
        out.append(total)
    return out


def write_api_text(
    records: list[dict[str, str]], out: Path, delimiter: str = ",", quote: bool = True
) -> Path:
    """FINRA's text output: by default comma-delimited with every value quoted."""
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(
            handle,
            delimiter=delimiter,
            quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL,
            lineterminator="\n",
        )
        writer.writerow(API_FIELDS)
        for record in records:
            writer.writerow([record.get(name, "") for name in API_FIELDS])
    return out


def write_api_json(records: list[dict[str, str]], out: Path) -> Path:
    """FINRA's JSON output: an array of objects; quantities as numbers, as the API types them."""
    numeric = ("totalWeeklyTradeCount", "totalWeeklyShareQuantity", "firmCRDNumber")
    typed = [
        {
            name: (int(r[name]) if name in numeric and r.get(name) else r.get(name) or None)
            for name in API_FIELDS
        }
        for r in records
    ]
    out.write_text(json.dumps(typed, indent=1), encoding="utf-8")
    return out
