{#
    The movers of the weekly report: every symbol of the latest published capture of a
    (week, tier) whose 6-week trend rose or fell. The report lists, per direction, the
    symbols moving most among those averaging at least --min-mover-volume shares a week.
#}

with

rolling_windows as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        avg_volume,
        trend_pct,
        trend_direction,
        weeks_in_window
    from {{ ref('finra_otc_transparency_symbol_rolling_6w_latest') }}
    where trend_pct is not null and trend_pct <> 0
),

symbol_summaries as (
    select
        week_ending,
        tier,
        symbol,
        issue_name,
        total_volume
    from {{ ref('finra_otc_transparency_symbol_summary_latest') }}
),

final as (
    select
        rolling_windows.capture_id,
        rolling_windows.week_ending,
        rolling_windows.tier,
        rolling_windows.symbol,
        symbol_summaries.issue_name,
        case when rolling_windows.trend_pct > 0 then 'rising' else 'falling' end as mover_direction,
        rolling_windows.trend_pct,
        rolling_windows.trend_direction,
        rolling_windows.avg_volume,
        rolling_windows.weeks_in_window,
        symbol_summaries.total_volume
    from rolling_windows
    left join symbol_summaries
        on
            rolling_windows.week_ending = symbol_summaries.week_ending
            and rolling_windows.tier = symbol_summaries.tier
            and rolling_windows.symbol = symbol_summaries.symbol
)

select * from final
