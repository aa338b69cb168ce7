{#- The field columns of raw.finra_rows (load.RAW_COLUMNS: test_parity holds the two equal). -#}
{% macro finra_field_columns() -%}
    {{- return([
        'tier_raw',
        'week_start_raw',
        'week_ending_raw',
        'last_update_date_raw',
        'initial_published_date_raw',
        'summary_type_raw',
        'symbol_raw',
        'issue_name',
        'firm_crd_raw',
        'venue_name',
        'mpid_raw',
        'shares_raw',
        'trades_raw',
    ]) -}}
{%- endmacro %}

{#- A data line exactly as read: its stored raw_line; else (the loader keeps no text of a line
    of exactly its file's fields: load.field_order) the fields named by the capture's
    field_order, in that order, joined by its delimiter. Reads the columns raw_line,
    field_count, field_order, delimiter and the field columns, unqualified. Portable SQL; the
    guard on field_count keeps every split_part within the names. -#}
{% macro finra_raw_line() -%}
    {%- set parts = [] -%}
    {%- for position in range(1, finra_field_columns() | length + 1) -%}
        {%- set field -%}
            case {{ dbt.split_part('field_order', "','", position) | trim }}
            {%- for column in finra_field_columns() %} when '{{ column }}' then {{ column }}
            {%- endfor %} end
        {%- endset -%}
        {%- set part -%}
            case when field_count >= {{ position }} then
            {{- ' ' ~ (dbt.concat(['delimiter', field]) if position > 1 else field) }} else '' end
        {%- endset -%}
        {%- do parts.append('\n            ' ~ part) -%}
    {%- endfor -%}
    coalesce(raw_line, {{ dbt.concat(parts) }})
{%- endmacro %}
