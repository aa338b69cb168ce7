{#
    The venue-share table of the weekly report: each venue of the latest published capture of
    a (week, tier) with its share the week before, read from the latest published capture of
    that week (not from the 6-week window's inputs), and the change in percentage points. A
    venue is (venue_type, mpid); venue_type is null in the layouts that do not give it.
#}

with

venue_shares as (
    select
        capture_id,
        week_ending,
        tier,
        venue_type,
        mpid,
        venue_name,
        rank,
        total_volume,
        total_trades,
        symbol_count,
        market_share_pct
    from {{ ref('finra_otc_transparency_venue_share_latest') }}
),

previous_weeks_dated as (
    select
        *,
        cast({{ dbt.dateadd('day', -7, 'week_ending') }} as date) as previous_week_ending
    from venue_shares
),

final as (
    select
        current_shares.capture_id,
        current_shares.week_ending,
        current_shares.tier,
        current_shares.venue_type,
        current_shares.mpid,
        current_shares.venue_name,
        current_shares.rank,
        current_shares.total_volume,
        current_shares.total_trades,
        current_shares.symbol_count,
        current_shares.market_share_pct,
        previous_shares.market_share_pct as previous_market_share_pct,
        (current_shares.market_share_pct - previous_shares.market_share_pct) * 100 as market_share_change_pts
    from previous_weeks_dated as current_shares
    left join venue_shares as previous_shares
        on
            current_shares.previous_week_ending = previous_shares.week_ending
            and current_shares.tier = previous_shares.tier
            and current_shares.mpid = previous_shares.mpid
            and coalesce(current_shares.venue_type, '') = coalesce(previous_shares.venue_type, '')
)

select * from final
