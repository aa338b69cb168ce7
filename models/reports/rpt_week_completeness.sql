{#
    The completeness matrix of the weekly report: per (week, tier) with at least one capture,
    how many captures it has and its state: `published` when one of them is, else the status
    of its newest capture. A (week, tier) without a row has no capture (`missing`).
#}

with

captures as (
    select
        capture_id,
        week_ending,
        tier,
        captured_at,
        status
    from {{ ref('finra_otc_transparency_captures') }}
    where week_ending is not null
),

captures_ranked as (
    select
        *,
        row_number() over (
            partition by week_ending, tier
            order by captured_at desc, capture_id desc
        ) as capture_rank
    from captures
),

weeks_summarized as (
    select
        week_ending,
        tier,
        count(*) as capture_count,
        sum(case when status = 'published' then 1 else 0 end) as published_capture_count,
        max(case when capture_rank = 1 then status end) as newest_status
    from captures_ranked
    group by week_ending, tier
),

final as (
    select
        week_ending,
        tier,
        case when published_capture_count > 0 then 'published' else newest_status end as completeness_state,
        cast(capture_count as {{ dbt.type_bigint() }}) as capture_count,
        cast(published_capture_count as {{ dbt.type_bigint() }}) as published_capture_count,
        newest_status
    from weeks_summarized
)

select * from final
