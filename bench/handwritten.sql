-- The practical lower bound for `bench/backfill.py`: the same computation as spine-dbt's
-- backfill (load with physical line numbers, validate, dedupe, every mart of DOMAIN.md §4) as
-- one hand-written DuckDB script, set-based, with no captures, no tests and no history.
-- `{files}` is replaced by the benchmark with a SQL list of the FINRA export files.
set preserve_insertion_order = false;

create table raw_rows as
with texts as (
    select filename, string_split(content, chr(10)) as lines
    from read_text({files})
),
numbered as (
    select filename, unnest(lines) as line, generate_subscripts(lines, 1) as line_number
    from texts
)
select
    filename,
    line_number,
    rtrim(line, chr(13)) as raw_line,
    string_split(rtrim(line, chr(13)), '|') as fields
from numbered
where line_number > 1 and trim(line) <> '';

create table validated as
with typed as (
    select
        filename,
        line_number,
        raw_line,
        len(fields) as field_count,
        upper(trim(fields[1])) as tier_text,
        upper(trim(fields[2])) as symbol,
        fields[3] as issue_name,
        fields[4] as venue_name,
        upper(trim(fields[5])) as mpid,
        case when regexp_full_match(trim(fields[6]), '-?[0-9]{1,18}') then cast(trim(fields[6]) as bigint) end as shares,
        case when regexp_full_match(trim(fields[7]), '-?[0-9]{1,18}') then cast(trim(fields[7]) as bigint) end as trades,
        try_cast(trim(fields[8]) as date) as last_update_date,
        -- the file's initial publication: its earliest lastUpdateDate (revised rows are later)
        min(try_cast(trim(fields[8]) as date)) over (partition by filename) as published_date
    from raw_rows
),
coded as (
    select
        *,
        -- DOMAIN.md §1.3: the last Friday strictly before the publication, minus the tier's
        -- publication delay (NMS Tier 1: 2 weeks, the other tiers: 4)
        published_date - (((dayofweek(published_date) + 2) % 7 + 6) % 7 + 1)::integer
            - case when replace(tier_text, ' ', '') = 'NMSTIER1' then 14 else 28 end as week_ending,
        case
            when field_count <> 8 then 'MALFORMED_ROW'
            when shares is null then 'INVALID_SHARES'
            when trades is null then 'INVALID_TRADES'
            when last_update_date is null then 'INVALID_DATE'
            when replace(tier_text, ' ', '') not in ('NMSTIER1', 'NMSTIER2', 'OTC') then 'INVALID_TIER'
            when symbol = '' then 'EMPTY_SYMBOL'
            when not regexp_full_match(symbol, '[A-Z0-9./-]+') then 'INVALID_SYMBOL'
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
    *,
    case
        when reason_code is null and row_number() over (
            partition by filename, reason_code is null, symbol, mpid order by line_number
        ) > 1 then 'DUPLICATE_KEY'
        else reason_code
    end as final_reason_code
from coded;

create table rejects as
select filename, line_number, raw_line, final_reason_code as reason_code
from validated where final_reason_code is not null;

create table venue_volumes as
select
    week_ending, replace(tier_text, ' ', '') as tier, symbol, issue_name, mpid, venue_name,
    shares, trades, case when trades <> 0 then shares / trades end as avg_trade_size
from validated where final_reason_code is null;

create table symbol_summary as
select
    week_ending, tier, symbol, sum(shares)::bigint as total_volume, sum(trades)::bigint as total_trades,
    count(distinct mpid) as venue_count,
    case when sum(trades) <> 0 then sum(shares)::double / sum(trades) end as avg_trade_size
from venue_volumes group by all;

create table venue_share as
with venues as (
    select week_ending, tier, mpid, sum(shares)::bigint as total_volume,
           sum(trades)::bigint as total_trades, count(distinct symbol) as symbol_count
    from venue_volumes group by all
)
select
    *,
    coalesce(total_volume / nullif(sum(total_volume) over (partition by week_ending, tier), 0), 0)
        as market_share_pct,
    row_number() over (partition by week_ending, tier order by total_volume desc, mpid) as rank
from venues;

create table symbol_venue_share as
select
    *,
    coalesce(shares / nullif(sum(shares) over (partition by week_ending, tier, symbol), 0), 0)
        as venue_share
from venue_volumes;

create table symbol_concentration as
with ranked as (
    select *, row_number() over (partition by week_ending, tier, symbol order by shares desc, mpid) as r
    from venue_volumes
)
select
    week_ending, tier, symbol, count(distinct mpid) as venue_count,
    coalesce(sum(shares::hugeint * shares)::double / nullif((sum(shares::hugeint) * sum(shares::hugeint))::double, 0), 0) as hhi,
    max(mpid) filter (where r = 1) as top_mpid,
    coalesce(sum(shares) filter (where r = 1) / nullif(sum(shares), 0), 0) as top_venue_share,
    coalesce(sum(shares) filter (where r <= 3) / nullif(sum(shares), 0), 0) as top3_share
from ranked group by all;

create table symbol_rolling_6w as
with windows as (
    select
        w.week_ending, w.tier, w.symbol, h.week_ending as window_week, h.total_volume, h.total_trades
    from symbol_summary as w
    inner join symbol_summary as h
        on h.tier = w.tier and h.symbol = w.symbol
        and h.week_ending between w.week_ending - 35 and w.week_ending
)
select
    week_ending, tier, symbol,
    avg(total_volume) as avg_volume, avg(total_trades) as avg_trades,
    min(total_volume) as min_volume, max(total_volume) as max_volume,
    case when count(*) >= 2 and arg_min(total_volume, window_week) <> 0 then
        (arg_max(total_volume, window_week) - arg_min(total_volume, window_week))::double * 100
        / arg_min(total_volume, window_week) end as trend_pct,
    count(*) as weeks_in_window, count(*) = 6 as is_complete
from windows group by all;

create table liquidity_score as
select week_ending, tier, symbol, 'v1' as calc_version,
       (round(avg_trade_size, 2)::decimal(38, 2) * venue_count)::double as liquidity_score
from symbol_summary;

create table research_snapshot as
select s.*, r.avg_volume, r.trend_pct, c.hhi, c.top_mpid, l.liquidity_score,
       5 - (select count(*) from (values (date '2025-12-25')) h(d) where h.d between s.week_ending - 4 and s.week_ending) as trading_days
from symbol_summary s
left join symbol_rolling_6w r using (week_ending, tier, symbol)
left join symbol_concentration c using (week_ending, tier, symbol)
left join liquidity_score l using (week_ending, tier, symbol);
