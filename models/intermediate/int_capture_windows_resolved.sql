{#
    DOMAIN.md §4, rolling 6 weeks: for each window week the input is that week's capture in
    this build if one is being built now, else the latest published capture of (week, tier).
    Only the captures of the 6 window weeks are looked up, never the whole history.
#}

with

captures as (
    select
        capture_id,
        run_id,
        week_ending,
        tier,
        captured_at,
        status
    from {{ ref('stg_finra__captures') }}
),

build_captures as (
    select
        capture_id,
        week_ending,
        tier,
        captured_at
    from captures
    where {{ captures_in_build() }}
),

newest_build_captures as (
    select
        capture_id,
        week_ending,
        tier
    from (
        select
            capture_id,
            week_ending,
            tier,
            row_number() over (
                partition by week_ending, tier
                order by captured_at desc, capture_id desc
            ) as capture_rank
        from build_captures
    ) as ranked
    where capture_rank = 1
),

published_captures as (
    {{ latest_published_captures('captures') }}
),

window_offsets as (
    {% for weeks_back in range(6) -%}
        select {{ weeks_back }} as weeks_back
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

window_weeks as (
    select
        build_captures.capture_id,
        build_captures.week_ending,
        build_captures.tier,
        window_offsets.weeks_back,
        cast({{ dbt.dateadd('day', '-7 * window_offsets.weeks_back', 'build_captures.week_ending') }} as date)
            as window_week_ending
    from build_captures
    cross join window_offsets
),

final as (
    select
        window_weeks.capture_id,
        window_weeks.week_ending,
        window_weeks.tier,
        window_weeks.weeks_back,
        window_weeks.window_week_ending,
        case
            when window_weeks.weeks_back = 0 then window_weeks.capture_id
            else coalesce(newest_build_captures.capture_id, published_captures.capture_id)
        end as input_capture_id
    from window_weeks
    left join newest_build_captures
        on
            window_weeks.window_week_ending = newest_build_captures.week_ending
            and window_weeks.tier = newest_build_captures.tier
    left join published_captures
        on
            window_weeks.window_week_ending = published_captures.week_ending
            and window_weeks.tier = published_captures.tier
)

select * from final
