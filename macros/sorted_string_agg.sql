{#- The distinct values of `expr` in a group, sorted and joined with `delimiter`. -#}
{% macro sorted_string_agg(expr, delimiter=',') %}
    {{- return(adapter.dispatch('sorted_string_agg', 'spine_dbt')(expr, delimiter)) -}}
{% endmacro %}

{% macro default__sorted_string_agg(expr, delimiter) -%}
    array_join(array_sort(collect_set({{ expr }})), '{{ delimiter }}')
{%- endmacro %}

{% macro duckdb__sorted_string_agg(expr, delimiter) -%}
    string_agg(distinct {{ expr }}, '{{ delimiter }}' order by {{ expr }})
{%- endmacro %}
