{#
    hhi = sum(v^2) / (sum v)^2 with exact 38-digit integer numerator and denominator and one
    final division (DOMAIN.md §4); 0 when the symbol traded no shares. The venues are ranked
    under a small integer per capture (capture_key, numbered in this query) instead of the
    capture id: the window then sorts a third of the bytes and DuckDB spills none of them; the
    capture's id, week and tier join back per symbol.
#}

with

venue_volumes as (
    select
        capture_id,
        symbol,
        mpid,
        total_shares
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

venues_ranked as (
    select
        capture_keys.capture_key,
        venue_volumes.symbol,
        venue_volumes.mpid,
        venue_volumes.total_shares,
        row_number() over (
            partition by capture_keys.capture_key, venue_volumes.symbol
            order by venue_volumes.total_shares desc, venue_volumes.mpid asc
        ) as venue_rank
    from venue_volumes
    inner join capture_keys on venue_volumes.capture_id = capture_keys.capture_id
),

symbols_aggregated as (
    select
        capture_key,
        symbol,
        count(*) as venue_count,  -- = count(distinct mpid), see int_symbol_weeks_summarized
        sum({{ exact_integer('total_shares') }} * {{ exact_integer('total_shares') }}) as sum_squared_volume,
        sum({{ exact_integer('total_shares') }}) as total_volume,
        max(case when venue_rank = 1 then mpid end) as top_mpid,
        sum(case when venue_rank = 1 then total_shares else 0 end) as top_volume,
        sum(case when venue_rank <= 3 then total_shares else 0 end) as top3_volume
    from venues_ranked
    group by capture_key, symbol
),

final as (
    select
        captures.capture_id,
        captures.captured_at,
        captures.week_ending,
        captures.tier,
        symbols_aggregated.symbol,
        symbols_aggregated.venue_count,
        case
            when symbols_aggregated.total_volume > 0
                then
                    cast(symbols_aggregated.sum_squared_volume as double)
                    / cast(symbols_aggregated.total_volume * symbols_aggregated.total_volume as double)
            else 0.0
        end as hhi,
        symbols_aggregated.top_mpid,
        case
            when symbols_aggregated.total_volume > 0
                then cast(symbols_aggregated.top_volume as double) / cast(symbols_aggregated.total_volume as double)
            else 0.0
        end as top_venue_share,
        case
            when symbols_aggregated.total_volume > 0
                then cast(symbols_aggregated.top3_volume as double) / cast(symbols_aggregated.total_volume as double)
            else 0.0
        end as top3_share
    from symbols_aggregated
    inner join capture_keys on symbols_aggregated.capture_key = capture_keys.capture_key
    inner join captures on capture_keys.capture_id = captures.capture_id
)

select * from final
