{#
    DOMAIN.md §5: the versions of `calc_name` this build computes, sorted numerically (v10 > v2).
    The dbt var `calc_versions` (a map of calc_name to a version or a list of versions) selects
    them; an unset name takes the versions marked current in the calc_versions seed. Unknown
    and sunset versions fail with the known list; deprecated ones warn.
#}
{% macro selected_calc_versions(calc_name) %}
    {%- set seed = ref('calc_versions') -%}
    {%- if not execute or adapter.get_relation(seed.database, seed.schema, seed.identifier) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select version, status, is_current
        from {{ seed }}
        where calc_name = '{{ calc_name }}'
    {%- endset -%}
    {%- set known = {} -%}
    {%- set current = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do known.update({row[0]: row[1]}) -%}
        {%- if row[2] in [true, 'true', 'True', 1] -%}
            {%- do current.append(row[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set requested = (var('calc_versions', {}) or {}).get(calc_name) -%}
    {%- if requested is none -%}
        {%- set requested = current -%}
    {%- elif requested is string -%}
        {%- set requested = [requested] -%}
    {%- endif -%}
    {%- set known_list = known.keys() | sort | join(', ') -%}
    {%- for version in requested -%}
        {%- if version not in known -%}
            {{ exceptions.raise_compiler_error("unknown " ~ calc_name ~ " version " ~ version ~ "; known versions: " ~ known_list) }}
        {%- elif known[version] == 'sunset' -%}
            {{ exceptions.raise_compiler_error(calc_name ~ " " ~ version ~ " is sunset and can no longer be computed; known versions: " ~ known_list) }}
        {%- elif known[version] == 'deprecated' -%}
            {% do exceptions.warn(calc_name ~ " " ~ version ~ " is deprecated") %}
        {%- endif -%}
    {%- endfor -%}
    {{ return(sort_versions(requested | unique | list)) }}
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
