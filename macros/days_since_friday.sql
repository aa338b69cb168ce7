{#- Days since the last Friday on or before `date_expr`: 0 on a Friday, 3 on a Monday. -#}
{% macro days_since_friday(date_expr) -%}
    ((({{ dbt.datediff("cast('1970-01-02' as date)", date_expr, 'day') }}) % 7) + 7) % 7
{%- endmacro %}
