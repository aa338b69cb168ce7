{#
    Every value of `column_name` lies within [min_value, max_value] (or the open range when
    `strictly`). Either bound may be omitted, not both. NULLs are not failures. Bounds are
    rendered as SQL, so an expression (e.g. "cast('2020-01-03' as date)") works as well as a
    number. Written from dbt-expectations' documented behaviour, same name and arguments.
    Returns the failing rows.
#}
{% test expect_column_values_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    strictly=false,
    row_condition=none
) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error(
        "expect_column_values_to_be_between on '" ~ column_name
        ~ "': set min_value, max_value or both."
    ) }}
{%- endif -%}

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

final as (

    select *
    from rows_in_scope
    where
        {{ column_name }} is not null
        and not (
            {%- if min_value is not none %}
            {{ column_name }} {{ lower_op }} {{ min_value }}
            {%- endif %}
            {%- if min_value is not none and max_value is not none %}
            and
            {%- endif %}
            {%- if max_value is not none %}
            {{ column_name }} {{ upper_op }} {{ max_value }}
            {%- endif %}
        )

)

select * from final

{% endtest %}
