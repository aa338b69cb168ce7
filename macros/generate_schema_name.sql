{#
    Custom schemas are used as given (`staging`, `intermediate`, ...) instead of dbt's default
    `<target schema>_<custom schema>`, so the public names of DOMAIN.md §7 stay stable on every
    target: marts in the target schema (`main` on DuckDB), the other layers in their own schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
