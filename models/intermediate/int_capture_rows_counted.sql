with

build_captures as (
    select
        capture_id,
        rows_read
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

accepted as (
    select
        capture_id,
        count(*) as rows_accepted
    from {{ ref('int_venue_volumes') }}
    where {{ captures_in_build() }}
    group by capture_id
),

rejected as (
    select
        capture_id,
        count(*) as rows_rejected
    from {{ ref('finra_otc_transparency_rejects') }}
    where {{ captures_in_build() }}
    group by capture_id
),

finra_totals as (
    select
        capture_id,
        count(*) as rows_finra_totals
    from {{ ref('finra_otc_transparency_reconciliation') }}
    where {{ captures_in_build() }}
    group by capture_id
),

final as (
    select
        build_captures.capture_id,
        build_captures.rows_read,
        cast(coalesce(accepted.rows_accepted, 0) as bigint) as rows_accepted,
        cast(coalesce(finra_totals.rows_finra_totals, 0) as bigint) as rows_finra_totals,
        cast(coalesce(rejected.rows_rejected, 0) as bigint) as rows_rejected
    from build_captures
    left join accepted on build_captures.capture_id = accepted.capture_id
    left join finra_totals on build_captures.capture_id = finra_totals.capture_id
    left join rejected on build_captures.capture_id = rejected.capture_id
)

select * from final
