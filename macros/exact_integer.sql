{#- `expr` as an exact 38-digit integer, so sums of squares of share counts cannot overflow. -#}
{% macro exact_integer(expr) -%}
    cast({{ expr }} as decimal(38, 0))
{%- endmacro %}
