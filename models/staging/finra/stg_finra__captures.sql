{#- Views, not incremental: a capture's status changes after its rows are built. -#}

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
        {#- captures loaded before week_source was recorded were placed by the rules of then -#}
        coalesce(
            week_source,
            case when layout = 'simplified' then 'week_ending_column' else 'previous_friday' end
        ) as week_source,
        expected_field_count,
        rows_read,
        calc_versions,
        captured_at
    from {{ source('finra', 'captures') }}
),

current_events as (
    {{ current_capture_events_sql(ref('stg_finra__capture_events')) }}
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
        captures.expected_field_count,
        captures.rows_read,
        captures.calc_versions,
        captures.captured_at,
        current_events.status,
        current_events.event_at as status_at,
        current_events.detail as status_detail
    from captures
    left join current_events on captures.capture_id = current_events.capture_id
)

select * from final
