{{ config(materialized='view') }}

{#- A view: a capture's status comes from the append-only events log and changes over time. -#}

with

captures as (
    select
        capture_id,
        run_id,
        week_ending,
        tier,
        source_file,
        file_sha256,
        layout,
        week_source,
        rows_read,
        calc_versions,
        captured_at,
        status,
        status_at,
        status_detail
    from {{ ref('stg_finra__captures') }}
),

row_counts as (
    select
        capture_id,
        rows_accepted,
        rows_finra_totals,
        rows_rejected
    from {{ ref('int_capture_rows_counted') }}
),

final as (
    select
        captures.capture_id,
        captures.run_id,
        captures.week_ending,
        captures.tier,
        captures.source_file,
        captures.file_sha256,
        captures.layout,
        captures.week_source,
        captures.rows_read,
        row_counts.rows_accepted,
        row_counts.rows_finra_totals,
        row_counts.rows_rejected,
        captures.calc_versions,
        captures.captured_at,
        captures.status,
        captures.status_at,
        captures.status_detail
    from captures
    left join row_counts on captures.capture_id = row_counts.capture_id
)

select * from final
