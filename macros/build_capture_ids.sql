{#
    The captures this invocation builds, as a validated list of ids: those still `loaded` when
    the invocation started (so the set does not change once the build publishes them), of var
    `run_id` when given, narrowed by the optional `start`, `end` and `tiers` vars. Models render
    the list as literals (see `captures_in_build`), so every capture-keyed model and test
    touches only these captures. `dbt test` without any of those vars tests the published
    warehouse instead: the latest published capture of every (week, tier) (DOMAIN.md §3).
#}
{% macro build_capture_ids() %}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set v = build_vars() -%}
    {%- set captures = source('finra', 'captures') -%}
    {%- if adapter.get_relation(captures.database, captures.schema, captures.identifier) is none -%}
        {#- nothing loaded yet (e.g. `dbt docs generate` on a new warehouse): nothing to build -#}
        {{ return([]) }}
    {%- endif -%}
    {%- set events = source('finra', 'capture_events') -%}
    {%- set published_warehouse = flags.WHICH == 'test' and v.values() | select('ne', none) | list | length == 0 -%}
    {%- set query -%}
        {%- if published_warehouse %}
        select capture_id
        from (
            select
                c.capture_id,
                row_number() over (
                    partition by c.week_ending, c.tier order by c.captured_at desc, c.capture_id desc
                ) as capture_rank
            from {{ captures }} as c
            inner join ({{ current_capture_events_sql(events, as_of_run_start=true) }}) as current_events
                on c.capture_id = current_events.capture_id
            where current_events.status = 'published'
        ) as c
        where capture_rank = 1
        {%- else %}
        select c.capture_id
        from {{ captures }} as c
        where
            c.capture_id in (
                select capture_id from ({{ current_capture_events_sql(events, as_of_run_start=true) }}) as current_events
                where status = 'loaded'
            )
            {% if v.run_id is not none %}and c.run_id = '{{ v.run_id }}'{% endif %}
            {% if v.start is not none %}and c.week_ending >= cast('{{ v.start }}' as date){% endif %}
            {% if v.end is not none %}and c.week_ending <= cast('{{ v.end }}' as date){% endif %}
            {% if v.tiers %}and c.tier in ('{{ v.tiers | join("', '") }}'){% endif %}
        {%- endif %}
        order by c.capture_id
    {%- endset -%}
    {%- set ids = run_query(query).columns[0].values() | list -%}
    {%- for capture_id in ids -%}
        {%- if not modules.re.fullmatch(capture_id_pattern(), capture_id) -%}
            {{ exceptions.raise_compiler_error("raw.captures holds a malformed capture id: " ~ capture_id) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ids) }}
{% endmacro %}

{#-
    A boolean SQL expression: `column` is one of the captures being built. With `week_column`
    (the capture's week on each row), also that the week is in the range of those captures'
    weeks: a date range lets the engine skip the row groups of other weeks, which a list of
    capture ids cannot (DuckDB keeps only an 8-character prefix of strings as min/max, and
    every id starts with its tier). Rows without a week (raw rows landed before the loader
    recorded it) are always read. `ids` narrows it to some of those captures (the end of a
    build replays a failed test capture by capture, see record_build_outcome).
-#}
{% macro captures_in_build(column='capture_id', week_column=none, ids=none) %}
    {%- set ids = build_capture_ids() if ids is none else ids -%}
    {%- if ids -%}
        {{ column }} in ('{{ ids | join("', '") }}')
        {%- if week_column -%}
            {%- set weeks = [] -%}
            {%- for capture_id in ids -%}
                {%- do weeks.append(capture_id.split(':')[1]) -%}
            {%- endfor %}
        and ({{ week_column }} between cast('{{ weeks | min }}' as date) and cast('{{ weeks | max }}' as date) or {{ week_column }} is null)
        {%- endif -%}
    {%- else -%}
        1 = 0
    {%- endif -%}
{% endmacro %}

{#-
    A boolean SQL expression: the row's (week_ending, tier) is one a capture being built is for.
    One IN list over a `tier:week` key (a hash lookup per row) plus the range of the weeks, which
    lets the engine skip row groups outside it; an OR of (tier, week) pairs would be evaluated
    pair by pair on every row. `ids` as in captures_in_build.
-#}
{% macro weeks_in_build(week_column='week_ending', tier_column='tier', ids=none) %}
    {%- set keys = [] -%}
    {%- set weeks = [] -%}
    {%- for capture_id in (build_capture_ids() if ids is none else ids) -%}
        {%- set parts = capture_id.split(':') -%}
        {%- do keys.append(parts[0] ~ ':' ~ parts[1]) -%}
        {%- do weeks.append(parts[1]) -%}
    {%- endfor -%}
    {%- if keys -%}
        {%- set week_text = dbt.cast(week_column, api.Column.translate_type('string')) -%}
        ({{ week_column }} between cast('{{ weeks | min }}' as date) and cast('{{ weeks | max }}' as date)
        and {{ dbt.concat([tier_column, "':'", week_text]) }} in ('{{ keys | unique | join("', '") }}'))
    {%- else -%}
        1 = 0
    {%- endif -%}
{% endmacro %}
