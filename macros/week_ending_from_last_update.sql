{#
    DOMAIN.md §1.3, the previous-Friday rule (week_source `previous_friday`): the last Friday
    strictly before lastUpdateDate (Mon 2025-12-15 -> Fri 2025-12-12; Fri 2025-12-19 -> Fri
    2025-12-12). Python's twin: spine_wrapper.weeks.friday_before.
#}
{% macro week_ending_from_last_update(date_expr) -%}
    cast({{ dbt.dateadd('day', '-1 * (((' ~ days_since_friday(date_expr) ~ ') + 6) % 7 + 1)', date_expr) }} as date)
{%- endmacro %}
