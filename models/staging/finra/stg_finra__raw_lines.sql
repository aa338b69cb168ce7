{#- The source line exactly as read, for the rejects mart; a view, so it costs nothing until read. -#}

with

raw_rows as (
    select
        capture_id,
        line_number,
        raw_line,
        capture_week_ending
    from {{ source('finra', 'finra_rows') }}
),

final as (
    select
        capture_id,
        line_number,
        raw_line,
        capture_week_ending
    from raw_rows
)

select * from final
