{#
    Symbol summary joined with the rolling window, concentration and the liquidity score (of
    the version recorded when the capture was loaded), all of the same capture.
    trading_days = weekdays of the week (Monday .. week_ending) that are not NYSE holidays.
#}

with

summaries as (
    select
        capture_id,
        captured_at,
        week_ending,
        tier,
        symbol,
        issue_name,
        total_volume,
        total_trades,
        venue_count,
        avg_trade_size
    from {{ ref('finra_otc_transparency_symbol_summary') }}
    where {{ captures_in_build() }}
),

rolling as (
    select
        capture_id,
        symbol,
        avg_volume,
        avg_trades,
        trend_pct,
        trend_direction,
        weeks_in_window,
        is_complete
    from {{ ref('finra_otc_transparency_symbol_rolling_6w') }}
    where {{ captures_in_build() }}
),

concentration as (
    select
        capture_id,
        symbol,
        hhi,
        top_mpid,
        top_venue_share,
        top3_share
    from {{ ref('finra_otc_transparency_symbol_concentration') }}
    where {{ captures_in_build() }}
),

liquidity as (
    select
        capture_id,
        symbol,
        calc_version,
        liquidity_score
    from {{ ref('finra_otc_transparency_liquidity_score') }}
    where {{ captures_in_build() }}
),

holidays as (
    select holiday_date
    from {{ ref('nyse_holidays') }}
),

weekdays as (
    {% for days_back in range(5) -%}
        select {{ days_back }} as days_back
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

build_weeks as (
    select distinct week_ending
    from summaries
),

trading_days_counted as (
    select
        build_weeks.week_ending,
        sum(case when holidays.holiday_date is null then 1 else 0 end) as trading_days
    from build_weeks
    cross join weekdays
    left join holidays
        on
            cast({{ dbt.dateadd('day', '-1 * weekdays.days_back', 'build_weeks.week_ending') }} as date)
            = holidays.holiday_date
    group by build_weeks.week_ending
),

final as (
    select
        summaries.capture_id,
        summaries.captured_at,
        summaries.week_ending,
        summaries.tier,
        summaries.symbol,
        summaries.issue_name,
        summaries.total_volume,
        summaries.total_trades,
        summaries.venue_count,
        summaries.avg_trade_size,
        rolling.avg_volume as rolling_avg_volume,
        rolling.avg_trades as rolling_avg_trades,
        rolling.trend_pct as rolling_trend_pct,
        rolling.trend_direction as rolling_trend_direction,
        rolling.weeks_in_window as rolling_weeks_in_window,
        rolling.is_complete as rolling_is_complete,
        rolling.capture_id is not null as has_rolling_data,
        concentration.hhi,
        concentration.top_mpid,
        concentration.top_venue_share,
        concentration.top3_share,
        liquidity.calc_version as liquidity_calc_version,
        liquidity.liquidity_score,
        cast(trading_days_counted.trading_days as integer) as trading_days,
        case
            when trading_days_counted.trading_days > 0
                then cast(summaries.total_volume as double) / trading_days_counted.trading_days
        end as volume_per_trading_day
    from summaries
    inner join trading_days_counted on summaries.week_ending = trading_days_counted.week_ending
    left join rolling
        on summaries.capture_id = rolling.capture_id and summaries.symbol = rolling.symbol
    left join concentration
        on summaries.capture_id = concentration.capture_id and summaries.symbol = concentration.symbol
    left join liquidity
        on summaries.capture_id = liquidity.capture_id and summaries.symbol = liquidity.symbol
)

select * from final
