with

venue_volumes as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        venue_type,
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
        venue_type,
        mpid,
        max(venue_name) as venue_name,
        cast(sum(total_shares) as bigint) as total_volume,
        cast(sum(total_trades) as bigint) as total_trades,
        count(*) as symbol_count  -- = count(distinct symbol), see int_symbol_weeks_summarized
    from venue_volumes
    group by capture_id, week_ending, tier, venue_type, mpid
),

venues_shared as (
    select
        *,
        sum(total_volume) over (partition by capture_id) as tier_volume,
        sum(total_volume) over (partition by capture_id, venue_type) as venue_type_volume
    from venues_aggregated
),

final as (
    select
        venues_shared.capture_id,
        captures.captured_at,
        venues_shared.week_ending,
        venues_shared.tier,
        venues_shared.venue_type,
        venues_shared.mpid,
        venues_shared.venue_name,
        venues_shared.total_volume,
        venues_shared.total_trades,
        venues_shared.symbol_count,
        case
            when venues_shared.tier_volume > 0
                then cast(venues_shared.total_volume as double) / cast(venues_shared.tier_volume as double)
            else 0.0
        end as market_share_pct,
        case
            when venues_shared.venue_type is null then null
            when venues_shared.venue_type_volume > 0
                then cast(venues_shared.total_volume as double) / cast(venues_shared.venue_type_volume as double)
            else 0.0
        end as venue_type_share,
        row_number() over (
            partition by venues_shared.capture_id
            order by venues_shared.total_volume desc, venues_shared.mpid asc, venues_shared.venue_type asc
        ) as rank
    from venues_shared
    inner join captures on venues_shared.capture_id = captures.capture_id
)

select * from final
