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
        total_trades,
        avg_trade_size
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

symbol_totals as (
    select
        capture_id,
        symbol,
        sum(total_shares) as symbol_volume
    from venue_volumes
    group by capture_id, symbol
),

final as (
    select
        venue_volumes.capture_id,
        captures.captured_at,
        venue_volumes.week_ending,
        venue_volumes.tier,
        venue_volumes.symbol,
        venue_volumes.mpid,
        venue_volumes.venue_name,
        venue_volumes.total_shares,
        venue_volumes.total_trades,
        venue_volumes.avg_trade_size,
        case
            when symbol_totals.symbol_volume > 0
                then cast(venue_volumes.total_shares as double) / cast(symbol_totals.symbol_volume as double)
            else 0.0
        end as venue_share
    from venue_volumes
    inner join symbol_totals
        on
            venue_volumes.capture_id = symbol_totals.capture_id
            and venue_volumes.symbol = symbol_totals.symbol
    inner join captures on venue_volumes.capture_id = captures.capture_id
)

select * from final
