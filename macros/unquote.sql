{#- A raw field trimmed, without one pair of surrounding double quotes (`"AAPL"` -> `AAPL`). -#}
{% macro unquote(expr) -%}
    {%- set trimmed = 'trim(' ~ expr ~ ')' -%}
    trim(case
        when length({{ trimmed }}) >= 2
            and substring({{ trimmed }}, 1, 1) = '"'
            and {{ dbt.right(trimmed, 1) }} = '"'
            then substring({{ trimmed }}, 2, length({{ trimmed }}) - 2)
        else {{ expr }}
    end)
{%- endmacro %}
