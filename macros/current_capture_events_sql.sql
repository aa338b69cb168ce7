{#
    A subquery over the append-only capture events log: each capture's newest event, i.e. its
    current status (capture_id, run_id, status, event_at, detail). Status is never updated in
    place; the newest event wins, ties broken by the precedence of DOMAIN.md §3 (the order of
    capture_statuses(): a later status wins). With
    `as_of_run_start`, the status as it was when this dbt invocation started.
#}
{% macro current_capture_events_sql(events_relation, as_of_run_start=false) %}
    select
        capture_id,
        run_id,
        status,
        event_at,
        detail
    from (
        select
            capture_id,
            run_id,
            status,
            event_at,
            detail,
            row_number() over (
                partition by capture_id
                order by
                    event_at desc,
                    case status
                        {%- for status in capture_statuses() %}
                        when '{{ status }}' then {{ loop.index }}
                        {%- endfor %}
                        else 0
                    end desc
            ) as event_rank
        from {{ events_relation }}
        {% if as_of_run_start -%}
            where event_at <= cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
        {%- endif %}
    ) as ranked_events
    where event_rank = 1
{% endmacro %}
