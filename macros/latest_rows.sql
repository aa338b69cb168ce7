{#
    Body of a `<mart>_latest` view: the rows of `mart_relation` that belong to the latest
    capture of their (week, tier), i.e. its newest published capture. Never mixes captures
    within a (week, tier); unpublished, failed and rolled-back captures are invisible here.
#}
{% macro latest_rows(mart_relation) %}
with

latest_captures as (
    select capture_id
    from {{ ref('int_captures_latest') }}
),

mart_rows as (
    select *
    from {{ mart_relation }}
),

final as (
    select mart_rows.*
    from mart_rows
    inner join latest_captures on mart_rows.capture_id = latest_captures.capture_id
)

select * from final
{% endmacro %}
