{#
    The capture lifecycle (DOMAIN.md §3): `loaded → published | failed | rolled_back`, kept
    as an append-only events log (raw.capture_events). Every status change dbt makes is
    written by `append_capture_events`: the publication gate (`published`), the end of a
    build (`failed`) and rollback (`rolled_back`). The loader writes a capture's first event
    (`loaded`, or `failed` when its file cannot be read) in the transaction that lands its
    rows (spine_wrapper/ledger.py, `append_events`, held to the same statuses by a test).
    One model defines the current status: stg_finra__captures (its newest event, see
    `current_capture_events_sql`).
#}

{#- The statuses in lifecycle order; an event's precedence when two share a timestamp. -#}
{% macro capture_statuses() %}
    {{ return(['loaded', 'published', 'failed', 'rolled_back']) }}
{% endmacro %}

{#-
    One INSERT appending a `status` event (with `detail`) for each capture of raw.captures
    that `condition` (a SQL boolean over raw.captures' columns) selects.
-#}
{% macro append_capture_events(status, detail, condition) %}
    {%- if status not in capture_statuses() -%}
        {{ exceptions.raise_compiler_error("not a capture status: " ~ status) }}
    {%- endif -%}
    insert into {{ source('finra', 'capture_events') }} (capture_id, run_id, status, event_at, detail)
    select capture_id, run_id, '{{ status }}', {{ utc_now() }}, {{ string_literal((detail | string)[:4000]) }}
    from {{ source('finra', 'captures') }}
    where {{ condition }}
{% endmacro %}

{#- A SQL boolean: `column` is one of `capture_ids` (validated; never 1 = 1 for an empty list). -#}
{% macro capture_id_in(capture_ids, column='capture_id') %}
    {%- for capture_id in capture_ids -%}
        {%- if not modules.re.fullmatch(capture_id_pattern(), capture_id) -%}
            {{ exceptions.raise_compiler_error("not a capture id: " ~ capture_id) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if capture_ids -%}
        {{ column }} in ('{{ capture_ids | join("', '") }}')
    {%- else -%}
        1 = 0
    {%- endif -%}
{% endmacro %}

{#-
    The ids the loader mints (spine_wrapper/load.py: new_run_stamp, capture_id_for; the run id
    is `run_<stamp>`, spine_wrapper/backfill.py). tests/python/test_parity.py holds these
    patterns to the ids the Python code generates.
-#}

{#- A run stamp: UTC, to the microsecond, `YYYYMMDDTHHMMSSffffffZ`. -#}
{% macro run_stamp_pattern() %}
    {{- return('[0-9]{8}T[0-9]{12}Z') -}}
{% endmacro %}

{#- A run id: `run_<run stamp>`. -#}
{% macro run_id_pattern() %}
    {{- return('run_' ~ run_stamp_pattern()) -}}
{% endmacro %}

{#- A capture id: `<TIER>:<week ending>:<run stamp>`. -#}
{% macro capture_id_pattern() %}
    {{- return('(' ~ canonical_tiers() | join('|') ~ '):[0-9]{4}-[0-9]{2}-[0-9]{2}:' ~ run_stamp_pattern()) -}}
{% endmacro %}
