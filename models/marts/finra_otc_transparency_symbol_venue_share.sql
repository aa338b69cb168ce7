{#
    The symbol's volume is its total_volume in int_symbol_weeks_summarized (one home for a
    symbol's weekly sums), joined per venue row: hashing the 1.5 M symbol rows and probing
    them with the venue rows costs half of what a window over the venue rows did.
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

symbol_volumes as (
    select
        capture_id,
        symbol,
        total_volume
    from {{ ref('int_symbol_weeks_summarized') }}
    where {{ captures_in_build(week_column='week_ending') }}
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

final as (
    select
        captures.capture_id,
        captures.captured_at,
        captures.week_ending,
        captures.tier,
        venue_volumes.symbol,
        venue_volumes.venue_type,
        venue_volumes.mpid,
        venue_volumes.venue_name,
        venue_volumes.total_shares,
        venue_volumes.total_trades,
        venue_volumes.avg_trade_size,
        case
            when symbol_volumes.total_volume > 0
                then cast(venue_volumes.total_shares as double) / cast(symbol_volumes.total_volume as double)
            else 0.0
        end as venue_share
    from venue_volumes
    inner join symbol_volumes
        on
            venue_volumes.capture_id = symbol_volumes.capture_id
            and venue_volumes.symbol = symbol_volumes.symbol
    inner join captures on venue_volumes.capture_id = captures.capture_id
)

select * from final
