-- The practical lower bound for `bench/backfill.py`: the same computation as spine-dbt's
-- backfill of the generated files (load, validate, dedupe, every mart of DOMAIN.md §4) as one
-- hand-written DuckDB script: set-based, one pass per stage, no captures, no tests, no
-- history. It reads what `spine-dbt generate` writes (FINRA's legacy export: pipe-delimited,
-- no quoting, a header, LF line ends, no week column) with DuckDB's CSV reader and never
-- splits text in SQL. The layout has no summaryTypeCode, so venue_type is null and there are
-- no FINRA totals to reconcile. The benchmark checks that its marts hold the backfill's
-- numbers, and its rejects the backfill's line numbers, codes and raw lines.
-- `{files}` is replaced by the benchmark with a SQL list of the files, `{nyse_holidays}` with
-- the path of the nyse_holidays seed.

-- 1. Load: every data line, typed (DOMAIN.md §2), in file order. The CSV reader gives no line
-- numbers, but with insertion order preserved (DuckDB's guarantee for a statement without
-- ORDER BY, parallel reads included) the table's rowids follow the files' lines: a line's
-- number is its rowid minus its file's first rowid, plus 2 (line 1 is the header; the
-- generated files have no blank lines, which the reader would skip). Only the order decides
-- which of two duplicates is kept, and the benchmark checks these numbers against the
-- rejects'. A ninth column catches a line with too many fields; a missing field is null, an
-- empty one '' (`nullstr` is a character no field holds). The codes a line has on its own
-- are found here, in the order DOMAIN.md lists them; those that need the file come in stage 3.
-- Stored in the database file, compressed, as the warehouse's raw rows are: a temp table of
-- 15 M lines would spill out of the memory limit.
set preserve_insertion_order = true;

create table lines as
with fields as (
    select
        file_index,
        c1, c2, c3, c4, c5, c6, c7, c8, c9,
        trim(c2) as symbol,
        upper(trim(c5)) as mpid,
        trim(c6) as shares_text,
        trim(c7) as trades_text,
        trim(c8) as last_update_text
    from read_csv(
        {files},
        auto_detect = false, header = true, delim = '|', quote = '', escape = '',
        new_line = '\n', null_padding = true, nullstr = chr(1),
        columns = {
            'c1': 'varchar', 'c2': 'varchar', 'c3': 'varchar', 'c4': 'varchar',
            'c5': 'varchar', 'c6': 'varchar', 'c7': 'varchar', 'c8': 'varchar', 'c9': 'varchar'
        }
    )
),
typed as (
    select
        *,
        -- whole numbers up to 10^13 (so that no BIGINT sum overflows); `1e10`, `1,000`,
        -- `1000.5` are not
        case
            when regexp_full_match(shares_text, '-?[0-9]{1,18}')
                and abs(shares_text::bigint) <= 10000000000000 then shares_text::bigint
        end as shares,
        case
            when regexp_full_match(trades_text, '-?[0-9]{1,18}')
                and abs(trades_text::bigint) <= 10000000000000 then trades_text::bigint
        end as trades,
        case
            when regexp_full_match(last_update_text, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                then try_cast(last_update_text as date)
        end as last_update_date
    from fields
),
coded as (
    select
        *,
        case
            when c8 is null or c9 is not null then 'MALFORMED_ROW'
            when lower(shares_text) in ('', 'null') then 'MISSING_SHARES'
            when lower(trades_text) in ('', 'null') then 'MISSING_TRADES'
            when shares is null then 'INVALID_SHARES'
            when trades is null then 'INVALID_TRADES'
            when last_update_date is null then 'INVALID_DATE'
            when symbol = '' then 'EMPTY_SYMBOL'
            when not regexp_full_match(symbol, '[A-Za-z0-9./-]+') then 'INVALID_SYMBOL'
            when length(symbol) > 20 then 'SYMBOL_TOO_LONG'
            when mpid = '' then 'EMPTY_MPID'
            when length(mpid) > 20 then 'MPID_TOO_LONG'
            when shares < 0 then 'NEGATIVE_SHARES'
            when trades < 0 then 'NEGATIVE_TRADES'
            when shares = 0 and trades = 0 then 'ZERO_VOLUME'
        end as reason_code
    from typed
)
select
    file_index,
    c1 as tier_text,
    symbol,  -- trimmed, case kept (`TpC` is not `TPC`)
    c3 as issue_name,
    c4 as venue_name,
    mpid,  -- trimmed, upper-cased
    shares,
    trades,
    last_update_date,
    reason_code,
    -- the raw line of a line rejected here (see the rejects for the others)
    case
        when reason_code is not null then concat_ws('|', c1, c2, c3, c4, c5, c6, c7, c8, c9)
    end as raw_line
from coded;

set preserve_insertion_order = false;

-- A tier text's tier: the tier_aliases seed's spellings, compared trimmed, case-insensitive,
-- with space, `_` and `-` ignored; null for anything else.
create temp macro tier_of(tier_text) as
    case upper(replace(replace(replace(trim(tier_text), ' ', ''), '_', ''), '-', ''))
        when 'NMSTIER1' then 'NMS_TIER_1' when 'TIER1' then 'NMS_TIER_1' when 'T1' then 'NMS_TIER_1'
        when 'NMSTIER2' then 'NMS_TIER_2' when 'TIER2' then 'NMS_TIER_2' when 'T2' then 'NMS_TIER_2'
        when 'OTC' then 'OTC' when 'OTCE' then 'OTC'
    end;

-- 2. Each file's first line (rowid), tier (its first line's) and week (§1.3 rule 3: the last
-- Friday strictly before its earliest lastUpdateDate, minus the tier's publication delay:
-- NMS Tier 1 2 weeks, the other tiers 4).
create temp table files as
with firsts as (
    select
        file_index,
        min(rowid) as first_rowid,
        arg_min(tier_text, rowid) as tier_text,
        min(last_update_date) as published
    from lines
    group by file_index
),
tiers as (
    select
        *,
        tier_of(tier_text) as tier
    from firsts
)
select
    file_index,
    first_rowid,
    tier_text,
    tier,
    published
    - ((((published - date '1970-01-02') % 7 + 7) % 7 + 6) % 7 + 1)::integer
    - case tier when 'NMS_TIER_1' then 14 else 28 end as week_ending
