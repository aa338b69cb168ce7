{#
    on-run-end: after a `dbt build`, every capture of the build that is still `loaded` (its
    publication gate did not run) gets a `failed` event naming the nodes that failed, so it is
    never mistaken for pending work. Other commands leave statuses alone.
#}
{% macro record_build_outcome(results) %}
    {%- if not execute or flags.WHICH != 'build' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set failed_nodes = [] -%}
    {%- for result in results -%}
        {%- if result.status in ['error', 'fail', 'runtime error'] -%}
            {%- do failed_nodes.append(result.node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not failed_nodes -%}
        {{ return('') }}
    {%- endif -%}
    {%- set detail = ('failed: ' ~ (failed_nodes | sort | join(', '))) | replace("'", "''") -%}
    {%- set events = source('finra', 'capture_events') -%}
    insert into {{ events }} (capture_id, run_id, status, event_at, detail)
    select capture_id, run_id, 'failed', {{ utc_now() }}, '{{ detail[:4000] }}'
    from {{ source('finra', 'captures') }}
    where
        {{ captures_in_build() }}
        and capture_id in (
            select capture_id from ({{ current_capture_events_sql(events) }}) as current_events
            where status = 'loaded'
        )
{% endmacro %}
