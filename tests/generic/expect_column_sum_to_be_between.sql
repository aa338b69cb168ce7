{#
    The sum of `column_name` over the whole table, or per group of the `group_by` columns,
    lies within [min_value, max_value] (or the open range when `strictly`). Either bound may be
    omitted, not both. A NULL sum (no rows, or only NULL values) is not a failure, as in
    dbt-expectations, whose name and arguments this test takes. Returns the failing groups with
    their sum in `column_sum`.
#}
{% test expect_column_sum_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    group_by=none,
    row_condition=none,
    strictly=false
) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error(
        "expect_column_sum_to_be_between on '" ~ column_name
        ~ "': set min_value, max_value or both."
    ) }}
{%- endif -%}

{#- a single column name is accepted as well as a list -#}
{%- set group_columns = [group_by] if group_by is string else (group_by or []) -%}
{%- set lower_op = '>' if strictly else '>=' -%}
{%- set upper_op = '<' if strictly else '<=' -%}

with

rows_in_scope as (

    select *
    from {{ model }}
    {%- if row_condition %}
    where {{ row_condition }}
    {%- endif %}

),

sums_computed as (

    select
        {%- for group_column in group_columns %}
        {{ group_column }},
        {%- endfor %}
        sum({{ column_name }}) as column_sum
    from rows_in_scope
    {%- if group_columns %}
    group by
        {%- for group_column in group_columns %}
        {{ group_column }}{{ "," if not loop.last }}
        {%- endfor %}
    {%- endif %}

),

final as (

    select *
    from sums_computed
    where
        column_sum is not null
        and not (
            {%- if min_value is not none %}
            column_sum {{ lower_op }} {{ min_value }}
            {%- endif %}
            {%- if min_value is not none and max_value is not none %}
            and
            {%- endif %}
            {%- if max_value is not none %}
            column_sum {{ upper_op }} {{ max_value }}
            {%- endif %}
        )

)

select * from final

{% endtest %}
