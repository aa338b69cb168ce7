"""Deterministic synthetic FINRA OTC Transparency weekly files.

Writes one file per (week, tier) in one of FINRA's layouts (see DOMAIN.md §1.1): the legacy
pipe-delimited export, the API's default text export (comma-delimited, every value quoted) or
its JSON output. Each file is dated as FINRA publishes it: ``lastUpdateDate`` is the first NYSE
business day on or after the Monday that follows the week plus the tier's publication delay
(DOMAIN.md §1.3), so the loader places every file back in its own week.

Everything is derived from ``seed`` through private ``random.Random`` instances seeded with
strings, so the same arguments always give byte-identical files, and a given (week, tier) has
the same content whatever range of weeks it is generated in (and the same rows in every
layout).
"""

from __future__ import annotations

import csv
import gc
import json
import random
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from .paths import SEEDS_DIR
from .tiers import publication_delay_weeks

__all__ = [
    "API_FIELDS",
    "BAD_ROW_KINDS",
    "HEADER",
    "LAYOUTS",
    "TIER_DESCRIPTIONS",
    "generate",
    "nyse_holidays",
    "publication_date",
    "revision_date",
]

# The legacy export's header (pipe-delimited, no week column).
HEADER = (
    "tierDescription|issueSymbolIdentifier|issueName|marketParticipantName|MPID|"
    "totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate"
)
# The fields of FINRA's API export (otcMarket/weeklySummary), in the order the API writes them.
API_FIELDS: tuple[str, ...] = (
    "tierDescription",
    "tierIdentifier",
    "issueSymbolIdentifier",
    "issueName",
    "firmCRDNumber",
    "MPID",
    "marketParticipantName",
    "summaryTypeCode",
    "productTypeCode",
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "lastUpdateDate",
    "initialPublishedDate",
    "weekStartDate",
    "lastReportedDate",
)
# layout -> file extension: legacy pipe export, API text export (CSV), API JSON output.
LAYOUTS: dict[str, str] = {"legacy": "psv", "api": "csv", "json": "json"}

# tierDescription of the legacy export.
TIER_DESCRIPTIONS: dict[str, str] = {
    "NMS_TIER_1": "NMS Tier 1",
    "NMS_TIER_2": "NMS Tier 2",
    "OTC": "OTC",
}
# (tierDescription, tierIdentifier) of the API export.
_API_TIERS: dict[str, tuple[str, str]] = {
    "NMS_TIER_1": ("NMS Tier 1", "T1"),
    "NMS_TIER_2": ("NMS Tier 2", "T2"),
    "OTC": ("OTCE", "OTC"),
}
_VENUE_ROW = "ATS_W_SMBL_FIRM"  # summaryTypeCode of an ATS's row for one symbol
_SYMBOL_TOTAL = "ATS_W_SMBL"  # summaryTypeCode of FINRA's total of one symbol over the ATSs
_PRODUCT_TYPE = "EQUITY"
_REVISED_AFTER = timedelta(weeks=2)  # a revision's rows are updated this long after publication

# Kind of deliberately bad row -> the reject reason code it must produce (DOMAIN.md §2).
# Every bad row has exactly one problem and a (symbol, mpid) key of its own, except
# ``duplicate_key`` which repeats the key of the good row just before it.
BAD_ROW_KINDS: dict[str, str] = {
    "missing_shares": "MISSING_SHARES",
    "shares_thousands_separator": "INVALID_SHARES",
    "shares_exponent": "INVALID_SHARES",
    "shares_decimal": "INVALID_SHARES",
    "negative_trades": "NEGATIVE_TRADES",
    "empty_symbol": "EMPTY_SYMBOL",
    "symbol_with_dollar": "INVALID_SYMBOL",
    "duplicate_key": "DUPLICATE_KEY",
    "too_few_fields": "MALFORMED_ROW",
    "zero_volume": "ZERO_VOLUME",
}
_BAD_KINDS: tuple[str, ...] = tuple(BAD_ROW_KINDS)

