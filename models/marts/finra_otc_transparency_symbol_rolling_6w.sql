{#
    DOMAIN.md §4, rolling 6 weeks, for every week being built and every symbol present in it.
    The window's inputs come from int_capture_windows_resolved (this build's captures first,
    else the latest published capture of each earlier week); only those captures' summary
    rows are read, never the whole history.
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
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

input_summaries as (
    select
        capture_id,
        week_ending,
        symbol,
        total_volume,
        total_trades
    from {{ ref('int_symbol_weeks_summarized') }}
    where capture_id in (
        select windows.input_capture_id
        from windows
    )
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
        windows.capture_id,
        windows.week_ending,
        windows.tier,
        input_summaries.symbol
    from windows
    inner join input_summaries on windows.input_capture_id = input_summaries.capture_id
    where windows.window_week_ending = windows.week_ending
),

window_rows as (
    select
        symbols_in_week.capture_id,
        symbols_in_week.week_ending,
        symbols_in_week.tier,
        symbols_in_week.symbol,
        windows.window_week_ending,
        input_summaries.total_volume,
        input_summaries.total_trades
    from symbols_in_week
    inner join windows on symbols_in_week.capture_id = windows.capture_id
    inner join input_summaries
        on
            windows.input_capture_id = input_summaries.capture_id
            and symbols_in_week.symbol = input_summaries.symbol
),

windows_aggregated as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        count(*) as weeks_in_window,
        sum(total_volume) as window_volume,
        sum(total_trades) as window_trades,
        min(total_volume) as min_volume,
        max(total_volume) as max_volume,
        {{ value_by('min', 'total_volume', 'window_week_ending') }} as first_volume,
        {{ value_by('max', 'total_volume', 'window_week_ending') }} as last_volume
    from window_rows
    group by capture_id, week_ending, tier, symbol
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
        trends_computed.capture_id,
        captures.captured_at,
        trends_computed.week_ending,
        trends_computed.tier,
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
    inner join captures on trends_computed.capture_id = captures.capture_id
    inner join window_inputs_listed on trends_computed.capture_id = window_inputs_listed.capture_id
)

select * from final
