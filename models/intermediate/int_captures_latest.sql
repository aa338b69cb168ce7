{{ config(materialized='view') }}

{#
    Downstream of the publication gate, so the capture-history snapshot, which reads this
    view, runs after this build's captures are published.
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
        status
    from {{ ref('stg_finra__captures') }}
),

latest_captures as (
    {{ latest_published_captures('captures') }}
),

final as (
    select
        capture_id,
        run_id,
        week_ending,
        tier,
        captured_at,
        {{ dbt.concat(["tier", "':'", dbt.cast("week_ending", api.Column.translate_type("string"))]) }} as partition_key
    from latest_captures
)

select * from final
