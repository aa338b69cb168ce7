with

validated_rows as (
    select
        capture_id,
        is_accepted
    from {{ ref('stg_finra__rows_validated') }}
    where {{ captures_in_build() }}
),

build_captures as (
    select
        capture_id,
        rows_read
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

rows_counted as (
    select
        capture_id,
        sum(case when is_accepted then 1 else 0 end) as rows_accepted,
        sum(case when is_accepted then 0 else 1 end) as rows_rejected
    from validated_rows
    group by capture_id
),

final as (
    select
        build_captures.capture_id,
        build_captures.rows_read,
        cast(coalesce(rows_counted.rows_accepted, 0) as bigint) as rows_accepted,
        cast(coalesce(rows_counted.rows_rejected, 0) as bigint) as rows_rejected
    from build_captures
    left join rows_counted on build_captures.capture_id = rows_counted.capture_id
)

select * from final
