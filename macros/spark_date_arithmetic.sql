{#-
    Spark implementations of dbt's cross-database `dateadd` and `datediff` for the parts this
    project uses (day, week), overriding dbt-spark's: those wrap their inputs in
    assert_not_null, so a NULL date (an invalid row, rejected with a reason code) would fail
    the whole build instead of giving NULL as on every other engine. The root project's
    `spark__` macros take precedence over the adapter's in dbt's dispatch.
-#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- if datepart not in ['day', 'week'] -%}
        {{ exceptions.raise_compiler_error("spine_dbt's spark__dateadd supports day and week, not " ~ datepart) }}
    {%- endif -%}
    date_add(cast({{ from_date_or_timestamp }} as date), cast(({{ interval }}) * {{ 7 if datepart == 'week' else 1 }} as int))
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart != 'day' -%}
        {{ exceptions.raise_compiler_error("spine_dbt's spark__datediff supports day, not " ~ datepart) }}
    {%- endif -%}
    datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
{%- endmacro %}
