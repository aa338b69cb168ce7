{{ config(severity='warn') }}

{#-
    Warn: a capture's 6-week window has fewer than 6 weeks of tier data (DOMAIN.md §4): the
    rolling rows exist but are incomplete. One row per capture with a short window.
-#}

with

windows as (
    select
        capture_id,
        week_ending,
        tier,
        input_capture_id
    from {{ ref('int_capture_windows_resolved') }}
    where {{ captures_in_build() }}
),

final as (
    select
        capture_id,
        week_ending,
        tier,
        count(input_capture_id) as weeks_with_data
    from windows
    group by capture_id, week_ending, tier
    having count(input_capture_id) < 6
)

select * from final
