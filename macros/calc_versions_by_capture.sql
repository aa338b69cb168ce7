{#
    DOMAIN.md §3 and §5: a capture is always built with the calc versions recorded when it was
    loaded (raw.captures.calc_versions, a JSON map of calc_name to version), whatever the vars
    say. Returns {version: [capture ids]} over the captures being built, for `calc_name`; a
    capture whose record does not name the calc takes its current version in the
    calc_versions seed. Unknown and sunset versions fail with the known list; deprecated ones
    warn. The var `calc_versions` no longer selects anything: where it disagrees with what was
    recorded it warns, and says so.
#}
{% macro calc_versions_by_capture(calc_name) %}
    {%- set seed = ref('calc_versions') -%}
    {%- set ids = build_capture_ids() -%}
    {%- if not execute or not ids or adapter.get_relation(seed.database, seed.schema, seed.identifier) is none -%}
        {{ return({}) }}
    {%- endif -%}
    {%- set known = {} -%}
    {%- set current = [] -%}
    {%- for row in run_query("select version, status, is_current from " ~ seed ~ " where calc_name = '" ~ calc_name ~ "'").rows -%}
        {%- do known.update({row[0]: row[1]}) -%}
        {%- if row[2] in [true, 'true', 'True', 1] -%}
            {%- do current.append(row[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set known_list = sort_versions(known.keys() | list) | join(', ') -%}
    {%- set by_version = {} -%}
    {%- set recorded = run_query(
        "select capture_id, calc_versions from " ~ source('finra', 'captures') ~ " where " ~ capture_id_in(ids)
    ) -%}
    {%- for row in recorded.rows -%}
        {%- set version = (fromjson(row[1] or '{}') or {}).get(calc_name) or (current | first) -%}
        {%- if version not in known -%}
            {{ exceptions.raise_compiler_error("capture " ~ row[0] ~ " was loaded with unknown " ~ calc_name ~ " version " ~ version ~ "; known versions: " ~ known_list) }}
        {%- elif known[version] == 'sunset' -%}
            {{ exceptions.raise_compiler_error("capture " ~ row[0] ~ " was loaded with " ~ calc_name ~ " " ~ version ~ ", which is sunset and can no longer be computed; reload it with a known version (" ~ known_list ~ ")") }}
        {%- endif -%}
        {%- do by_version.setdefault(version, []).append(row[0]) -%}
    {%- endfor -%}
    {%- for version in by_version if known[version] == 'deprecated' -%}
        {% do exceptions.warn(calc_name ~ " " ~ version ~ " is deprecated") %}
    {%- endfor -%}
    {%- set requested = (var('calc_versions', {}) or {}).get(calc_name) -%}
    {%- set requested = [requested] if requested is string else (requested or []) -%}
    {%- if requested and (requested | sort) != (by_version.keys() | sort) -%}
        {% do exceptions.warn(
            "var calc_versions asks for " ~ calc_name ~ " " ~ (requested | join(', ')) ~ ", but the captures being built were loaded with "
            ~ (by_version.keys() | sort | join(', ')) ~ ": a capture is always built with the calc versions recorded when it was loaded."
            ~ " To compute another version, load the files again with it (`spine-dbt backfill --calc-version " ~ calc_name ~ "=<version>`)."
        ) %}
    {%- endif -%}
    {{ return(by_version) }}
{% endmacro %}

{#-
    A subquery of (capture_id, calc_version) pairs: the version of a calc each capture being
    built computes, from `versions_by_capture` ({version: [capture ids]}), over `captures` (a
    relation or CTE with a capture_id column).
-#}
{% macro capture_calc_versions_sql(versions_by_capture, captures) %}
    {%- for version, capture_ids in versions_by_capture.items() %}
    select
        capture_id,
        '{{ version }}' as calc_version
    from {{ captures }}
    where {{ capture_id_in(capture_ids) }}
    {% if not loop.last %}union all{% endif %}
    {%- else %}
    select
        capture_id,
        '' as calc_version
    from {{ captures }}
    where 1 = 0
    {%- endfor %}
{% endmacro %}

{#- Sort version strings `v<N>` by N. -#}
{% macro sort_versions(versions) %}
    {%- set keyed = [] -%}
    {%- for version in versions -%}
        {%- do keyed.append([version[1:] | int, version]) -%}
    {%- endfor -%}
    {%- set ordered = [] -%}
    {%- for pair in keyed | sort -%}
        {%- do ordered.append(pair[1]) -%}
    {%- endfor -%}
    {{ return(ordered) }}
{% endmacro %}