from tiers;

-- 3. Every line placed in its file's week and tier, numbered, with the codes that need the
-- file, in DOMAIN.md's order: INVALID_WEEK_ENDING (no week for the file), INVALID_TIER,
-- TIER_MISMATCH (a line with its file's first line's tier text has its tier), then
-- DUPLICATE_KEY: the second and later valid line of a (symbol, venue) in a file, the first
-- by line number kept (venue_type is null in this layout). Views: each stage below reads the
-- lines once; only the few duplicated keys are stored, found with one aggregation.
create temp view coded as
with joined as (
    select
        l.rowid - f.first_rowid + 2 as line_number,
        l.file_index,
        f.week_ending,
        f.tier,
        l.tier_text,
        l.symbol,
        l.issue_name,
        l.venue_name,
        l.mpid,
        l.shares,
        l.trades,
        l.last_update_date,
        l.reason_code as line_reason_code,
        l.raw_line,
        case
            when l.tier_text is not distinct from f.tier_text then f.tier
            else tier_of(l.tier_text)
        end as line_tier
    from lines as l
    inner join files as f on l.file_index = f.file_index
)
select
    * exclude (line_reason_code, line_tier),
    case
        when line_reason_code in (
            'MALFORMED_ROW', 'MISSING_SHARES', 'MISSING_TRADES', 'INVALID_SHARES',
            'INVALID_TRADES', 'INVALID_DATE'
        ) then line_reason_code
        when week_ending is null then 'INVALID_WEEK_ENDING'
        when line_tier is null then 'INVALID_TIER'
        when line_tier <> tier then 'TIER_MISMATCH'
        else line_reason_code
    end as reason_code
from joined;

create temp table duplicated as
select file_index, symbol, mpid, min(line_number) as first_line
from coded
where reason_code is null
group by file_index, symbol, mpid
having count(*) > 1;

