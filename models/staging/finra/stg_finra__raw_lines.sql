{#- The source line exactly as read, for the rejects mart; a view, so it costs nothing until
    read, and a line the loader kept no text of is rebuilt (finra_raw_line) only when read. -#}

with

raw_rows as (
    select
        capture_id,
        line_number,
        raw_line,
        field_count,
        {{ finra_field_columns() | join(',\n        ') }},
        capture_week_ending
    from {{ source('finra', 'finra_rows') }}
),

captures as (
    select
        capture_id,
        delimiter,
        field_order
    from {{ source('finra', 'captures') }}
),

lines as (
    select
        raw_rows.capture_id,
        raw_rows.line_number,
        raw_rows.raw_line,
        raw_rows.field_count,
        raw_rows.{{ finra_field_columns() | join(',\n        raw_rows.') }},
        raw_rows.capture_week_ending,
        captures.delimiter,
        captures.field_order
    from raw_rows
    left join captures on raw_rows.capture_id = captures.capture_id
),

final as (
    select
        capture_id,
        line_number,
        {{ finra_raw_line() }} as raw_line,
        capture_week_ending
    from lines
)

select * from final
