{#
    Scopes data tests to the captures being built, so a test's cost does not grow with the
    history. dbt applies a test's `where` config through this macro; dbt_project.yml sets
    `where` per layer to one of two placeholders, replaced here at run time:
      __captures_in_build__  rows of the captures this build builds
      __weeks_in_build__     rows of the (week, tier)s those captures are for (the `_latest` views)
    Any other `where` is applied as given, exactly as dbt's own implementation does.
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- if '__captures_in_build__' in where -%}
            {#- With the relation's capture-week column, if its documented columns have one, so
                the test skips the stored row groups of other weeks (see captures_in_build). -#}
            {%- set names = [] -%}
            {%- for unique_id in model.depends_on.nodes -%}
                {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
                {%- if node and (node.alias or node.identifier or node.name) == relation.identifier -%}
                    {%- do names.extend(node.columns.keys()) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set week_column = 'week_ending' if 'week_ending' in names else ('capture_week_ending' if 'capture_week_ending' in names else none) -%}
            {%- set where = where | replace('__captures_in_build__', captures_in_build(week_column=week_column)) -%}
        {%- endif -%}
        {%- if '__weeks_in_build__' in where -%}
            {%- set where = where | replace('__weeks_in_build__', weeks_in_build()) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
