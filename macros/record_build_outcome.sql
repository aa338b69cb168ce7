{#
    on-run-end of every `dbt build` (and `dbt test`):
    - records every data test's outcome in raw.test_results (status, failing-row count, and up
      to 20 failing rows as JSON for tests that warned or failed), for `spine-dbt quality`;
    - gives every capture of the build that is still `loaded` (its publication gate did not
      run) a `failed` event naming the nodes that failed, so it is never mistaken for pending
      work; when nothing failed, the captures the gate left unpublished because they have no
      accepted row get a `failed` event saying so. Other commands leave statuses alone.
#}
{% macro record_build_outcome(results) %}
    {%- if not execute or flags.WHICH not in ['build', 'test'] -%}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- set test_rows = [] -%}
    {%- set failed_nodes = [] -%}
    {%- for result in results -%}
        {%- if result.status in ['error', 'fail', 'runtime error'] -%}
            {%- do failed_nodes.append(result.node.name) -%}
        {%- endif -%}
        {%- if result.node.resource_type == 'test' -%}
            {%- do test_rows.append(test_result_values(result)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if test_rows -%}
        {%- set insert_results -%}
            insert into {{ source('finra', 'test_results') }}
                (invocation_id, run_id, test_name, model_name, severity, status, failures, message, failing_rows, recorded_at)
            values
            {{ test_rows | join(',\n') }}
        {%- endset -%}
        {%- do statements.append(insert_results) -%}
    {%- endif -%}
    {#- the row counts the publication gate reads (looked up in the graph: a ref() in a hook
        would make it a dependency of every node) -#}
    {%- set counted = namespace(relation=none) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == 'int_capture_rows_counted' -%}
        {%- set counted.relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
    {%- endfor -%}
    {%- set gate_ran = counted.relation is not none -%}
    {%- if flags.WHICH == 'build' and (failed_nodes or gate_ran) -%}
        {%- if failed_nodes -%}
            {%- set detail = 'failed: ' ~ (failed_nodes | sort | join(', ')) -%}
        {%- else -%}
            {%- set detail = 'no accepted row: every data line is a reject or a FINRA total (see finra_otc_transparency_rejects)' -%}
        {%- endif -%}
        {%- set events = source('finra', 'capture_events') -%}
        {%- set mark_failed -%}
            insert into {{ events }} (capture_id, run_id, status, event_at, detail)
            select capture_id, run_id, 'failed', {{ utc_now() }}, {{ string_literal(detail[:4000]) }}
            from {{ source('finra', 'captures') }}
            where
                {{ captures_in_build() }}
                and capture_id in (
                    select capture_id from ({{ current_capture_events_sql(events) }}) as current_events
                    where status = 'loaded'
                )
                {%- if not failed_nodes %}
                and capture_id in (
                    select capture_id from {{ counted.relation }}
                    where {{ captures_in_build() }} and rows_accepted = 0
                )
                {%- endif %}
        {%- endset -%}
        {%- do statements.append(mark_failed) -%}
    {%- endif -%}
    {{ return(hook_statements(statements)) }}
{% endmacro %}

{#- One VALUES tuple for raw.test_results; failing rows are re-selected (20 at most). -#}
{% macro test_result_values(result) %}
    {%- set node = result.node -%}
    {%- set failing = [] -%}
    {%- if result.status in ['warn', 'fail'] and node.compiled_code -%}
        {%- set sample = run_query('select * from (' ~ node.compiled_code ~ ') as failing_rows limit 20') -%}
        {%- for row in sample.rows -%}
            {%- set record = {} -%}
            {%- for name in sample.column_names -%}
                {%- do record.update({name: (row[name] | string) if row[name] is not none else none}) -%}
            {%- endfor -%}
            {%- do failing.append(record) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set model_name = (node.depends_on.nodes | first).split('.')[-1] if node.depends_on.nodes else none -%}
    {%- set quote = "'" -%}
    {%- set fields = [
        quote ~ invocation_id ~ quote,
        (quote ~ var('run_id') ~ quote) if var('run_id', none) else 'null',
        quote ~ node.name ~ quote,
        (quote ~ model_name ~ quote) if model_name else 'null',
        quote ~ node.config.severity ~ quote,
        quote ~ result.status ~ quote,
        (result.failures | string) if result.failures is not none else 'null',
        string_literal(((result.message or '') | string)[:2000]),
        string_literal(tojson(failing)) if failing else 'null',
        utc_now(),
    ] -%}
    {{ return('(' ~ (fields | join(', ')) ~ ')') }}
{% endmacro %}
