{#
    The venue rows are grouped under a small integer per capture (capture_key, numbered in this
    query) instead of the capture id, and the capture's id, week and tier join back per
    symbol: the hash table then holds a fraction of the bytes.
#}

with

venue_volumes as (
    select
        capture_id,
        symbol,
        issue_name,
        total_shares,
        total_trades
    from {{ ref('int_venue_volumes') }}
    where {{ captures_in_build() }}
),

captures as (
    select
        capture_id,
        week_ending,
        tier
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

capture_keys as (
    {{ capture_keys('captures') }}
),

symbols_summarized as (
    select
        capture_keys.capture_key,
        venue_volumes.symbol,
        max(venue_volumes.issue_name) as issue_name,
        sum(venue_volumes.total_shares) as total_volume,
        sum(venue_volumes.total_trades) as total_trades,
        {#- = count(distinct mpid): an accepted row is the only one of its (capture, symbol,
            mpid) (later ones are DUPLICATE_KEY rejects; tested on int_venue_volumes), and
            count(*) spares a distinct hash table per group. #}
        count(*) as venue_count
    from venue_volumes
    inner join capture_keys on venue_volumes.capture_id = capture_keys.capture_id
    group by capture_keys.capture_key, venue_volumes.symbol
),

final as (
    select
        captures.capture_id,
        captures.week_ending,
        captures.tier,
        symbols_summarized.symbol,
        symbols_summarized.issue_name,
        cast(symbols_summarized.total_volume as bigint) as total_volume,
        cast(symbols_summarized.total_trades as bigint) as total_trades,
        symbols_summarized.venue_count,
        case
            when symbols_summarized.total_trades <> 0
                then cast(symbols_summarized.total_volume as double) / symbols_summarized.total_trades
        end as avg_trade_size
    from symbols_summarized
    inner join capture_keys on symbols_summarized.capture_key = capture_keys.capture_key
    inner join captures on capture_keys.capture_id = captures.capture_id
)

select * from final
