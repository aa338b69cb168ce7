{#
    The concentration histogram of the weekly report: each symbol's HHI across venues in the
    latest published capture of a (week, tier), with its weekly shares (what the HHI bands
    weigh).
#}

with

concentrations as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        hhi,
        venue_count
    from {{ ref('finra_otc_transparency_symbol_concentration_latest') }}
),

symbol_summaries as (
    select
        week_ending,
        tier,
        symbol,
        total_volume
    from {{ ref('finra_otc_transparency_symbol_summary_latest') }}
),

final as (
    select
        concentrations.capture_id,
        concentrations.week_ending,
        concentrations.tier,
        concentrations.symbol,
        concentrations.hhi,
        concentrations.venue_count,
        coalesce(symbol_summaries.total_volume, 0) as total_volume
    from concentrations
    left join symbol_summaries
        on
            concentrations.week_ending = symbol_summaries.week_ending
            and concentrations.tier = symbol_summaries.tier
            and concentrations.symbol = symbol_summaries.symbol
)

select * from final
