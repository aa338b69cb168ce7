{#
    Post-hook of int_captures_published: appends one `published` event per capture it holds,
    only under `dbt build` (the only command that runs the tests that gate publishing).
#}
{% macro record_publication(relation) %}
    {%- if flags.WHICH == 'build' -%}
        insert into {{ source('finra', 'capture_events') }} (capture_id, run_id, status, event_at, detail)
        select
            capture_id,
            run_id,
            'published',
            published_at,
            'dbt build passed every error-severity test'
        from {{ relation }}
    {%- else -%}
        select 1 as nothing_published_outside_dbt_build
    {%- endif -%}
{% endmacro %}
