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
            {%- set where = where | replace('__captures_in_build__', captures_in_build()) -%}
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
