with

events as (
    select
        capture_id,
        run_id,
        status,
        event_at,
        detail
    from {{ source('finra', 'capture_events') }}
),

final as (
    select
        capture_id,
        run_id,
        status,
        event_at,
        detail
    from events
)

select * from final
