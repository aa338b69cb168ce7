{#-
    Runs a list of SQL statements. DuckDB takes them as one script (one round trip, and inside
    the operation's transaction); Spark's SQL API takes one statement per call.
-#}
{% macro run_statements(statements) %}
    {{- return(adapter.dispatch('run_statements', 'spine_dbt')(statements)) -}}
{% endmacro %}

{% macro default__run_statements(statements) %}
    {%- if statements -%}
        {%- do run_query(statements | join(';\n')) -%}
    {%- endif -%}
{% endmacro %}

{% macro spark__run_statements(statements) %}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
{% endmacro %}

{#-
    What an on-run-end hook returns to run `statements`: the script itself where the engine
    takes several statements at once, else nothing, after running them one by one here.
-#}
{% macro hook_statements(statements) %}
    {{- return(adapter.dispatch('hook_statements', 'spine_dbt')(statements)) -}}
{% endmacro %}

{% macro default__hook_statements(statements) %}
    {{- return(statements | join(';\n')) -}}
{% endmacro %}

{% macro spark__hook_statements(statements) %}
    {%- do spark__run_statements(statements) -%}
    {{- return('') -}}
{% endmacro %}