create temp view placed as
select
    c.* exclude (reason_code),
    case
        when c.reason_code is null and c.line_number > d.first_line then 'DUPLICATE_KEY'
        else c.reason_code
    end as reason_code
from coded as c
left join duplicated as d
    on c.file_index = d.file_index and c.symbol = d.symbol and c.mpid = d.mpid;

-- A line rejected in stage 3 (a duplicate, another tier) kept no raw line: it is rebuilt from
-- its fields, its text as long as they carry no padding (as in the generated files).
create table rejects as
select
    week_ending,
    tier,
    file_index,
    line_number,
    reason_code,
    coalesce(
        raw_line,
        concat_ws(
            '|', tier_text, symbol, issue_name, venue_name, mpid, shares, trades, last_update_date
        )
    ) as raw_line
from placed
where reason_code is not null;

-- 4. The marts (DOMAIN.md §4): sums over integers, one final division, as the models compute
-- them. A symbol's summary and concentration come from one aggregation, the venues' shares of
-- a symbol from a join to it.
create temp table symbol_weeks as
select
    week_ending,
    tier,
    symbol,
    max(issue_name) as issue_name,
    sum(shares)::bigint as total_volume,
    sum(trades)::bigint as total_trades,
    count(*) as venue_count,  -- = count(distinct mpid): duplicates are rejected
    sum(shares::decimal(38, 0) * shares::decimal(38, 0)) as sum_squared_volume,
    sum(shares::decimal(38, 0)) as exact_volume,
    arg_min(mpid, (-shares, mpid)) as top_mpid,  -- the largest volume, ties by mpid
    max(shares) as top_volume,
    list_sum(max(shares, 3)) as top3_volume
from placed
where reason_code is null
group by week_ending, tier, symbol;

create table symbol_summary as
select
    week_ending, tier, symbol, issue_name, total_volume, total_trades, venue_count,
    case when total_trades <> 0 then total_volume::double / total_trades end as avg_trade_size
from symbol_weeks;

create table symbol_concentration as
select
    week_ending,
    tier,
    symbol,
    venue_count,
    case
        when exact_volume > 0
            then sum_squared_volume::double / (exact_volume * exact_volume)::double
        else 0.0
    end as hhi,
    top_mpid,
    case when exact_volume > 0 then top_volume::double / exact_volume::double else 0.0 end
        as top_venue_share,
    case when exact_volume > 0 then top3_volume::double / exact_volume::double else 0.0 end
        as top3_share
from symbol_weeks;

create table symbol_venue_share as
select
    p.week_ending,
    p.tier,
    p.symbol,
    null::varchar as venue_type,
    p.mpid,
    p.venue_name,
    p.shares as total_shares,
    p.trades as total_trades,
    case when p.trades <> 0 then p.shares::double / p.trades end as avg_trade_size,
    case when s.total_volume > 0 then p.shares::double / s.total_volume::double else 0.0 end
        as venue_share
from placed as p
inner join symbol_weeks as s
    on p.week_ending = s.week_ending and p.tier = s.tier and p.symbol = s.symbol
where p.reason_code is null;

create table venue_share as
with venues as (
    select
        week_ending,
        tier,
        null::varchar as venue_type,
        mpid,
        max(venue_name) as venue_name,
        sum(shares)::bigint as total_volume,
        sum(trades)::bigint as total_trades,
        count(*) as symbol_count  -- = count(distinct symbol)
    from placed
    where reason_code is null
    group by week_ending, tier, mpid
),
shared as (
    select
        *,
        sum(total_volume) over (partition by week_ending, tier) as tier_volume,
        sum(total_volume) over (partition by week_ending, tier, venue_type) as venue_type_volume
    from venues
)
select
    week_ending,
    tier,
    venue_type,
    mpid,
    venue_name,
    total_volume,
    total_trades,
    symbol_count,
    case when tier_volume > 0 then total_volume::double / tier_volume::double else 0.0 end
        as market_share_pct,
    case
        when venue_type is null then null
        when venue_type_volume > 0 then total_volume::double / venue_type_volume::double
        else 0.0
    end as venue_type_share,
    row_number() over (
        partition by week_ending, tier order by total_volume desc, mpid asc, venue_type asc
    ) as rank
