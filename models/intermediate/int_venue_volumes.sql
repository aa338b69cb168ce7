{{ config(materialized='ephemeral') }}

{#
    Ephemeral: the accepted rows are already stored once, in stg_finra__rows_validated; writing
    them again here would double the cost of a backfill for no new information. The public
    per-venue table is finra_otc_transparency_symbol_venue_share.
#}

with

accepted_rows as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        issue_name,
        venue_type,
        mpid,
        venue_name,
        total_shares,
        total_trades
    from {{ ref('stg_finra__rows_validated') }}
    where {{ captures_in_build(week_column='week_ending') }} and is_accepted
),

final as (
    select
        capture_id,
        week_ending,
        tier,
        symbol,
        issue_name,
        venue_type,
        mpid,
        venue_name,
        total_shares,
        total_trades,
        case
            when total_trades <> 0 then cast(total_shares as double) / total_trades
        end as avg_trade_size
    from accepted_rows
)

select * from final
