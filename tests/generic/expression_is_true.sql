{#- Every row satisfies the SQL boolean `expression` (dbt_utils.expression_is_true). -#}
{% test expression_is_true(model, expression) %}

with

final as (
    select *
    from {{ model }}
    where not ({{ expression }})
)

select * from final

{% endtest %}