from shared;

-- Rolling 6 weeks for every week and every symbol present in it: the weeks w-35d .. w of the
-- same tier where the symbol has a summary (all of them are built here, as in one backfill).
create table symbol_rolling_6w as
with windowed as (
    select
        week_ending,
        tier,
        symbol,
        total_volume as last_volume,
        sum(total_volume) over six_weeks as window_volume,
        sum(total_trades) over six_weeks as window_trades,
        count(*) over six_weeks as weeks_in_window,
        min(total_volume) over six_weeks as min_volume,
        max(total_volume) over six_weeks as max_volume,
        first_value(total_volume) over six_weeks as first_volume
    from symbol_weeks
    window six_weeks as (
        partition by tier, symbol order by week_ending
        range between interval 35 days preceding and current row
    )
),
trends as (
    select
        *,
        case
            when weeks_in_window >= 2 and first_volume <> 0
                then (last_volume - first_volume)::double * 100 / first_volume::double
        end as trend_pct
    from windowed
)
select
    week_ending,
    tier,
    symbol,
    window_volume::double / weeks_in_window as avg_volume,
    window_trades::double / weeks_in_window as avg_trades,
    min_volume,
    max_volume,
    trend_pct,
    case
        when trend_pct > 5 then 'UP'
        when trend_pct < -5 then 'DOWN'
        when trend_pct is not null then 'FLAT'
    end as trend_direction,
    weeks_in_window::integer as weeks_in_window,
    weeks_in_window = 6 as is_complete
from trends;

-- v1, the current version: round(avg_trade_size, 2) (half up, from the integer sums) x
-- venue_count, exact in DECIMAL.
create table liquidity_score as
select
    week_ending,
    tier,
    symbol,
    'liquidity_score' as calc_name,
    'v1' as calc_version,
    (
        (
            case
                when total_trades <> 0
                    then floor(
                        (200 * total_volume::double + total_trades) / (2 * total_trades::double)
                    ) / 100
            end
        )::decimal(38, 2) * venue_count
    )::decimal(38, 2)::double as liquidity_score
from symbol_weeks;

create table research_snapshot as
with trading_days as (
    select
        w.week_ending,
        5 - count(h.holiday_date) as trading_days
    from (select distinct week_ending from symbol_summary) as w
    left join read_csv('{nyse_holidays}', header = true, columns = {
        'holiday_date': 'date', 'holiday_name': 'varchar'
    }) as h on h.holiday_date between w.week_ending - 4 and w.week_ending
    group by w.week_ending
)
select
    s.week_ending,
    s.tier,
    s.symbol,
    s.issue_name,
    s.total_volume,
    s.total_trades,
    s.venue_count,
    s.avg_trade_size,
    r.avg_volume as rolling_avg_volume,
    r.avg_trades as rolling_avg_trades,
    r.trend_pct as rolling_trend_pct,
    r.trend_direction as rolling_trend_direction,
    r.weeks_in_window as rolling_weeks_in_window,
    r.is_complete as rolling_is_complete,
    r.symbol is not null as has_rolling_data,
    c.hhi,
    c.top_mpid,
    c.top_venue_share,
    c.top3_share,
    l.calc_version as liquidity_calc_version,
    l.liquidity_score,
    d.trading_days::integer as trading_days,
    case when d.trading_days > 0 then s.total_volume::double / d.trading_days end
        as volume_per_trading_day
from symbol_summary as s
inner join trading_days as d on s.week_ending = d.week_ending
left join symbol_rolling_6w as r
    on s.week_ending = r.week_ending and s.tier = r.tier and s.symbol = r.symbol
left join symbol_concentration as c
    on s.week_ending = c.week_ending and s.tier = c.tier and s.symbol = c.symbol
left join liquidity_score as l
    on s.week_ending = l.week_ending and s.tier = l.tier and s.symbol = l.symbol;
