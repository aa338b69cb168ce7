{{ config(severity='warn') }}

{#
    Warn (DOMAIN.md §6): compared with the previous week's capture of the same tier, the
    number of venues dropped by more than 20 %, or a venue's market share moved by more than
    10 points. One row per finding.
#}

with

windows as (
    select
        capture_id,
        week_ending,
        tier,
        input_capture_id as previous_capture_id
    from {{ ref('int_capture_windows_resolved') }}
    where {{ captures_in_build() }} and weeks_back = 1 and input_capture_id is not null
),

venue_shares as (
    {#- a venue is (venue_type, mpid): one key, so an MPID in both the ATS and the non-ATS data
        of a week is two venues -#}
    select
        capture_id,
        mpid,
        {{ dbt.concat(["coalesce(venue_type, '')", "':'", "mpid"]) }} as venue_key,
        market_share_pct
    from {{ ref('finra_otc_transparency_venue_share') }}
    where
        capture_id in (select windows.capture_id from windows)
        or capture_id in (select windows.previous_capture_id from windows)
),

venue_counts as (
    select
        capture_id,
        count(*) as venue_count
    from venue_shares
    group by capture_id
),

venue_count_drops as (
    select
        windows.capture_id,
        windows.week_ending,
        windows.tier,
        'venue count dropped more than 20 %' as finding,
        cast(null as {{ dbt.type_string() }}) as mpid,
        cast(previous_counts.venue_count as double) as previous_value,
        cast(current_counts.venue_count as double) as current_value
    from windows
    inner join venue_counts as current_counts on windows.capture_id = current_counts.capture_id
    inner join venue_counts as previous_counts on windows.previous_capture_id = previous_counts.capture_id
    where current_counts.venue_count < 0.8 * previous_counts.venue_count
),

window_venues as (
    select distinct
        windows.capture_id,
        windows.previous_capture_id,
        windows.week_ending,
        windows.tier,
        venue_shares.mpid,
        venue_shares.venue_key
    from windows
    inner join venue_shares
        on venue_shares.capture_id in (windows.capture_id, windows.previous_capture_id)
),

share_moves as (
    select
        window_venues.capture_id,
        window_venues.week_ending,
        window_venues.tier,
        'venue share moved more than 10 points' as finding,
        window_venues.mpid,
        coalesce(previous_shares.market_share_pct, 0) as previous_value,
        coalesce(current_shares.market_share_pct, 0) as current_value
    from window_venues
    left join venue_shares as current_shares
        on
            window_venues.capture_id = current_shares.capture_id
            and window_venues.venue_key = current_shares.venue_key
    left join venue_shares as previous_shares
        on
            window_venues.previous_capture_id = previous_shares.capture_id
            and window_venues.venue_key = previous_shares.venue_key
    where
        abs(coalesce(current_shares.market_share_pct, 0) - coalesce(previous_shares.market_share_pct, 0))
        > 0.10
),

final as (
    select * from venue_count_drops
    union all
    select * from share_moves
)

select * from final