# (MPID, marketParticipantName, selection weight, volume weight). As in the real files the
# participant name starts with the MPID. OTC venues are the nine seen in the real OTC files;
# the NMS MPIDs are the 30 ATSs of the NMS fixture, with illustrative names.
_Venue = tuple[str, str, float, float]
_OTC_VENUES: tuple[_Venue, ...] = (
    ("ALTS", "ALTS LODAS SECURITIES ALTERNATIVE TRADING SYSTEM", 0.002, 0.05),
    ("ARCA", "ARCA GLOBAL OTC", 0.3, 1.0),
    ("OTCN", "OTCN OTC LINK NQB IDQS", 0.9, 12.0),
    ("OTCX", "OTCX OTC LINK ECN ATS", 0.6, 1.5),
    ("PPEX", "PPEX NORTH CAPITAL PRIVATE SECURITIES CORPORATION", 0.15, 0.4),
    ("PROS", "PROS TZERO SECURITIES LLC", 0.002, 0.05),
    ("SMKT", "SMKT SECURITIZE MARKETS ATS", 0.0005, 0.01),
    ("STEN", "STEN STARTENGINE SECONDARY", 0.0005, 0.01),
    ("SWCL", "SWCL INX SECURITIES, LLC", 0.0005, 0.01),
)
_NMS_VENUES: tuple[_Venue, ...] = (
    ("ALPX", "ALPX ALPHA-X ATS", 0.4, 0.3),
    ("BIDS", "BIDS BIDS TRADING, L.P.", 0.9, 2.0),
    ("BLKX", "BLKX BLOCKCROSS ATS", 0.3, 0.5),
    ("BLUE", "BLUE BLUE OCEAN ATS, LLC", 0.5, 0.2),
    ("BNPX", "BNPX BNP PARIBAS SECURITIES CORP. (ATS)", 0.3, 0.3),
    ("BOSS", "BOSS BOSS ATS", 0.2, 0.2),
    ("CGXS", "CGXS CITI CROSS ATS", 0.7, 1.0),
    ("CODA", "CODA CODA MARKETS ATS", 0.6, 0.5),
    ("EBXL", "EBXL LEVEL ATS", 0.8, 1.2),
    ("IATS", "IATS INTELLIGENTCROSS ATS", 0.8, 1.6),
    ("ICBX", "ICBX INSTINET CBX (US)", 0.6, 0.8),
    ("IEOS", "IEOS IEX ATS", 0.3, 0.2),
    ("INCR", "INCR INSTINET CROSSING", 0.9, 2.4),
    ("ITGP", "ITGP POSIT ALERT & POSIT", 0.5, 0.6),
    ("JPBX", "JPBX JPB-X", 0.5, 0.6),
    ("JPMX", "JPMX JPM-X", 0.9, 1.8),
    ("KCGM", "KCGM VIRTU MATCHIT ATS", 0.7, 0.9),
    ("LATS", "LATS THE BARCLAYS ATS (LX)", 0.6, 0.7),
    ("LQNA", "LQNA LIQUIDNET NEGOTIATED ATS", 0.5, 0.9),
    ("LQNT", "LQNT LIQUIDNET H2O ATS", 0.5, 0.7),
    ("MLIX", "MLIX INSTINCT-X", 0.8, 1.4),
    ("MSPL", "MSPL MS POOL (ATS-4)", 0.9, 1.7),
    ("MSRP", "MSRP MS RETAIL POOL", 0.5, 0.4),
    ("MSTX", "MSTX MS TRAJECTORY CROSS (ATS-1)", 0.5, 0.5),
    ("ONEC", "ONEC ONECHRONOS", 0.4, 0.3),
    ("PURE", "PURE PURESTREAM ATS", 0.2, 0.4),
    ("SGMT", "SGMT SIGMA X2", 0.9, 2.2),
    ("STFX", "STFX STIFEL CONNECT ATS", 0.2, 0.2),
    ("UBSA", "UBSA UBS ATS", 1.0, 2.6),
    ("XSTM", "XSTM CROSSSTREAM", 0.6, 0.5),
)


@dataclass(frozen=True)
class _Profile:
    symbols: int
    core_venues: float  # mean number of venues a symbol trades on (before weekly drop-outs)
    volume_median: float  # median weekly shares of a symbol over all its venues
    volume_sigma: float
    trade_size_median: float  # median average trade size of a symbol
    trade_size_sigma: float
    symbol_lengths: tuple[tuple[int, int], ...]  # (length, weight)
    dotted_share: float  # share of class symbols like BRK.B


_LENGTHS_T1 = ((1, 3), (2, 12), (3, 40), (4, 45))
_LENGTHS_T2 = ((2, 4), (3, 30), (4, 60), (5, 6))
_LENGTHS_OTC = ((3, 1), (4, 25), (5, 74))

