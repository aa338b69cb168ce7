{#
    Post-hook of the publication gate (int_captures_published): appends one `published` event
    per capture it holds, only under `dbt build` (the only command that runs the tests that
    gate publishing).
#}
{% macro record_publication(relation) %}
    {%- if flags.WHICH == 'build' -%}
        {{ append_capture_events(
            'published',
            'dbt build built every capture-keyed model for it and every error-severity test passed',
            'capture_id in (select capture_id from ' ~ relation ~ ')'
        ) }}
    {%- else -%}
        select 1 as nothing_published_outside_dbt_build
    {%- endif -%}
{% endmacro %}
