with

venue_volumes as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        issue_name,
        mpid,
        total_shares,
        total_trades
    from {{ ref('int_venue_volumes') }}
    where {{ captures_in_build() }}
),

symbols_summarized as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        max(issue_name) as issue_name,
        sum(total_shares) as total_volume,
        sum(total_trades) as total_trades,
        {#- = count(distinct mpid): an accepted row is the only one of its (capture, symbol,
            mpid) (later ones are DUPLICATE_KEY rejects; tested on int_venue_volumes), and
            count(*) spares a distinct hash table per group. #}
        count(*) as venue_count
    from venue_volumes
    group by capture_id, week_ending, tier, symbol
),

final as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        issue_name,
        cast(total_volume as bigint) as total_volume,
        cast(total_trades as bigint) as total_trades,
        venue_count,
        case
            when total_trades <> 0 then cast(total_volume as double) / total_trades
        end as avg_trade_size
    from symbols_summarized
)

select * from final
