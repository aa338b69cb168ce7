{{ config(severity='warn') }}

{#
    Warn: a tier's weekly volume moved more than 50 % from the previous week (DOMAIN.md §6).
    Compares each capture being built with the previous week's capture of its window.
#}

with

windows as (
    select
        capture_id,
        week_ending,
        tier,
        input_capture_id as previous_capture_id
    from {{ ref('int_capture_windows_resolved') }}
    where {{ captures_in_build() }} and weeks_back = 1 and input_capture_id is not null
),

tier_volumes as (
    select
        capture_id,
        sum(total_volume) as tier_volume
    from {{ ref('int_symbol_weeks_summarized') }}
    where
        capture_id in (select windows.capture_id from windows)
        or capture_id in (select windows.previous_capture_id from windows)
    group by capture_id
),

final as (
    select
        windows.capture_id,
        windows.week_ending,
        windows.tier,
        previous_volumes.tier_volume as previous_volume,
        current_volumes.tier_volume as current_volume
    from windows
    inner join tier_volumes as current_volumes on windows.capture_id = current_volumes.capture_id
    inner join tier_volumes as previous_volumes
        on windows.previous_capture_id = previous_volumes.capture_id
    where
        previous_volumes.tier_volume > 0
        and abs(cast(current_volumes.tier_volume - previous_volumes.tier_volume as double))
        > 0.5 * previous_volumes.tier_volume
)

select * from final