_PROFILES: dict[tuple[str, str], _Profile] = {
    ("small", "NMS_TIER_1"): _Profile(60, 6.0, 4e6, 1.0, 90.0, 0.6, _LENGTHS_T1, 0.04),
    ("small", "NMS_TIER_2"): _Profile(60, 5.5, 4e5, 1.2, 120.0, 0.7, _LENGTHS_T2, 0.03),
    ("small", "OTC"): _Profile(60, 3.5, 3e4, 1.4, 600.0, 1.3, _LENGTHS_OTC, 0.0),
    ("realistic", "NMS_TIER_1"): _Profile(1920, 25.0, 4e6, 1.3, 90.0, 0.6, _LENGTHS_T1, 0.01),
    ("realistic", "NMS_TIER_2"): _Profile(6000, 9.5, 4e5, 1.6, 120.0, 0.7, _LENGTHS_T2, 0.005),
    ("realistic", "OTC"): _Profile(3420, 2.6, 3e4, 2.3, 600.0, 1.3, _LENGTHS_OTC, 0.0),
}
SCALES: tuple[str, ...] = ("small", "realistic")

_COME_AND_GO_SHARE = 0.12  # symbols that trade only some weeks
_OCCASIONAL_VENUE_SHARE = 0.2  # minor (symbol, venue) pairs that trade about half the weeks
_NOISE_BITS = 12
_NOISE_MASK = (1 << _NOISE_BITS) - 1

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_STEMS = _words(
    "Apex|Blue Ridge|Crescent|Dalton|Evergreen|Falcon|Granite|Harbor|Ironwood|Juniper|"
    "Keystone|Lakeshore|Meridian|Northstar|Oakmont|Pinnacle|Quarry|Redwood|Summit|"
    "Tidewater|Union|Vanguard Hill|Westfield|Yellowstone|Zenith|Atlas|Beacon|Cobalt|"
    "Delta Bay|Ember|Frontier|Golden Gate|Highland|Insight|Jasper|Kestrel|Liberty|"
    "Magnolia|Nova|Orion|Prairie|Quantum|Riverbend|Silverline|Titan|Upland|Vista|"
    "Willow Creek|Xenith|Yukon"
)
_NON_ASCII_STEMS = _words(
    "Société Générale|Nestlé|Zürcher|Ørsted|Bergstrøm|Crédit Lyonnais|Peñasco|"
    "Électricité Nordique|São Martinho|Königsberg"
)
_APOSTROPHE_STEMS = _words("O'Neil|Dalton's|Macon's|D'Arcy|Miller's")
_INDUSTRIES = _words(
    "Energy|Therapeutics|Bancorp|Mining|Technologies|Resources|Pharmaceuticals|"
    "Realty Trust|Holdings|Semiconductor|Financial|Foods|Logistics|Brewing|"
    "Biosciences|Media|Airlines|Gold|Software|Utilities"
)
_ENTITIES = _words("Inc.|Corp.|Co.|Ltd|plc|Group|S.A.|N.V.|AG|L.P.")
_COUNTRIES = _words(
    "Canada|Japan|Cayman Islands|UK|Switzerland|Germany|Australia|France|Norway|Brazil"
)


@dataclass(frozen=True)
class _Pair:
    """What a row says about its security and venue (everything but the numbers and dates)."""

    symbol: str
    name: str
    mpid: str
    venue_name: str
    legacy_prefix: str  # the legacy line up to and including "MPID|"


def _pair(tier: str, symbol: str, name: str, mpid: str, venue_name: str) -> _Pair:
    prefix = f"{TIER_DESCRIPTIONS[tier]}|{symbol}|{name}|{venue_name}|{mpid}|"
    return _Pair(symbol, name, mpid, venue_name, prefix)


class _Row(NamedTuple):
    """One data row of a (week, tier) file, whatever the layout."""

    pair: _Pair
    shares: str  # as written: a whole number, or the text of a bad row
    trades: str
    last_update: str  # ISO date
    short: bool = False  # one field too few (the too_few_fields bad row)


class _Total(NamedTuple):
    """FINRA's control total of one symbol: the sums of its valid venue rows."""

    symbol: str
    name: str
    shares: int
    trades: int
    last_update: str  # ISO date: the latest of its rows


@dataclass(frozen=True)
class _Symbol:
    symbol: str
    name: str
    presence: float  # probability of trading in a given week
    volume: float  # typical weekly shares over all venues
    trade_size: float  # typical average trade size
    # (the venue it trades on, volume share, weekly participation)
    pairs: tuple[tuple[_Pair, float, float], ...]


