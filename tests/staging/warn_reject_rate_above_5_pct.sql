{{ config(severity='warn') }}

{#- Warn: more than 5 % of a file's data lines were rejected (DOMAIN.md §6). -#}

with

counts as (
    select
        capture_id,
        rows_read,
        rows_rejected
    from {{ ref('int_capture_rows_counted') }}
    where {{ captures_in_build() }}
),

final as (
    select
        capture_id,
        rows_read,
        rows_rejected,
        cast(rows_rejected as double) / rows_read as reject_rate
    from counts
    where rows_read > 0 and cast(rows_rejected as double) / rows_read > 0.05
)

select * from final
