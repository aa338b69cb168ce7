{#-
    Aggregate SQL expression: the `value` of the row with the smallest (`extreme='min'`) or
    largest (`'max'`) `key` in the group; `key` should be unique within the group. One pass of
    the aggregate, where a row_number() window per end would sort every group twice.
-#}
{% macro value_by(extreme, value, key) %}
    {%- if extreme not in ('min', 'max') -%}
        {{ exceptions.raise_compiler_error("value_by: extreme must be 'min' or 'max', not " ~ extreme) }}
    {%- endif -%}
    {{- return(adapter.dispatch('value_by', 'spine_dbt')(extreme, value, key)) -}}
{% endmacro %}

{#- DuckDB and Spark SQL (3.0+) both name these min_by / max_by. -#}
{% macro default__value_by(extreme, value, key) -%}
    {{ extreme }}_by({{ value }}, {{ key }})
{%- endmacro %}
