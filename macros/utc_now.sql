{#- The current UTC time as a SQL timestamp literal (portable; no session time zone involved). -#}
{% macro utc_now() -%}
    cast('{{ modules.datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}
