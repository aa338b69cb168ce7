{#-
    numerator / denominator (non-negative integers) rounded half up to `digits` decimals,
    exactly: from the integers, not from the binary double of the ratio. round(9465.175, 2)
    on a double gives 9465.17 on DuckDB (the double is 9465.17499...) but 9465.18 on Spark
    (which rounds the shortest decimal form); the exact answer is 9465.18 on every engine.
    Null when the denominator is 0. Portable: `/` is a floating division on both engines,
    exact here because numerator and denominator stay below 2^53.
-#}
{% macro round_ratio(numerator, denominator, digits) -%}
    {%- set scale = 10 ** digits -%}
    case
        when {{ denominator }} <> 0
            then floor(
                ({{ 2 * scale }} * {{ numerator }} + {{ denominator }}) / (2 * {{ denominator }})
            ) / {{ scale }}
    end
{%- endmacro %}
