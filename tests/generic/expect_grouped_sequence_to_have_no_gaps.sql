{#
    Project-specific: per group of the `group_by` columns, the integer values of
    `column_name` are exactly start_value, start_value + 1, ..., start_value + n - 1 for the
    group's n rows: no gap, no duplicate, no NULL (e.g. rank 1..N per capture, week and tier).
    Over integers, "n distinct values, min = start_value, max = start_value + n - 1" is that
    exact set. A NULL makes distinct_count < row_count, so a group holding one fails even
    where the min/max comparisons are NULL (`or` with one true operand is true).
    Returns the failing groups with min_value, max_value, row_count (n), value_count
    (non-null) and distinct_count.
#}
{% test expect_grouped_sequence_to_have_no_gaps(
    model,
    column_name,
    group_by,
    start_value=1
) %}

{#- a single column name is accepted as well as a list -#}
{%- set group_columns = [group_by] if group_by is string else group_by -%}
{%- if not group_columns -%}
    {{ exceptions.raise_compiler_error(
        "expect_grouped_sequence_to_have_no_gaps on '" ~ column_name
        ~ "': group_by needs at least one column."
    ) }}
{%- endif -%}

with

groups_summarized as (

    select
        {%- for group_column in group_columns %}
        {{ group_column }},
        {%- endfor %}
        min({{ column_name }}) as min_value,
        max({{ column_name }}) as max_value,
        count(*) as row_count,
        count({{ column_name }}) as value_count,
        count(distinct {{ column_name }}) as distinct_count
    from {{ model }}
    group by
        {%- for group_column in group_columns %}
        {{ group_column }}{{ "," if not loop.last }}
        {%- endfor %}

),

final as (

    select *
    from groups_summarized
    where
        distinct_count <> row_count
        or min_value <> {{ start_value }}
        or max_value <> {{ start_value }} + row_count - 1

)

select * from final

{% endtest %}
