{#
    The symbol's volume is a window over the venue rows, taken before the join to captures: a
    join back to per-symbol totals (or a join ahead of the window) costs twice as much.
#}

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

venue_shares as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        venue_type,
        mpid,
        venue_name,
        total_shares,
        total_trades,
        avg_trade_size,
        sum(total_shares) over (partition by capture_id, symbol) as symbol_volume
    from venue_volumes
),

final as (
    select
        venue_shares.capture_id,
        captures.captured_at,
        venue_shares.week_ending,
        venue_shares.tier,
        venue_shares.symbol,
        venue_shares.venue_type,
        venue_shares.mpid,
        venue_shares.venue_name,
        venue_shares.total_shares,
        venue_shares.total_trades,
        venue_shares.avg_trade_size,
        case
            when venue_shares.symbol_volume > 0
                then cast(venue_shares.total_shares as double) / cast(venue_shares.symbol_volume as double)
            else 0.0
        end as venue_share
    from venue_shares
    inner join captures on venue_shares.capture_id = captures.capture_id
)

select * from final
