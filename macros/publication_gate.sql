{#
    The publication gate (DOMAIN.md §3, "Publishing is decided per capture"). A capture is
    published by `dbt build` only when, in this invocation, every capture-keyed model was built
    for it and every error-severity test passed on its rows. The gate model
    (int_captures_published) depends on every capture-keyed mart, so dbt runs it only when
    they were built and their tests passed; these macros make sure a selection cannot get round
    that (`--select`, `--exclude`, `dbt retry`), and record_build_outcome decides per capture
    when something failed.
#}

{#- Capture-keyed models: tables and incremental models with a capture_id column (the graph's nodes). -#}
{% macro capture_keyed_models() %}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized in ['incremental', 'table'] and 'capture_id' in node.columns -%}
            {%- do found.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}

{#-
    The capture-keyed marts that serve published data: those a `<mart>_latest` view reads. A
    published capture with accepted rows has rows in each (DOMAIN.md §3, "Published ⇒ complete").
-#}
{% macro served_marts() %}
    {%- set served = [] -%}
    {%- set keyed = {} -%}
    {%- for node in capture_keyed_models() -%}
        {%- do keyed.update({node.unique_id: node}) -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
        {%- if node.resource_type == 'model' and node.name.endswith('_latest') -%}
            {%- for parent in node.depends_on.nodes if parent in keyed and 'marts' in keyed[parent].fqn and keyed[parent] not in served -%}
                {%- do served.append(keyed[parent]) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(served) }}
{% endmacro %}

{#-
    The captures of this build that have rows in each of the `served` marts (served_marts()):
    one row per (capture_id, mart_name). With no served mart, the captures of the CTE
    `empty_from` with an empty mart name, so that the query stays valid.
-#}
{% macro served_mart_rows(served, empty_from) %}
    {%- for mart in served -%}
        select distinct
            capture_id,
            '{{ mart.name }}' as mart_name
        from {{ api.Relation.create(database=mart.database, schema=mart.schema, identifier=mart.alias) }}
        where {{ captures_in_build(week_column='week_ending') }}
        {% if not loop.last %}union all{% endif %}
    {% else -%}
        select
            capture_id,
            '' as mart_name
        from {{ empty_from }}
    {%- endfor %}
{% endmacro %}

{#-
    Why this invocation cannot publish, as a list of messages (empty: it can): every
    capture-keyed model and every error-severity data test must be selected, since a capture
    is published only after all of them ran for it now.
-#}
{% macro publication_blockers() %}
    {%- set blockers = [] -%}
    {%- set models = [] -%}
    {%- for node in capture_keyed_models() if node.unique_id not in selected_resources and node.name != 'int_captures_published' -%}
        {%- do models.append(node.name) -%}
    {%- endfor -%}
    {%- set tests = [] -%}
    {#- (a test of a node disabled on this target, the snapshot on Spark, is disabled too) -#}
    {%- for node in graph.nodes.values() if node.resource_type == 'test' and node.config.enabled and (node.config.severity | lower) == 'error' and node.unique_id not in selected_resources -%}
        {%- do tests.append(node.name) -%}
    {%- endfor -%}
    {%- for kind, names in [('capture-keyed models', models), ('error-severity tests', tests)] if names -%}
        {%- do blockers.append(
            (names | length) ~ " " ~ kind ~ " did not run (" ~ (names | sort | first) ~ (", ..." if names | length > 1 else "") ~ ")"
        ) -%}
    {%- endfor -%}
    {{ return(blockers) }}
{% endmacro %}

{#-
    Called by the gate model when it runs: under `dbt build`, refuses (the gate node errors,
    nothing is published, the captures stay `loaded`) if the invocation left out a model or
    test the gate needs, and says what to run instead.
-#}
{% macro assert_publication_possible() %}
    {%- if not execute or flags.WHICH != 'build' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set blockers = publication_blockers() -%}
    {%- if blockers -%}
        {{ exceptions.raise_compiler_error(
            "not published: " ~ (blockers | join('; ')) ~ " in this invocation, and a capture is published only when"
            ~ " all of them ran for it (--select/--exclude, --resource-type and `dbt retry`, which re-runs only what failed"
            ~ " or was skipped, leave some out). Nothing was published; the captures stay `loaded`. To build and publish"
            ~ " them, run: " ~ rebuild_command() ~ "   (or `spine-dbt backfill` over their weeks)"
        ) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- The `dbt build` command that builds (again) the captures this invocation selects. -#}
{% macro rebuild_command() %}
    {%- set chosen = {} -%}
    {%- for name, value in build_vars().items() if value is not none -%}
        {%- do chosen.update({name: value}) -%}
    {%- endfor -%}
    {{ return("dbt build" ~ (" --vars '" ~ tojson(chosen) ~ "'" if chosen else "")) }}
{% endmacro %}