@dataclass(frozen=True)
class _Universe:
    tier: str
    venues: tuple[_Venue, ...]
    symbols: tuple[_Symbol, ...]


def _fridays_ending(end: date, n: int) -> list[date]:
    """The ``n`` Fridays ending at ``end`` (a Friday), oldest first."""
    return [end - timedelta(weeks=i) for i in range(n - 1, -1, -1)]


def _weighted_pick(rng: random.Random, options: Sequence[tuple[int, int]]) -> int:
    values = [value for value, _ in options]
    weights = [weight for _, weight in options]
    return rng.choices(values, weights=weights)[0]


def _make_symbol(rng: random.Random, profile: _Profile, tier: str, used: set[str]) -> str:
    while True:
        length = _weighted_pick(rng, profile.symbol_lengths)
        letters = [rng.choice(_UPPER) for _ in range(length)]
        if tier == "OTC" and length == 5 and rng.random() < 0.5:
            letters[-1] = rng.choice("FY")  # foreign ordinary / ADR style
        symbol = "".join(letters)
        if length <= 4 and rng.random() < profile.dotted_share:
            symbol = f"{symbol}.{rng.choice('AB')}"
        if symbol not in used:
            used.add(symbol)
            return symbol


def _make_name(rng: random.Random, tier: str, index: int) -> str:
    if index % 25 == 7:
        stem = rng.choice(_NON_ASCII_STEMS)
    elif index % 9 == 4:
        stem = rng.choice(_APOSTROPHE_STEMS)
    else:
        stem = rng.choice(_STEMS)
    industry = rng.choice(_INDUSTRIES)
    entity = rng.choice(_ENTITIES)
    form = rng.randrange(8)
    if form == 0:
        return f"{stem} {industry}, {rng.choice(('Inc.', 'Corp.', 'Ltd.'))} Common Stock"
    if form == 1:
        return f"{stem} & {rng.choice(_STEMS)} {industry} {entity}"
    if form == 2:
        return f"{stem} {industry} {entity} Class {rng.choice('ABC')} Common Stock"
    if form == 3:
        kind = rng.choice(("Unsponsored ADR", "Sponsored ADR", "Common"))
        return f"{stem} {industry} {entity} {kind} ({rng.choice(_COUNTRIES)})"
    if form == 4 and tier == "OTC":
        return f"{stem} {industry} {entity} Com Par ${rng.choice(('0.001', '0.0001', '0.01'))}"
    if form == 4:
        return f"{stem} {industry} Select Sector ETF"
    if form == 5:
        return f"{stem.upper()} {industry.upper()} {entity.upper()} COM NEW"
    return f"{stem} {industry} {entity}"


def _venue_count(rng: random.Random, mean: float, n_venues: int) -> int:
    # 1 + (n - 1) * u**a has mean 1 + (n - 1) / (a + 1).
    exponent = max((n_venues - 1) / max(mean - 1.0, 1e-9) - 1.0, 0.0)
    fraction: float = rng.random() ** exponent
    return 1 + round((n_venues - 1) * fraction)


def _choose_venues(rng: random.Random, venues: Sequence[_Venue], k: int) -> list[int]:
    """Weighted sampling of ``k`` venue indexes without replacement (Efraimidis-Spirakis)."""
    keyed = sorted(
        ((rng.random() ** (1.0 / venue[2]), i) for i, venue in enumerate(venues)), reverse=True
    )
    return [i for _, i in keyed[:k]]


