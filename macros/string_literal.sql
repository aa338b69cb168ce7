{#-
    `value` as a SQL string literal. Standard SQL doubles a quote; Spark SQL escapes with a
    backslash (there `'a''b'` is two adjacent literals, `ab`), so backslashes are escaped too.
-#}
{% macro string_literal(value) %}
    {{- return(adapter.dispatch('string_literal', 'spine_dbt')(value | string)) -}}
{% endmacro %}

{% macro default__string_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__string_literal(value) -%}
    '{{ value | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}
