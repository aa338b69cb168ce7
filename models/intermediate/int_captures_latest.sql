{{ config(materialized='view') }}

{#
    Downstream of the publication gate, so the capture-history snapshot, which reads this
    view, runs after this build's captures are published.
    `latest_since` is when the capture became its (week, tier)'s latest, from the events log:
    its publication, or the later withdrawal (rollback) of a newer published capture. The
    snapshot takes it as its `updated_at`, so a rollback run by hand is recorded with its own
    time by the next `dbt snapshot` or `dbt build`, not with the time the snapshot ran.
#}
-- depends_on: {{ ref('int_captures_published') }}

with

captures as (
    select
        capture_id,
        run_id,
        week_ending,
        tier,
        captured_at,
        status,
        status_at
    from {{ ref('stg_finra__captures') }}
),

events as (
    select
        capture_id,
        status,
        event_at
    from {{ ref('stg_finra__capture_events') }}
),

latest_captures as (
    {{ latest_published_captures('captures') }}
),

publications as (
    select
        capture_id,
        min(event_at) as published_at
    from events
    where status = 'published'
    group by capture_id
),

withdrawals_dated as (
    {# when a capture that had been published stopped being published (its rollback) #}
    select
        events.capture_id,
        min(events.event_at) as withdrawn_at
    from events
    inner join publications on events.capture_id = publications.capture_id
    where
        events.status != 'published'
        and events.event_at >= publications.published_at
    group by events.capture_id
),

newer_withdrawals_dated as (
    select
        latest_captures.capture_id,
        max(withdrawals_dated.withdrawn_at) as withdrawn_at
    from latest_captures
    inner join captures as newer_captures
        on
            latest_captures.week_ending = newer_captures.week_ending
            and latest_captures.tier = newer_captures.tier
            and (
                latest_captures.captured_at < newer_captures.captured_at
                or (
                    latest_captures.captured_at = newer_captures.captured_at
                    and latest_captures.capture_id < newer_captures.capture_id
                )
            )
    inner join withdrawals_dated on newer_captures.capture_id = withdrawals_dated.capture_id
    group by latest_captures.capture_id
),

final as (
    select
        latest_captures.capture_id,
        latest_captures.run_id,
        latest_captures.week_ending,
        latest_captures.tier,
        latest_captures.captured_at,
        {{ dbt.concat([
            "latest_captures.tier",
            "':'",
            dbt.cast("latest_captures.week_ending", api.Column.translate_type("string")),
        ]) }} as partition_key,
        greatest(
            captures.status_at,
            coalesce(newer_withdrawals_dated.withdrawn_at, captures.status_at)
        ) as latest_since
    from latest_captures
    inner join captures on latest_captures.capture_id = captures.capture_id
    left join newer_withdrawals_dated on latest_captures.capture_id = newer_withdrawals_dated.capture_id
)

select * from final
