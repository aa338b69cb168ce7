{#
    The combination of the `column_list` columns is unique. NULLs take part as given: two rows
    equal except for NULLs in the same columns are duplicates (GROUP BY puts NULLs together),
    and there is no option to skip rows with missing values. dbt-expectations' name and
    arguments; its ignore_row_if option is left out on purpose. Returns each duplicated
    combination with its row count in `n_records`.
#}
{% test expect_compound_columns_to_be_unique(
    model,
    column_list,
    row_condition=none
) %}

{#- a single column name is accepted as well as a list -#}
{%- set columns = [column_list] if column_list is string else column_list -%}
{%- if not columns -%}
    {{ exceptions.raise_compiler_error(
        "expect_compound_columns_to_be_unique: column_list needs at least one column."
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

combinations_counted as (

    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        count(*) as n_records
    from rows_in_scope
    group by
        {%- for column in columns %}
        {{ column }}{{ "," if not loop.last }}
        {%- endfor %}

),

final as (

    select *
    from combinations_counted
    where n_records > 1

)

select * from final

{% endtest %}