def _build_universe(rng: random.Random, tier: str, scale: str, used: set[str]) -> _Universe:
    profile = _PROFILES[(scale, tier)]
    venues = _OTC_VENUES if tier == "OTC" else _NMS_VENUES
    n = profile.symbols
    symbols = sorted(_make_symbol(rng, profile, tier, used) for _ in range(n))
    names = [_make_name(rng, tier, i) for i in range(n)]
    volumes = [
        profile.volume_median * rng.lognormvariate(0.0, profile.volume_sigma) for _ in range(n)
    ]
    trade_sizes = [
        profile.trade_size_median * rng.lognormvariate(0.0, profile.trade_size_sigma)
        for _ in range(n)
    ]
    by_volume = sorted(range(n), key=lambda i: volumes[i])  # smallest first
    # Symbols that come and go are among the smaller half; the big names trade every week.
    presence = [1.0] * n
    for i in by_volume[: n // 2]:
        if rng.random() < 2 * _COME_AND_GO_SHARE:
            presence[i] = rng.uniform(0.3, 0.8)
    # Bigger symbols trade on more venues.
    counts = sorted(_venue_count(rng, profile.core_venues, len(venues)) for _ in range(n))
    picked: list[set[int]] = [set() for _ in range(n)]
    for rank, i in enumerate(by_volume):
        picked[i].update(_choose_venues(rng, venues, counts[rank]))
    # Anchor every venue on a symbol that trades every week, so no venue ever goes missing.
    steady = [i for i in reversed(by_volume) if presence[i] == 1.0]
    anchored = {(steady[v % len(steady)], v) for v in range(len(venues))}
    for i, v in anchored:
        picked[i].add(v)

    result: list[_Symbol] = []
    for i in range(n):
        raw = {v: venues[v][3] * rng.lognormvariate(0.0, 0.8) for v in sorted(picked[i])}
        total = sum(raw.values())
        pairs: list[tuple[_Pair, float, float]] = []
        for v in sorted(raw, key=lambda v: venues[v][0]):
            share = raw[v] / total
            # Venues with a small part of a symbol's volume skip some weeks, a few most weeks.
            participation = 1.0
            if share < 0.1 and (i, v) not in anchored:
                participation = 0.5 if rng.random() < _OCCASIONAL_VENUE_SHARE else 0.95
            mpid, venue_name = venues[v][:2]
            pair = _pair(tier, symbols[i], names[i], mpid, venue_name)
            pairs.append((pair, share, participation))
        result.append(
            _Symbol(symbols[i], names[i], presence[i], volumes[i], trade_sizes[i], tuple(pairs))
        )
    return _Universe(tier, venues, tuple(result))


@lru_cache(maxsize=4)
def _universes(seed: int, scale: str) -> dict[str, _Universe]:
    # Built for all tiers in a fixed order (disjoint symbols), whatever tiers are requested.
    rng = random.Random(f"spine-dbt-universe:{seed}:{scale}")
    used: set[str] = set()
    return {tier: _build_universe(rng, tier, scale, used) for tier in TIER_DESCRIPTIONS}


@lru_cache(maxsize=1)
def _noise_tables() -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Lognormal multipliers (rounded, so libm differences cannot leak into the output)."""
    rng = random.Random("spine-dbt-noise")

    def table(sigma: float) -> tuple[float, ...]:
        return tuple(round(rng.lognormvariate(0.0, sigma), 6) for _ in range(_NOISE_MASK + 1))

    # Weekly symbol volume, row volume, inverse average trade size.
    return table(0.15), table(0.3), table(0.3)


@cache
def nyse_holidays() -> frozenset[date]:
    """The NYSE holidays of the nyse_holidays seed (2019-2027 today; outside the years it
    covers every weekday counts as a business day)."""
    with (SEEDS_DIR / "nyse_holidays.csv").open(newline="", encoding="utf-8") as handle:
        return frozenset(date.fromisoformat(row["holiday_date"]) for row in csv.DictReader(handle))


def _business_day_on_or_after(day: date) -> date:
    """The first NYSE business day (a weekday that is no NYSE holiday) on or after `day`."""
    holidays = nyse_holidays()
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day


def publication_date(week_ending: date, tier: str) -> date:
    """The day FINRA first publishes (week_ending, tier) (DOMAIN.md §1): the Monday after
    week_ending + the tier's delay (publication_delays seed, in weeks), or the next NYSE
    business day when that Monday is a holiday. `formats.publication_week` maps it back."""
    monday = week_ending + timedelta(weeks=publication_delay_weeks()[tier], days=3)
    return _business_day_on_or_after(monday)


def revision_date(week_ending: date, tier: str) -> date:
    """The `lastUpdateDate` of the rows a FINRA revision changes: a business day two weeks
    after the week's publication (the file's earliest date stays the publication date)."""
    return _business_day_on_or_after(publication_date(week_ending, tier) + _REVISED_AFTER)


def _bad_row(
    rng: random.Random,
    kind: str,
    universe: _Universe,
    last_line: dict[int, int],
    rows: Sequence[_Row],
    published: str,
    taken: set[tuple[str, str]],
) -> tuple[int, _Row]:
    """One bad row and the row index it goes after (never before the first data row)."""
    if kind == "duplicate_key":
        at = rng.randrange(len(rows))
        row = rows[at]
        more = int(row.shares) + rng.randint(1, 500)
        return at, row._replace(shares=str(more), trades=str(int(row.trades) + 1))

    # A (symbol, venue) pair that the symbol never trades on, and that no other bad row of
    # the file uses, keeps the key unique: the row has exactly one problem.
    present = list(last_line)
    candidates = [
        i for i in present if len(universe.symbols[i].pairs) < len(universe.venues)
    ] or present
    for _attempt in range(50):
        chosen = rng.choice(candidates)
        sym = universe.symbols[chosen]
        traded = {pair.mpid for pair, _share, _participation in sym.pairs}
        free = [
            v for v in universe.venues if v[0] not in traded and (sym.symbol, v[0]) not in taken
        ]
        if free:
            break
    mpid, venue_name = rng.choice(free or universe.venues)[:2]
    taken.add((sym.symbol, mpid))
    symbol, name = sym.symbol, sym.name
    shares = str(rng.randint(100, 90_000))
    trades = str(rng.randint(1, 40))
    if kind == "missing_shares":
        shares = ""
    elif kind == "shares_thousands_separator":
        shares = f"{rng.randint(1_000, 9_999_999):,}"
    elif kind == "shares_exponent":
        shares = f"{rng.randint(1, 9)}e{rng.randint(4, 10)}"
    elif kind == "shares_decimal":
        shares = f"{rng.randint(100, 90_000)}.5"
    elif kind == "negative_trades":
        trades = f"-{rng.randint(1, 40)}"
    elif kind == "empty_symbol":
        symbol, name = "", ""  # as in the real 2025-12-29 OTC file
    elif kind == "symbol_with_dollar":
        cut = rng.randint(1, len(symbol)) if len(symbol) > 1 else 1
        symbol = f"{symbol[:cut]}${symbol[cut:]}"
    elif kind == "zero_volume":
        shares, trades = "0", "0"
    pair = _pair(universe.tier, symbol, name, mpid, venue_name)
    row = _Row(pair, shares, trades, published, short=kind == "too_few_fields")
    if kind == "empty_symbol":
        return len(rows) - 1, row  # at the end, like the real file
    if kind == "too_few_fields":
        return rng.randrange(len(rows)), row
    return last_line[chosen], row  # keeps the file sorted by symbol


def _week_rows(
    universe: _Universe, week: date, seed: int, scale: str, bad_rows: bool
) -> tuple[list[_Row], set[int]]:
    """Data rows of one (week, tier) file, as first published, and the indexes of the bad ones."""
    rng = random.Random(f"spine-dbt:{seed}:{scale}:{universe.tier}:{week.isoformat()}")
    rnd = rng.random
    bits = rng.getrandbits
    sym_noise, row_noise, size_noise = _noise_tables()
    published = publication_date(week, universe.tier).isoformat()
    rows: list[_Row] = []
    append = rows.append
    last_line: dict[int, int] = {}  # symbol index -> its last row index, for present symbols
    for index, sym in enumerate(universe.symbols):
        if sym.presence < 1.0 and rnd() >= sym.presence:
            continue
        volume = sym.volume * sym_noise[bits(_NOISE_BITS)]
        per_trade = 1.0 / sym.trade_size
        start = len(rows)
        for pair, share, participation in sym.pairs:
            if participation < 1.0 and rnd() >= participation:
                continue
            noise = bits(2 * _NOISE_BITS)
            shares = int(volume * share * row_noise[noise & _NOISE_MASK]) + 1
            trades = int(shares * per_trade * size_noise[noise >> _NOISE_BITS]) + 1
            if trades > shares:
                trades = shares
            append(_Row(pair, str(shares), str(trades), published))
        if len(rows) == start:  # every present symbol trades somewhere
            pair, share, _participation = sym.pairs[0]
            shares = int(volume * share) + 1
            trades = min(shares, int(shares * per_trade) + 1)
            append(_Row(pair, str(shares), str(trades), published))
        last_line[index] = len(rows) - 1

    if not bad_rows or len(rows) < 40:
        return rows, set()
    # Rotate through the kinds week by week (each tier with its own offset), so any run of
    # five consecutive weeks covers every kind; 2-4 bad rows per file, always < 5 % of rows.
    week_number = week.toordinal() // 7
    tier_offset = list(TIER_DESCRIPTIONS).index(universe.tier) * 3
    start_kind = (week_number * 2 + tier_offset) % len(_BAD_KINDS)
    count = min(rng.randint(2, 4), len(rows) // 20)
    kinds = [_BAD_KINDS[(start_kind + j) % len(_BAD_KINDS)] for j in range(count)]
    taken: set[tuple[str, str]] = set()
    inserts = [_bad_row(rng, kind, universe, last_line, rows, published, taken) for kind in kinds]
    # Insert after the chosen rows, last positions first; a bad row never comes first.
    for after, row in sorted(inserts, key=lambda item: item[0], reverse=True):
        rows.insert(after + 1, row)
    afters = sorted(after for after, _row in inserts)
    return rows, {after + shift for shift, after in enumerate(afters, start=1)}


def _revise(rows: list[_Row], bad: set[int], seed: int, week: date, tier: str) -> list[_Row]:
    """A FINRA-style revision: a few good rows get higher share counts and a later
    lastUpdateDate (revision_date); every other row keeps the publication date."""
    rng = random.Random(f"spine-dbt-revision:{seed}:{tier}:{week.isoformat()}")
    revised_on = revision_date(week, tier).isoformat()
    good = [i for i in range(len(rows)) if i not in bad]
    revised = list(rows)
    for i in sorted(rng.sample(good, min(len(good), rng.randint(3, 6)))):
        shares = int(revised[i].shares)
        bumped = shares + max(1, int(shares * rng.uniform(0.05, 0.5)))
        revised[i] = revised[i]._replace(shares=str(bumped), last_update=revised_on)
    return revised


def _symbol_totals(rows: Sequence[_Row], bad: set[int]) -> list[_Total]:
    """FINRA's total of each symbol over its valid venue rows (bad rows left out), in the
    order the symbols first appear."""
    totals: dict[str, _Total] = {}
    for index, row in enumerate(rows):
        if index in bad:
            continue
        symbol = row.pair.symbol
        seen = totals.get(symbol)
        if seen is None:
            totals[symbol] = _Total(
                symbol, row.pair.name, int(row.shares), int(row.trades), row.last_update
            )
        else:
            totals[symbol] = seen._replace(
                shares=seen.shares + int(row.shares),
                trades=seen.trades + int(row.trades),
                last_update=max(seen.last_update, row.last_update),
            )
    return list(totals.values())


def _firm_crd(mpid: str) -> str:
    """An illustrative, stable CRD number for a venue (not the firm's real one)."""
    return str(100_000 + zlib.crc32(mpid.encode("ascii")) % 900_000)


def _api_records(tier: str, week: date, rows: Sequence[_Row], bad: set[int]) -> Iterator[list[str]]:
    """The values of each API export record, in API_FIELDS order: the venue rows, then one
    symbol total per symbol. A short row lacks its last field (lastReportedDate)."""
    description, identifier = _API_TIERS[tier]
    published = publication_date(week, tier).isoformat()
    week_start = (week - timedelta(days=4)).isoformat()
    reported = week.isoformat()
    for row in rows:
        pair = row.pair
        values = [
            description,
            identifier,
            pair.symbol,
            pair.name,
            _firm_crd(pair.mpid),
            pair.mpid,
            pair.venue_name,
            _VENUE_ROW,
            _PRODUCT_TYPE,
            row.shares,
            row.trades,
            row.last_update,
            published,
            week_start,
            reported,
        ]
        yield values[:-1] if row.short else values
    for total in _symbol_totals(rows, bad):
        yield [
            description,
            identifier,
            total.symbol,
            total.name,
            "",
            "",
            "",
            _SYMBOL_TOTAL,
            _PRODUCT_TYPE,
            str(total.shares),
            str(total.trades),
            total.last_update,
            published,
            week_start,
            reported,
        ]


_JSON_NUMBERS = frozenset({"firmCRDNumber", "totalWeeklyShareQuantity", "totalWeeklyTradeCount"})


def _json_value(field: str, text: str) -> object:
    """A value as FINRA's JSON output carries it: null when empty, whole numbers as numbers
    in numeric fields, anything else (a bad row's `1,000`) as the text it is."""
    if text == "":
        return None
    if field in _JSON_NUMBERS and text.lstrip("-").isdigit():
        return int(text)
    return text


def _write_legacy(path: Path, rows: Sequence[_Row]) -> None:
    lines = [
        f"{row.pair.legacy_prefix}{row.shares}|{row.trades}"
        + ("" if row.short else f"|{row.last_update}")  # short: lastUpdateDate dropped
        for row in rows
    ]
    text = "\n".join([HEADER, *lines]) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def _write_api(path: Path, records: Iterator[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(API_FIELDS)
        writer.writerows(records)


def _write_json(path: Path, records: Iterator[list[str]]) -> None:
    """A JSON array with one object per line (a short record lacks lastReportedDate)."""
    objects = (
        json.dumps(
            # not strict: a short record's values stop before its last field
            {f: _json_value(f, text) for f, text in zip(API_FIELDS, values, strict=False)},
            ensure_ascii=False,
        )
        for values in records
    )
    text = "[\n" + ",\n".join(objects) + "\n]\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def _write(
    path: Path, layout: str, tier: str, week: date, rows: Sequence[_Row], bad: set[int]
) -> None:
    if layout == "legacy":
        _write_legacy(path, rows)
    elif layout == "api":
        _write_api(path, _api_records(tier, week, rows, bad))
    else:
        _write_json(path, _api_records(tier, week, rows, bad))


def _file_name(tier: str, week: date, layout: str) -> str:
    stamp = publication_date(week, tier).strftime("%Y%m%d")
    return f"finra_otc_weekly_{tier.lower()}_{stamp}.{LAYOUTS[layout]}"


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one file's rows are built: they are
    hundreds of thousands of small tuples in no reference cycle, which it would otherwise
    scan over and over (about 40 % of the generation time at the realistic scale)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_arguments(weeks: int, tiers: Sequence[str], end: date, scale: str, layout: str) -> None:
    unknown = [tier for tier in tiers if tier not in TIER_DESCRIPTIONS]
    if unknown or not tiers:
        raise ValueError(f"tiers must be some of {sorted(TIER_DESCRIPTIONS)}, got {list(tiers)}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    if end.weekday() != 4:
        raise ValueError(f"end must be a Friday, got {end.isoformat()} ({end:%A})")
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")


def generate(
    out_dir: Path,
    weeks: int,
    tiers: Sequence[str],
    end: date,
    *,
    scale: str = "small",
    seed: int = 7,
    bad_rows: bool = True,
    revised_week: bool = False,
    layout: str = "legacy",
) -> list[Path]:
    """Write synthetic FINRA weekly files and return their paths.

    One file per (week, tier) for the ``weeks`` Fridays ending at ``end``, named
    ``finra_otc_weekly_<tier lower>_<YYYYMMDD of its publication date>.<psv|csv|json>``.
    Every row's ``lastUpdateDate`` is the publication date (``publication_date``: the first
    NYSE business day on or after the Monday after the week + the tier's delay, 2 weeks for
    NMS_TIER_1 and 4 for the others), so the loader maps each file back to its week.

    ``layout``: ``legacy`` (pipe-delimited, 8 columns, no week column), ``api`` (FINRA's API
    text export: API_FIELDS, comma-delimited, every value double-quoted) or ``json`` (the
    API's JSON output: an array of objects with the same fields). ``api`` and ``json`` files
    also carry FINRA's control totals: after the venue rows, one ``ATS_W_SMBL`` row per
    symbol (no MPID, name or CRD number) with the sums of its valid venue rows.
    With ``bad_rows``, 2-4 rows per file each produce one reject code of BAD_ROW_KINDS.
    With ``revised_week`` a revised copy of the third-newest week of the first tier is also
    written to ``out_dir / "revisions"`` (same file name: its earliest lastUpdateDate is still
    the publication date; the revised rows carry ``revision_date``) and returned last; the
    other paths are sorted.
    """
    if isinstance(tiers, str):
        tiers = [tiers]
    _check_arguments(weeks, tiers, end, scale, layout)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    universes = _universes(seed, scale)
    fridays = _fridays_ending(end, weeks)
    revision_key = (fridays[-3] if weeks >= 3 else fridays[0], tiers[0])
    written: list[Path] = []
    revision: Path | None = None
    for tier in dict.fromkeys(tiers):
        for friday in fridays:
            with _collector_paused():
                rows, bad = _week_rows(universes[tier], friday, seed, scale, bad_rows)
                name = _file_name(tier, friday, layout)
                _write(out_dir / name, layout, tier, friday, rows, bad)
            written.append(out_dir / name)
            if revised_week and (friday, tier) == revision_key:
                (out_dir / "revisions").mkdir(exist_ok=True)
                revision = out_dir / "revisions" / name
                revised = _revise(rows, bad, seed, friday, tier)
                _write(revision, layout, tier, friday, revised, bad)
    written.sort()
    if revision is not None:
        written.append(revision)
    return written
