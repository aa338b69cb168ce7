with

venue_volumes as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        mpid,
        venue_name,
        total_shares,
        total_trades
    from {{ ref('int_venue_volumes') }}
    where {{ captures_in_build() }}
),

captures as (
    select
        capture_id,
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

venues_aggregated as (
    select
        capture_id,
        week_ending,
        tier,
        mpid,
        max(venue_name) as venue_name,
        cast(sum(total_shares) as bigint) as total_volume,
        cast(sum(total_trades) as bigint) as total_trades,
        count(*) as symbol_count  -- = count(distinct symbol), see int_symbol_weeks_summarized
    from venue_volumes
    group by capture_id, week_ending, tier, mpid
),

tier_totals as (
    select
        capture_id,
        sum(total_volume) as tier_volume
    from venues_aggregated
    group by capture_id
),

final as (
    select
        venues_aggregated.capture_id,
        captures.captured_at,
        venues_aggregated.week_ending,
        venues_aggregated.tier,
        venues_aggregated.mpid,
        venues_aggregated.venue_name,
        venues_aggregated.total_volume,
        venues_aggregated.total_trades,
        venues_aggregated.symbol_count,
        case
            when tier_totals.tier_volume > 0
                then cast(venues_aggregated.total_volume as double) / cast(tier_totals.tier_volume as double)
            else 0.0
        end as market_share_pct,
        row_number() over (
            partition by venues_aggregated.capture_id
            order by venues_aggregated.total_volume desc, venues_aggregated.mpid asc
        ) as rank
    from venues_aggregated
    inner join tier_totals on venues_aggregated.capture_id = tier_totals.capture_id
    inner join captures on venues_aggregated.capture_id = captures.capture_id
)

select * from final
