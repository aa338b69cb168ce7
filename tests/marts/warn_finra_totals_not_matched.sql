{{ config(severity='warn') }}

{#-
    Warn: a FINRA total that the venue rows of the same family (ATS or non-ATS) and symbol or
    firm do not add up to (DOMAIN.md §4, Reconciliation). Each failing row names the symbol or
    the firm; totals whose difference no rejected line explains come first.
-#}

with

reconciliation as (
    select
        capture_id,
        line_number,
        summary_type,
        symbol,
        mpid,
        finra_total_volume,
        detail_volume,
        finra_total_trades,
        detail_trades,
        rejected_lines,
        is_matched
    from {{ ref('finra_otc_transparency_reconciliation') }}
    where {{ captures_in_build() }}
),

final as (
    select
        capture_id,
        line_number,
        summary_type,
        coalesce(symbol, mpid) as symbol_or_firm,
        finra_total_volume,
        detail_volume,
        finra_total_trades,
        detail_trades,
        rejected_lines
    from reconciliation
    where not is_matched
    order by rejected_lines asc, capture_id asc, line_number asc
)

select * from final
