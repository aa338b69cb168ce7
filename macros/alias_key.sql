{#- The comparison key of a tier spelling: trimmed, upper-cased, spaces, `_` and `-` removed. -#}
{% macro alias_key(expr) -%}
    upper(replace(replace(replace(trim({{ expr }}), ' ', ''), '_', ''), '-', ''))
{%- endmacro %}
