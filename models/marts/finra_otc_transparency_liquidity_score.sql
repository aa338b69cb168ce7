{#
    One row per capture, symbol and the calc version recorded when the capture was loaded
    (DOMAIN.md §3, §5); versions coexist in the table.
    v1 = round(avg_trade_size, 2) x venue_count, computed exactly in DECIMAL (cents), with
    avg_trade_size rounded half up from the integer sums (macros/round_ratio.sql);
    v2 = log10(total_volume + 1) x log10(total_trades + 1) x log10(venue_count + 1).
    The column is DOUBLE so that both versions fit; v1 values are whole cents.
#}
{% set versions = calc_versions_by_capture('liquidity_score') %}

with

symbol_weeks as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
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

capture_versions as (
    {{ capture_calc_versions_sql(versions, 'captures') }}
),

calc_versions as (
    select
        calc_name,
        version as calc_version
    from {{ ref('calc_versions') }}
    where calc_name = 'liquidity_score'
),

scores_computed as (
    select
        symbol_weeks.capture_id,
        symbol_weeks.week_ending,
        symbol_weeks.tier,
        symbol_weeks.symbol,
        calc_versions.calc_name,
        calc_versions.calc_version,
        case calc_versions.calc_version
            when 'v1'
                then cast(
                    cast(
                        {{ round_ratio('symbol_weeks.total_volume', 'symbol_weeks.total_trades', 2) }}
                        as decimal(38, 2)
                    )
                    * symbol_weeks.venue_count as decimal(38, 2)
                )
            when 'v2' then
                log10(symbol_weeks.total_volume + 1)
                * log10(symbol_weeks.total_trades + 1)
                * log10(symbol_weeks.venue_count + 1)
        end as liquidity_score
    from symbol_weeks
    inner join capture_versions on symbol_weeks.capture_id = capture_versions.capture_id
    inner join calc_versions on capture_versions.calc_version = calc_versions.calc_version
),

final as (
    select
        scores_computed.capture_id,
        captures.captured_at,
        scores_computed.week_ending,
        scores_computed.tier,
        scores_computed.symbol,
        scores_computed.calc_name,
        scores_computed.calc_version,
        cast(scores_computed.liquidity_score as double) as liquidity_score
    from scores_computed
    inner join captures on scores_computed.capture_id = captures.capture_id
)

select * from final
