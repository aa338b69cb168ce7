{#- The rejects table of the weekly report: rejected lines per primary reason code. -#}

with

rejected_lines as (
    select
        capture_id,
        week_ending,
        tier,
        reason_code
    from {{ ref('rpt_rejected_lines') }}
),

final as (
    select
        capture_id,
        week_ending,
        tier,
        reason_code,
        cast(count(*) as {{ dbt.type_bigint() }}) as rejected_lines
    from rejected_lines
    group by capture_id, week_ending, tier, reason_code
)

select * from final
