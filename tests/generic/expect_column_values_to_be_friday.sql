{#
    Project-specific: every non-null value of `column_name` (a date; a timestamp is cast to
    its date) is a Friday. Portable on purpose: no dayofweek/strftime, only dbt.datediff from
    Friday 1970-01-02; the day count is a multiple of 7 on Fridays. `%` keeps the sign of the
    dividend (DuckDB, Spark), so ((d % 7) + 7) % 7 also handles dates before 1970.
    Returns the failing rows.
#}
{% test expect_column_values_to_be_friday(model, column_name) %}

with

days_counted as (

    select
        *,
        {{ dbt.datediff(
            "cast('1970-01-02' as date)",
            "cast(" ~ column_name ~ " as date)",
            "day"
        ) }} as days_since_friday_19700102
    from {{ model }}
    where {{ column_name }} is not null

),

final as (

    select *
    from days_counted
    where ((days_since_friday_19700102 % 7) + 7) % 7 <> 0

)

select * from final

{% endtest %}
