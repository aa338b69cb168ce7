{#
    FINRA's own totals (DOMAIN.md §4, Reconciliation): one row per FINRA total line of a
    capture (summaryTypeCode ATS_W_SMBL / OTC_W_SMBL: a symbol's total over the ATSs / the
    non-ATS firms; ATS_W_FIRM / OTC_W_FIRM: a firm's total over its symbols), beside the sums
    of the accepted venue rows of the same family and the rejected detail lines that could
    explain a difference.
#}

with

{# Two reads of the validated rows, each of the columns it needs: the FINRA total lines
    (a few per symbol at most), and the detail lines they are reconciled with. #}
validated_totals as (
    select
        capture_id,
        week_ending,
        tier,
        line_number,
        summary_type,
        venue_type,
        symbol,
        mpid,
        total_shares,
        total_trades
    from {{ ref('stg_finra__rows_validated') }}
    where
        {{ captures_in_build(week_column='week_ending') }}
        and is_finra_total
),

validated_details as (
    select
        capture_id,
        venue_type,
        symbol,
        mpid,
        total_shares,
        total_trades,
        reason_code,
        is_accepted
    from {{ ref('stg_finra__rows_validated') }}
    where
        {{ captures_in_build(week_column='week_ending') }}
        and not is_finra_total
        and (is_accepted or reason_code is not null)
),

captures as (
    select
        capture_id,
        captured_at
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

finra_totals as (
    select
        capture_id,
        week_ending,
        tier,
        line_number,
        summary_type,
        venue_type,
        case when summary_type in ('ATS_W_SMBL', 'OTC_W_SMBL') then symbol end as symbol,
        case when summary_type in ('ATS_W_FIRM', 'OTC_W_FIRM') then mpid end as mpid,
        total_shares as finra_total_volume,
        total_trades as finra_total_trades
    from validated_totals
),

detail_rows as (
    select
        capture_id,
        venue_type,
        symbol,
        mpid,
        case when is_accepted then total_shares else 0 end as accepted_shares,
        case when is_accepted then total_trades else 0 end as accepted_trades,
        case when reason_code is not null then 1 else 0 end as is_rejected
    from validated_details
    {# only captures with FINRA totals (layouts without summaryTypeCode have none) #}
    where capture_id in (select finra_totals.capture_id from finra_totals)
),

symbol_details as (
    select
        capture_id,
        venue_type,
        symbol,
        sum(accepted_shares) as detail_volume,
        sum(accepted_trades) as detail_trades,
        sum(is_rejected) as rejected_lines
    from detail_rows
    group by capture_id, venue_type, symbol
),

firm_details as (
    select
        capture_id,
        venue_type,
        mpid,
        sum(accepted_shares) as detail_volume,
        sum(accepted_trades) as detail_trades,
        sum(is_rejected) as rejected_lines
    from detail_rows
    group by capture_id, venue_type, mpid
),

totals_reconciled as (
    select
        finra_totals.*,
        coalesce(symbol_details.detail_volume, firm_details.detail_volume, 0) as detail_volume,
        coalesce(symbol_details.detail_trades, firm_details.detail_trades, 0) as detail_trades,
        coalesce(symbol_details.rejected_lines, firm_details.rejected_lines, 0) as rejected_lines
    from finra_totals
    left join symbol_details
        on
            finra_totals.capture_id = symbol_details.capture_id
            and finra_totals.venue_type = symbol_details.venue_type
            and finra_totals.symbol = symbol_details.symbol
    left join firm_details
        on
            finra_totals.capture_id = firm_details.capture_id
            and finra_totals.venue_type = firm_details.venue_type
            and finra_totals.mpid = firm_details.mpid
),

final as (
    select
        totals_reconciled.capture_id,
        captures.captured_at,
        totals_reconciled.week_ending,
        totals_reconciled.tier,
        totals_reconciled.line_number,
        totals_reconciled.summary_type,
        totals_reconciled.venue_type,
        totals_reconciled.symbol,
        totals_reconciled.mpid,
        totals_reconciled.finra_total_volume,
        totals_reconciled.finra_total_trades,
        cast(totals_reconciled.detail_volume as bigint) as detail_volume,
        cast(totals_reconciled.detail_trades as bigint) as detail_trades,
        cast(totals_reconciled.rejected_lines as bigint) as rejected_lines,
        totals_reconciled.finra_total_volume = totals_reconciled.detail_volume
        and totals_reconciled.finra_total_trades = totals_reconciled.detail_trades as is_matched
    from totals_reconciled
    inner join captures on totals_reconciled.capture_id = captures.capture_id
)

select * from final
