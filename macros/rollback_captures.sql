{#
    `dbt run-operation rollback_captures --args '{capture_ids: [...], detail: "..."}'`, or
    `--args '{run_id: run_..., detail: "..."}'` for every capture of a run not rolled back yet.
    What `spine-dbt rollback` runs, and what a user may run by hand: both roll back the same.

    DOMAIN.md §3, Rollback. The later captures whose 6-week windows read a capture being rolled
    back (int_capture_windows_resolved), transitively, and not rolled back yet, go with it:
    computed here, so the cascade is the same whichever way the rollback is started
    (spine_wrapper/ledger.py, `dependent_captures`, is the same query, for the CLI's preview).
    A `rolled_back` event is appended for each capture first, so its rows are hidden from the
    `_latest` views before they go, then the captures' rows are deleted from every capture-keyed
    model, all in the one transaction dbt runs an operation in (where the engine has
    transactions; elsewhere, Spark, the event written first hides the rows, and the rows go by
    dropping the captures' partitions). A given capture already rolled back gets no second
    event, but its rows are deleted again (what an interrupted rollback on Spark left) and its
    dependents not rolled back yet go with it.
    Raw rows and the capture record stay, for audit; the previous capture becomes latest. The
    capture-history snapshot dates the change from the events, at its next run.
#}
{% macro rollback_captures(capture_ids=none, run_id=none, detail='rolled back') %}
    {%- if capture_ids is string -%}
        {%- set capture_ids = [capture_ids] -%}
    {%- endif -%}
    {%- if (capture_ids is not none) == (run_id is not none) or (capture_ids is not none and not capture_ids) -%}
        {{ exceptions.raise_compiler_error(
            "rollback_captures: give capture_ids (a non-empty list) or run_id, not both, e.g."
            ~ " --args '{capture_ids: [OTC:2025-12-12:20261124T071828317712Z]}'"
            ~ " or --args '{run_id: run_20261124T071828317712Z}'"
        ) }}
    {%- endif -%}
    {%- set current_events = current_capture_events_sql(source('finra', 'capture_events')) -%}

    {#- The captures asked for, with their current status. -#}
    {%- if run_id is not none -%}
        {%- if not modules.re.fullmatch(run_id_pattern(), run_id | string) -%}
            {{ exceptions.raise_compiler_error("not a run id: " ~ run_id ~ " (expected e.g. run_20261124T071828317712Z)") }}
        {%- endif -%}
        {%- set condition = "captures.run_id = " ~ string_literal(run_id) -%}
    {%- else -%}
        {%- set condition = capture_id_in(capture_ids, 'captures.capture_id') -%}
    {%- endif -%}
    {%- set asked_sql -%}
        select captures.capture_id, current_events.status
        from {{ source('finra', 'captures') }} as captures
        left join ({{ current_events }}) as current_events
            on captures.capture_id = current_events.capture_id
        where {{ condition }}
        order by captures.capture_id
    {%- endset -%}
    {%- set status_of = {} -%}
    {%- for row in run_query(asked_sql) -%}
        {%- do status_of.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- if run_id is not none -%}
        {%- set given = status_of | dictsort | rejectattr(1, 'equalto', 'rolled_back') | map(attribute=0) | list -%}
        {%- if not given -%}
            {{ exceptions.raise_compiler_error("run " ~ run_id ~ " has no capture to roll back (unknown run, or every capture already rolled back)") }}
        {%- endif -%}
    {%- else -%}
        {%- set unknown = capture_ids | reject('in', status_of) | list -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error("unknown capture ids: " ~ (unknown | join(', '))) }}
        {%- endif -%}
        {%- set given = capture_ids | unique | list -%}
    {%- endif -%}

    {#- The later captures whose windows read them, transitively (DOMAIN.md §3). -#}
    {%- set windows = spine_model_relation('int_capture_windows_resolved') -%}
    {%- set chosen = given | list -%}
    {%- set ns = namespace(frontier=given, dependents=[]) -%}
    {#- Each round reaches later weeks only (a window reads its own and earlier weeks), so the
        frontier empties within as many rounds as there are weeks; the bound is never reached. -#}
    {%- for _ in range(10000) if windows is not none -%}
        {%- if ns.frontier -%}
            {%- set readers_sql -%}
                select distinct windows.capture_id
                from {{ windows }} as windows
                inner join ({{ current_events }}) as current_events
                    on windows.capture_id = current_events.capture_id
                where
                    {{ capture_id_in(ns.frontier, 'windows.input_capture_id') }}
                    and current_events.status != 'rolled_back'
            {%- endset -%}
            {%- set readers = run_query(readers_sql).columns[0].values() | reject('in', chosen) | sort | list -%}
            {%- do chosen.extend(readers) -%}
            {%- set ns.dependents = ns.dependents + readers -%}
            {%- set ns.frontier = readers -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set dependents = ns.dependents | sort -%}
    {%- set to_mark = given | reject('in', status_of | dictsort | selectattr(1, 'equalto', 'rolled_back') | map(attribute=0) | list) | list -%}
    {%- set already = given | reject('in', to_mark) | list -%}

    {%- set models = [] -%}
    {%- for node in capture_keyed_models() -%}
        {%- set relation = adapter.get_relation(node.database, node.schema, node.alias) -%}
        {%- if relation is not none -%}
            {%- do models.append(relation) -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set statements = [] -%}
    {%- if to_mark -%}
        {%- do statements.append(append_capture_events('rolled_back', detail, capture_id_in(to_mark))) -%}
    {%- endif -%}
    {%- if dependents -%}
        {%- do statements.append(append_capture_events(
            'rolled_back',
            detail ~ ' (its 6-week window reads a capture rolled back with it)',
            capture_id_in(dependents),
        )) -%}
    {%- endif -%}
    {%- for relation in models -%}
        {%- do statements.append(adapter.dispatch('delete_captures', 'spine_dbt')(relation, given + dependents)) -%}
    {%- endfor -%}
    {%- set commit = adapter.dispatch('commit_operation', 'spine_dbt')() | trim -%}
    {%- if commit -%}
        {%- do statements.append(commit) -%}
    {%- endif -%}

    {%- set listing = ["rolling back " ~ (given | length) ~ " capture(s)" ~ (" of " ~ run_id if run_id is not none else "") ~ ":"] -%}
    {%- for capture_id in given -%}
        {%- do listing.append("  " ~ capture_id ~ ("  (already rolled back: its rows are deleted again)" if capture_id in already else "")) -%}
    {%- endfor -%}
    {%- if dependents -%}
        {%- do listing.append("and the " ~ (dependents | length) ~ " later capture(s) whose 6-week windows read them (dependents):") -%}
        {%- for capture_id in dependents -%}
            {%- do listing.append("  " ~ capture_id) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ log(listing | join('\n'), info=true) }}
    {% do run_statements(statements) %}
    {{ log(
        "rolled back " ~ ((given + dependents) | length) ~ " capture(s) from " ~ (models | length) ~ " models."
        ~ " The capture history snapshot records it, dated from the events, at the next `dbt snapshot`"
        ~ " or `dbt build`: run `dbt snapshot` to record it now (`spine-dbt rollback` does).",
        info=true,
    ) }}
{% endmacro %}

{#- The relation of one of this project's models by name, or none when it is not built yet. -#}
{% macro spine_model_relation(model_name) %}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.package_name == project_name and node.name == model_name -%}
            {{ return(adapter.get_relation(node.database, node.schema, node.alias)) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}

{#- dbt runs an operation inside a transaction it does not commit: commit it where there is one. -#}
{% macro default__commit_operation() %}commit;{% endmacro %}

{#- Spark has no transactions: the `rolled_back` event, written first, hides the rows. -#}
{% macro spark__commit_operation() %}{% endmacro %}

{% macro default__delete_captures(relation, capture_ids) -%}
    delete from {{ relation }} where {{ capture_id_in(capture_ids) }}
{%- endmacro %}

{#- Capture-keyed tables are partitioned by capture_id on Spark: a rollback drops partitions. -#}
{% macro spark__delete_captures(relation, capture_ids) -%}
    alter table {{ relation }} drop if exists
    {% for capture_id in capture_ids -%}
        partition (capture_id = '{{ capture_id }}'){% if not loop.last %}, {% endif %}
    {%- endfor %}
{%- endmacro %}
