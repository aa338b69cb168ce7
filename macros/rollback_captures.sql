{#
    `dbt run-operation rollback_captures --args '{capture_ids: [...], detail: "..."}'`
    (what `spine-dbt rollback` runs): appends a `rolled_back` event for each capture first, so
    its rows are hidden from the `_latest` views before they go, then deletes the captures'
    rows from every capture-keyed model, all in the one transaction dbt runs an operation in
    (where the engine has transactions; elsewhere, Spark, the event written first hides the
    rows, and the rows go by dropping the captures' partitions).
    Raw rows and the capture record stay, for audit; the previous capture becomes latest.
#}
{% macro rollback_captures(capture_ids, detail='rolled back') %}
    {%- for capture_id in capture_ids -%}
        {%- if not modules.re.fullmatch('(NMS_TIER_1|NMS_TIER_2|OTC):[0-9]{4}-[0-9]{2}-[0-9]{2}:[0-9]{8}T[0-9]{12}Z', capture_id) -%}
            {{ exceptions.raise_compiler_error("not a capture id: " ~ capture_id) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if not capture_ids -%}
        {{ return('') }}
    {%- endif -%}
    {%- set id_list = "'" ~ (capture_ids | join("', '")) ~ "'" -%}
    {%- set models = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized in ['incremental', 'table'] and 'capture_id' in node.columns -%}
            {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
            {%- if relation is not none -%}
                {%- do models.append(relation) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- set record_event -%}
        insert into {{ source('finra', 'capture_events') }} (capture_id, run_id, status, event_at, detail)
        select capture_id, run_id, 'rolled_back', {{ utc_now() }}, {{ string_literal(detail) }}
        from {{ source('finra', 'captures') }}
        where capture_id in ({{ id_list }})
    {%- endset -%}
    {%- do statements.append(record_event) -%}
    {%- for relation in models -%}
        {%- do statements.append(adapter.dispatch('delete_captures', 'spine_dbt')(relation, capture_ids)) -%}
    {%- endfor -%}
    {%- set commit = adapter.dispatch('commit_operation', 'spine_dbt')() | trim -%}
    {%- if commit -%}
        {%- do statements.append(commit) -%}
    {%- endif -%}
    {% do run_statements(statements) %}
    {{ log("rolled back " ~ (capture_ids | length) ~ " capture(s) from " ~ (models | length) ~ " models", info=true) }}
{% endmacro %}

{#- dbt runs an operation inside a transaction it does not commit: commit it where there is one. -#}
{% macro default__commit_operation() %}commit;{% endmacro %}

{#- Spark has no transactions: the `rolled_back` event, written first, hides the rows. -#}
{% macro spark__commit_operation() %}{% endmacro %}

{% macro default__delete_captures(relation, capture_ids) -%}
    delete from {{ relation }} where capture_id in ('{{ capture_ids | join("', '") }}')
{%- endmacro %}

{#- Capture-keyed tables are partitioned by capture_id on Spark: a rollback drops partitions. -#}
{% macro spark__delete_captures(relation, capture_ids) -%}
    alter table {{ relation }} drop if exists
    {% for capture_id in capture_ids -%}
        partition (capture_id = '{{ capture_id }}'){% if not loop.last %}, {% endif %}
    {%- endfor %}
{%- endmacro %}
