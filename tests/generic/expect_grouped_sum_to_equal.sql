{#
    Project-specific (no dbt-expectations twin): per group of the `group_by` columns, the sum
    of `column_name` equals `value` within `tolerance`, i.e. |sum - value| <= tolerance. Built
    for share columns that must add up to 1 per capture, week and tier. Unlike
    expect_column_sum_to_be_between, a group whose sum is NULL (only NULL values) fails: its
    shares do not add up. No rows means no groups, which passes. Returns the failing groups
    with their sum in `column_sum`.
#}
{% test expect_grouped_sum_to_equal(
    model,
    column_name,
    group_by,
    value,
    tolerance=1e-9,
    row_condition=none
) %}

{#- a single column name is accepted as well as a list -#}
{%- set group_columns = [group_by] if group_by is string else group_by -%}
{%- if not group_columns -%}
    {{ exceptions.raise_compiler_error(
        "expect_grouped_sum_to_equal on '" ~ column_name ~ "': group_by needs at least one column."
    ) }}
{%- endif -%}

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
    group by
        {%- for group_column in group_columns %}
        {{ group_column }}{{ "," if not loop.last }}
        {%- endfor %}

),

final as (

    select *
    from sums_computed
    where
        column_sum is null
        or abs(column_sum - ({{ value }})) > {{ tolerance }}

)

select * from final

{% endtest %}
