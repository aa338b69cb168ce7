{#- True when the whole of `expr` matches the regular expression `pattern` (no anchors needed). -#}
{% macro full_match(expr, pattern) %}
    {{- return(adapter.dispatch('full_match', 'spine_dbt')(expr, pattern)) -}}
{% endmacro %}

{% macro default__full_match(expr, pattern) -%}
    ({{ expr }} rlike '^({{ pattern }})$')
{%- endmacro %}

{% macro duckdb__full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}
