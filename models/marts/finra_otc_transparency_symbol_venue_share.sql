{#
    The symbol's volume is a window over the venue rows, partitioned under a small integer per
    capture (capture_key) instead of the capture id: the window then sorts far fewer bytes;
    the capture's id, week and tier join back per row. (A join to per-symbol totals is not
    cheaper: with the build's filters DuckDB hashes the 15 M venue rows instead of the totals.)
#}

with

venue_volumes as (
    select
        capture_id,
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
        week_ending,
        tier,
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

capture_keys as (
    {{ capture_keys('captures') }}
),

venue_shares as (
    select
        capture_keys.capture_key,
        venue_volumes.symbol,
        venue_volumes.venue_type,
        venue_volumes.mpid,
        venue_volumes.venue_name,
        venue_volumes.total_shares,
        venue_volumes.total_trades,
        venue_volumes.avg_trade_size,
        sum(venue_volumes.total_shares) over (
            partition by capture_keys.capture_key, venue_volumes.symbol
        ) as symbol_volume
    from venue_volumes
    inner join capture_keys on venue_volumes.capture_id = capture_keys.capture_id
),

final as (
    select
        captures.capture_id,
        captures.captured_at,
        captures.week_ending,
        captures.tier,
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
    inner join capture_keys on venue_shares.capture_key = capture_keys.capture_key
    inner join captures on capture_keys.capture_id = captures.capture_id
)

select * from final
