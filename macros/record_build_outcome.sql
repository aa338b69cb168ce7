{#
    on-run-end of every `dbt build` (and `dbt test`):
    - records every data test's outcome in raw.test_results (status, failing-row count, and up
      to 20 failing rows as JSON for tests that warned or failed), for `spine-dbt quality`;
    - under `dbt build`, decides per capture what the publication gate could not (DOMAIN.md §3,
      "Publishing is decided per capture"); see `capture_outcomes`.
    Other commands leave statuses alone.
#}
{% macro record_build_outcome(results) %}
    {%- if not execute or flags.WHICH not in ['build', 'test'] -%}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- set test_rows = [] -%}
    {%- for result in results if result.node.resource_type == 'test' -%}
        {%- do test_rows.append(test_result_values(result)) -%}
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
    {%- if flags.WHICH == 'build' and build_capture_ids() -%}
        {%- do statements.extend(capture_outcomes(results)) -%}
    {%- endif -%}
    {{ return(hook_statements(statements)) }}
{% endmacro %}

{#-
    The status events the end of a build appends, as SQL statements:
    - a failed error-severity test whose failing rows can be traced to captures fails exactly
      those captures, and the captures of this build whose windows read them; the others stay
      `loaded` when dbt skipped the nodes after the failure (re-running the same `dbt build`
      publishes them; `spine-dbt backfill` does it by itself);
    - a failure that cannot be traced (a model's error, a test that errored) fails every
      capture of the build still `loaded`: none of them was completely built;
    - a gate that refused an incomplete selection fails nothing (the captures stay `loaded`);
    - after a gate that ran, a capture it left out (no accepted row, or no rows in a mart that
      serves published data) is failed with the reason.
-#}
{% macro capture_outcomes(results) %}
    {%- set statements = [] -%}
    {%- set build_ids = build_capture_ids() -%}
    {%- set traced = {} -%}
    {%- set untraced = [] -%}
    {%- set gate = namespace(status=none) -%}
    {%- for result in results -%}
        {%- if result.node.name == 'int_captures_published' -%}
            {%- set gate.status = 'refused' if result.status == 'error' and 'not published:' in (result.message or '') else result.status -%}
        {%- endif -%}
        {%- if result.status in ['error', 'fail', 'runtime error'] and not (result.node.name == 'int_captures_published' and gate.status == 'refused') -%}
            {%- set failing = failing_capture_ids(result.node, build_ids) if result.status == 'fail' and result.node.resource_type == 'test' else none -%}
            {%- if failing is none -%}
                {%- do untraced.append(result.node.name) -%}
            {%- else -%}
                {%- for capture_id in failing -%}
                    {%- do traced.setdefault(capture_id, []).append(result.node.name) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set not_failed_yet = captures_now(['loaded', 'published']) -%}
    {%- for capture_id, tests in traced.items() -%}
        {%- do statements.append(append_capture_events(
            'failed', 'failed: ' ~ (tests | unique | sort | join(', ')), capture_id_in([capture_id]) ~ ' and ' ~ not_failed_yet
        )) -%}
    {%- endfor -%}
    {%- set readers = window_readers(traced.keys() | list, build_ids) -%}
    {%- for capture_id, inputs in readers.items() -%}
        {%- do statements.append(append_capture_events(
            'failed', 'failed: its 6-week window reads ' ~ (inputs | sort | join(', ')) ~ ', which failed',
            capture_id_in([capture_id]) ~ ' and ' ~ not_failed_yet
        )) -%}
    {%- endfor -%}
    {%- if untraced -%}
        {%- do statements.append(append_capture_events(
            'failed', 'failed: ' ~ (untraced | sort | join(', ')),
            captures_in_build() ~ ' and ' ~ captures_now(['loaded'])
        )) -%}
    {%- elif gate.status == 'success' -%}
        {%- do statements.extend(unpublished_after_gate(build_ids)) -%}
    {%- endif -%}
    {%- set failed_now = (traced.keys() | list) + (readers.keys() | list) -%}
    {%- if traced and not untraced and gate.status != 'success' -%}
        {%- set waiting = build_ids | reject('in', failed_now) | list -%}
        {{ log(
            "spine-dbt: " ~ (failed_now | length) ~ " capture(s) failed (" ~ (failed_now | sort | first) ~ (", ..." if failed_now | length > 1 else "")
            ~ "); dbt skipped what followed the failure, so the other " ~ (waiting | length) ~ " capture(s) of this build are not"
            ~ " published yet and stay `loaded`: run the same command again to build and publish them: " ~ rebuild_command(),
            info=true
        ) }}
    {%- elif gate.status == 'refused' -%}
        {{ log("spine-dbt: nothing was published; the captures of this build stay `loaded` (see int_captures_published's error)", info=true) }}
    {%- endif -%}
    {{ return(statements) }}
{% endmacro %}

{#-
    The captures among `build_ids` a failed test's rows belong to, or none when they cannot be
    told: from the rows' capture_id column when they have one, else by running the test again
    for one capture at a time (its where-filter, rendered by captures_in_build or
    weeks_in_build, narrowed to that capture).
-#}
{% macro failing_capture_ids(node, build_ids) %}
    {%- set sql = node.compiled_code -%}
    {%- if not sql -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = get_columns_in_query(sql) | map('lower') | list -%}
    {%- if 'capture_id' in columns -%}
        {%- set found = run_query('select distinct capture_id from (' ~ sql ~ ') as failing_rows').columns[0].values() -%}
        {%- set ids = found | select('in', build_ids) | list -%}
        {{ return(ids if ids else none) }}
    {%- endif -%}
    {%- set filters = [] -%}
    {%- for week_column in ['week_ending', 'capture_week_ending', none] -%}
        {%- do filters.append((captures_in_build(week_column=week_column), week_column, 'captures')) -%}
    {%- endfor -%}
    {%- do filters.append((weeks_in_build(), none, 'weeks')) -%}
    {%- for filter, week_column, kind in filters if filter in sql -%}
        {%- set ids = [] -%}
        {%- for capture_id in build_ids -%}
            {%- set narrowed = captures_in_build(week_column=week_column, ids=[capture_id]) if kind == 'captures' else weeks_in_build(ids=[capture_id]) -%}
            {%- if run_query('select 1 from (' ~ (sql | replace(filter, narrowed)) ~ ') as failing_rows limit 1').rows | length -%}
                {%- do ids.append(capture_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {{ return(ids if ids else none) }}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}

{#- {capture id: [failed capture ids its window reads]} over the other captures of `build_ids`. -#}
{% macro window_readers(failed_ids, build_ids) %}
    {%- set readers = {} -%}
    {%- set windows = spine_model_relation('int_capture_windows_resolved') -%}
    {%- if failed_ids and windows is not none -%}
        {%- set query -%}
            select distinct capture_id, input_capture_id
            from {{ windows }}
            where
                {{ capture_id_in(build_ids) }}
                and {{ capture_id_in(failed_ids, 'input_capture_id') }}
                and not {{ capture_id_in(failed_ids) }}
        {%- endset -%}
        {%- for row in run_query(query).rows -%}
            {%- do readers.setdefault(row[0], []).append(row[1]) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(readers) }}
{% endmacro %}

{#- A condition on capture_id: the capture's current status (from the events log) is one of
    `statuses`. -#}
{% macro captures_now(statuses) %}
    {%- set literals = [] -%}
    {%- for status in statuses -%}
        {%- do literals.append(string_literal(status)) -%}
    {%- endfor -%}
    {%- set current = current_capture_events_sql(source('finra', 'capture_events')) -%}
    {{- return(
        'capture_id in (select capture_id from (' ~ current ~ ') as current_events'
        ~ ' where status in (' ~ (literals | join(', ')) ~ '))'
    ) -}}
{% endmacro %}

{#- After a gate that ran: fail the captures of the build it did not publish, saying why. -#}
{% macro unpublished_after_gate(build_ids) %}
    {%- set counted = spine_model_relation('int_capture_rows_counted') -%}
    {%- set still_loaded = captures_in_build() ~ ' and ' ~ captures_now(['loaded']) -%}
    {%- set without_rows = "capture_id in (select capture_id from " ~ counted ~ " where " ~ captures_in_build() ~ " and rows_accepted = 0)" -%}
    {{ return([
        append_capture_events(
            'failed', 'no accepted row: every data line is a reject or a FINRA total (see finra_otc_transparency_rejects)',
            still_loaded ~ ' and ' ~ without_rows
        ),
        append_capture_events(
            'failed', 'incomplete: a mart that serves published data has no row for it (published ⇒ complete)',
            still_loaded ~ ' and not ' ~ without_rows
        ),
    ]) }}
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
