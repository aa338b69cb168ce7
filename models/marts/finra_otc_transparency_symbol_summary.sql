with

symbol_weeks as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        issue_name,
        total_volume,
        total_trades,
        venue_count,
        avg_trade_size
    from {{ ref('int_symbol_weeks_summarized') }}
    where {{ captures_in_build() }}
),

captures as (
    select
        capture_id,
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

final as (
    select
        symbol_weeks.capture_id,
        captures.captured_at,
        symbol_weeks.week_ending,
        symbol_weeks.tier,
        symbol_weeks.symbol,
        symbol_weeks.issue_name,
        symbol_weeks.total_volume,
        symbol_weeks.total_trades,
        symbol_weeks.venue_count,
        symbol_weeks.avg_trade_size
    from symbol_weeks
    inner join captures on symbol_weeks.capture_id = captures.capture_id
)

select * from final
