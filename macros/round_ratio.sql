{#-
    numerator / denominator (non-negative integers) rounded half up to `digits` decimals, from
    the integers rather than from the binary double of the ratio: round(9465.175, 2) on a
    double gives 9465.17 on DuckDB (the double is 9465.17499...) but 9465.18 on Spark (which
    rounds the shortest decimal form); this gives 9465.18 on both. floor((2·10^d·n + d) / 2d)
    in doubles (so an 18-digit share count cannot overflow a BIGINT), exact while 2·10^d·n
    stays below 2^53, i.e. for any weekly volume below ~4.5e13 shares. Null when the
    denominator is 0.
-#}
{% macro round_ratio(numerator, denominator, digits) -%}
    {%- set scale = 10 ** digits -%}
    case
        when {{ denominator }} <> 0
            then floor(
                ({{ 2 * scale }} * cast({{ numerator }} as double) + {{ denominator }})
                / (2 * cast({{ denominator }} as double))
            ) / {{ scale }}
    end
{%- endmacro %}
