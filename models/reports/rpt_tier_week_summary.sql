{#
    The summary of the weekly report: per (week, tier) with a published capture, that capture
    with its file and line counts, the tier's totals over its venues, its top venue (rank 1)
    and how many symbols it traded, at how many venues.
#}

with

venue_shares as (
    select
        capture_id,
        week_ending,
        tier,
        mpid,
        venue_name,
        rank,
        total_volume,
        total_trades,
        market_share_pct
    from {{ ref('finra_otc_transparency_venue_share_latest') }}
),

concentrations as (
    select
        capture_id,
        venue_count
    from {{ ref('finra_otc_transparency_symbol_concentration_latest') }}
),

captures as (
    select
        capture_id,
        source_file,
        rows_read,
        rows_accepted,
        rows_rejected
    from {{ ref('finra_otc_transparency_captures') }}
),

venues_summed as (
    select
        capture_id,
        week_ending,
        tier,
        count(*) as venue_count,
        sum(total_volume) as total_volume,
        sum(total_trades) as total_trades
    from venue_shares
    group by capture_id, week_ending, tier
),

symbols_counted as (
    select
        capture_id,
        count(*) as symbol_count,
        sum(case when venue_count = 1 then 1 else 0 end) as single_venue_symbol_count
    from concentrations
    group by capture_id
),

final as (
    select
        venues_summed.capture_id,
        venues_summed.week_ending,
        venues_summed.tier,
        captures.source_file,
        coalesce(captures.rows_read, 0) as rows_read,
        coalesce(captures.rows_accepted, 0) as rows_accepted,
        coalesce(captures.rows_rejected, 0) as rows_rejected,
        case
            when captures.rows_read > 0
                then cast(coalesce(captures.rows_rejected, 0) as double) / cast(captures.rows_read as double)
            else 0.0
        end as reject_rate,
        top_venues.mpid as top_mpid,
        top_venues.venue_name as top_venue_name,
        top_venues.market_share_pct as top_market_share_pct,
        cast(venues_summed.venue_count as {{ dbt.type_bigint() }}) as venue_count,
        cast(venues_summed.total_volume as {{ dbt.type_bigint() }}) as total_volume,
        cast(venues_summed.total_trades as {{ dbt.type_bigint() }}) as total_trades,
        cast(coalesce(symbols_counted.symbol_count, 0) as {{ dbt.type_bigint() }}) as symbol_count,
        cast(
            coalesce(symbols_counted.single_venue_symbol_count, 0) as {{ dbt.type_bigint() }}
        ) as single_venue_symbol_count
    from venues_summed
    inner join venue_shares as top_venues
        on
            venues_summed.capture_id = top_venues.capture_id
            and top_venues.rank = 1
    left join captures on venues_summed.capture_id = captures.capture_id
    left join symbols_counted on venues_summed.capture_id = symbols_counted.capture_id
)

select * from final
