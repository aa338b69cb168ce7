{#-
    A DATE from text that is exactly an ISO date (YYYY-MM-DD of a day that exists), else null:
    never a failed build. The day is added to the first of the month, so `2025-02-30` becomes
    2025-03-02 and is caught by comparing it back to the text (dbt.safe_cast is a plain cast on
    DuckDB, which would fail the whole build on such a date). Nested CASEs, so the casts only
    ever see matching text (Spark's ANSI mode does not short-circuit AND).
-#}
{% macro parsed_iso_date(text_expr) -%}
    {%- set candidate -%}
        cast({{ dbt.dateadd(
            'day',
            'cast(right(' ~ text_expr ~ ', 2) as integer) - 1',
            "cast(left(" ~ text_expr ~ ", 8) || '01' as date)",
        ) }} as date)
    {%- endset -%}
    case
        when {{ full_match(text_expr, '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])') }}
            then case
                when cast({{ candidate }} as {{ dbt.type_string() }}) = {{ text_expr }}
                    then {{ candidate }}
            end
    end
{%- endmacro %}
