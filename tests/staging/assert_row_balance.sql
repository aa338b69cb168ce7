{#
    Row balance (DOMAIN.md §2), error severity: for every capture being built, the data lines
    read from its file = rows accepted (int_venue_volumes) + rows rejected (the rejects mart).
    Returns the captures where the three counts disagree.
#}

with

captures as (
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

final as (
    select
        captures.capture_id,
        captures.rows_read,
        coalesce(accepted.rows_accepted, 0) as rows_accepted,
        coalesce(rejected.rows_rejected, 0) as rows_rejected
    from captures
    left join accepted on captures.capture_id = accepted.capture_id
    left join rejected on captures.capture_id = rejected.capture_id
    where
        captures.rows_read
        <> coalesce(accepted.rows_accepted, 0) + coalesce(rejected.rows_rejected, 0)
)

select * from final
