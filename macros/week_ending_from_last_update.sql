{#
    DOMAIN.md §1.3: the week of a FINRA export row is the last Friday strictly before its
    lastUpdateDate (Mon 2025-12-15 -> Fri 2025-12-12; Fri 2025-12-19 -> Fri 2025-12-12).
    The one place this rule lives, so that a per-tier publication lag can be added later.
#}
{% macro week_ending_from_last_update(date_expr) -%}
    cast({{ dbt.dateadd('day', '-1 * (((' ~ days_since_friday(date_expr) ~ ') + 6) % 7 + 1)', date_expr) }} as date)
{%- endmacro %}
