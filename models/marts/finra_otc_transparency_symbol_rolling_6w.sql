{#
    DOMAIN.md §4, rolling 6 weeks, for every week being built and every symbol present in it.
    The window's inputs come from int_capture_windows_resolved (this build's captures first,
    else the latest published capture of each earlier week); only those captures' summary
    rows are read, never the whole history. The captures are joined and grouped by small
    integers numbered in this query (capture_key: the captures built; input_key: their window
    inputs), not by their ids: grouping ~10 M window rows by a 40-character id spilled
    gigabytes; the capture's id, week and tier join back per symbol.
#}

with

windows as (
    select
        capture_id,
        week_ending,
        tier,
        window_week_ending,
        input_capture_id
    from {{ ref('int_capture_windows_resolved') }}
    where {{ captures_in_build() }}
),

captures as (
    select
        capture_id,
        week_ending,
        tier,
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

summaries as (
    select
        capture_id,
        symbol,
        total_volume,
        total_trades
    from {{ ref('int_symbol_weeks_summarized') }}
    where capture_id in (
        select windows.input_capture_id
        from windows
    )
),

capture_keys as (
    {{ capture_keys('captures') }}
),

input_captures as (
    select distinct input_capture_id
    from windows
    where input_capture_id is not null
),

input_keys as (
    select
        input_capture_id,
        capture_key as input_key
    from ({{ capture_keys('input_captures', 'input_capture_id') }}) as numbered
),

window_links as (
    select
        capture_keys.capture_key,
        input_keys.input_key,
        windows.window_week_ending,
        windows.window_week_ending = windows.week_ending as is_own_week
    from windows
    inner join capture_keys on windows.capture_id = capture_keys.capture_id
    inner join input_keys on windows.input_capture_id = input_keys.input_capture_id
),

input_summaries as (
    select
        input_keys.input_key,
        summaries.symbol,
        summaries.total_volume,
        summaries.total_trades
    from summaries
    inner join input_keys on summaries.capture_id = input_keys.input_capture_id
),

window_inputs_listed as (
    select
        capture_id,
        {{ sorted_string_agg('input_capture_id') }} as input_capture_ids
    from windows
    where input_capture_id is not null
    group by capture_id
),

symbols_in_week as (
    select
        window_links.capture_key,
        input_summaries.symbol
    from window_links
    inner join input_summaries on window_links.input_key = input_summaries.input_key
    where window_links.is_own_week
),

window_rows as (
    select
        symbols_in_week.capture_key,
        symbols_in_week.symbol,
        window_links.window_week_ending,
        input_summaries.total_volume,
        input_summaries.total_trades
    from symbols_in_week
    inner join window_links on symbols_in_week.capture_key = window_links.capture_key
    inner join input_summaries
        on
            window_links.input_key = input_summaries.input_key
            and symbols_in_week.symbol = input_summaries.symbol
),

windows_aggregated as (
    select
        capture_key,
        symbol,
        count(*) as weeks_in_window,
        sum(total_volume) as window_volume,
        sum(total_trades) as window_trades,
        min(total_volume) as min_volume,
        max(total_volume) as max_volume,
        {{ value_by('min', 'total_volume', 'window_week_ending') }} as first_volume,
        {{ value_by('max', 'total_volume', 'window_week_ending') }} as last_volume
    from window_rows
    group by capture_key, symbol
),

trends_computed as (
    select
        *,
        case
            when weeks_in_window >= 2 and first_volume <> 0
                then cast(last_volume - first_volume as double) * 100 / cast(first_volume as double)
        end as trend_pct
    from windows_aggregated
),

final as (
    select
        captures.capture_id,
        captures.captured_at,
        captures.week_ending,
        captures.tier,
        trends_computed.symbol,
        cast(trends_computed.window_volume as double) / trends_computed.weeks_in_window as avg_volume,
        cast(trends_computed.window_trades as double) / trends_computed.weeks_in_window as avg_trades,
        trends_computed.min_volume,
        trends_computed.max_volume,
        trends_computed.trend_pct,
        case
            when trends_computed.trend_pct > 5 then 'UP'
            when trends_computed.trend_pct < -5 then 'DOWN'
            when trends_computed.trend_pct is not null then 'FLAT'
        end as trend_direction,
        cast(trends_computed.weeks_in_window as integer) as weeks_in_window,
        trends_computed.weeks_in_window = 6 as is_complete,
        window_inputs_listed.input_capture_ids
    from trends_computed
    inner join capture_keys on trends_computed.capture_key = capture_keys.capture_key
    inner join captures on capture_keys.capture_id = captures.capture_id
    inner join window_inputs_listed on captures.capture_id = window_inputs_listed.capture_id
)

select * from final
