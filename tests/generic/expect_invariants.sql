{#
    Every invariant of one model in one data test: one node, one read of the (build-scoped)
    model for all the row-level checks and one per grouped check or relationship, instead of
    one test node per column and check (issue #15: a backfill's dbt build runs few nodes).
    Each argument is optional:

      key              [columns]                   unique together (the grain)
      unique           [[columns], ...]            other unique combinations
      not_null         [columns]
      accepted_values  {column: [values]}          non-null values are one of these
      between          {column: [min, max]}        non-null values within; a bound may be null
      fridays          [columns]                   non-null dates are Fridays
      expressions      [sql]                       true on every row
      grouped_sums     [{column_name, group_by, value, tolerance (1e-9), row_condition}]
                                                   per group, |Σ column - value| <= tolerance
      sequences        [{column_name, group_by, start_value (1)}]
                                                   per group exactly start_value..start_value+n-1
      relationships    {column: relation}          every non-null value is a capture_id there
      latest           a `_latest` view            its rows are unique on latest_key (the
      latest_key       [columns]                   view is read for the weeks in the build):
                                                   [week_ending, tier] + key without capture_id,
                                                   checked as one capture per (week, tier)

    Returns one row per failing row or group: `invariant` (the check, e.g.
    `not_null(symbol)`), `failing_value` (the values that fail it, as text), `n_records`, and
    `capture_id` when the model has one (it appears in `key`, `unique` or `not_null`), so the
    publication gate fails exactly the captures concerned (record_build_outcome).
#}
{% test expect_invariants(
    model,
    key=none,
    unique=none,
    not_null=none,
    accepted_values=none,
    between=none,
    fridays=none,
    expressions=none,
    grouped_sums=none,
    sequences=none,
    relationships=none,
    latest=none,
    latest_key=none
) %}

{%- set key = key or [] -%}
{%- set combinations = ([key] if key else []) + (unique or []) -%}
{%- set named = (not_null or []) + key -%}
{%- for columns in combinations -%}
    {%- do named.extend(columns) -%}
{%- endfor -%}
{%- set keyed = 'capture_id' in named -%}
{%- set capture = 'capture_id, ' if keyed else '' -%}
{%- set checks = [] -%}
{%- set row_checks = [] -%}

{#- Rows: one failing row per row and check, in one read of the model. -#}
{%- for column in not_null or [] -%}
    {%- do row_checks.append({'invariant': 'not_null(' ~ column ~ ')', 'value': "'null'", 'condition': column ~ ' is null'}) -%}
{%- endfor -%}
{%- for column, values in (accepted_values or {}).items() -%}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append(string_literal(value)) -%}
    {%- endfor -%}
    {%- do row_checks.append({'invariant': 'accepted_values(' ~ column ~ ')', 'value': column, 'condition': column ~ ' is not null and ' ~ column ~ ' not in (' ~ literals | join(', ') ~ ')'}) -%}
{%- endfor -%}
{%- for column, bounds in (between or {}).items() -%}
    {%- set conditions = [] -%}
    {%- if bounds[0] is not none -%}
        {%- do conditions.append(column ~ ' < ' ~ bounds[0]) -%}
    {%- endif -%}
    {%- if bounds[1] is not none -%}
        {%- do conditions.append(column ~ ' > ' ~ bounds[1]) -%}
    {%- endif -%}
    {%- do row_checks.append({'invariant': 'between(' ~ column ~ ', ' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ')', 'value': column, 'condition': '(' ~ conditions | join(' or ') ~ ')'}) -%}
{%- endfor -%}
{%- for column in fridays or [] -%}
    {%- do row_checks.append({'invariant': 'friday(' ~ column ~ ')', 'value': column, 'condition': column ~ ' is not null and ' ~ days_since_friday('cast(' ~ column ~ ' as date)') ~ ' <> 0'}) -%}
{%- endfor -%}
{%- for expression in expressions or [] -%}
    {%- do row_checks.append({'invariant': expression, 'value': "'false'", 'condition': 'not (' ~ expression ~ ')'}) -%}
{%- endfor -%}
{%- if row_checks -%}
    {%- do checks.append(invariant_rows(model, keyed, row_checks)) -%}
{%- endif -%}
{#- A subquery condition reads the model on its own (Spark plans IN subqueries in filters only). -#}
{%- for column, relation in (relationships or {}).items() -%}
    {%- set failing -%}
        select
            {{ capture }}
            {{ string_literal('relationships(' ~ column ~ ')') }} as invariant,
            cast({{ column }} as {{ dbt.type_string() }}) as failing_value,
            1 as n_records
        from {{ model }}
        where {{ column }} is not null and {{ column }} not in (select capture_id from {{ relation }})
    {%- endset -%}
    {%- do checks.append(failing) -%}
{%- endfor -%}

{#- Groups: one failing group each. A unique check groups exactly only the rows whose key
    hash repeats (repeated_hashes): grouping millions of wide keys at once spills, a hash
    does not. -#}
{%- for columns in combinations -%}
    {%- set grouped -%}
        select
            {{ ('capture_id,' if 'capture_id' in columns else 'min(capture_id) as capture_id,') if keyed }}
            {{ string_literal('unique(' ~ columns | join(', ') ~ ')') }} as invariant,
            {{ invariant_text(columns) }} as failing_value,
            count(*) as n_records
        from {{ model }}
        where {{ key_hash(columns) }} in ({{ repeated_hashes(model, columns) }})
        group by {{ columns | join(', ') }}
        having count(*) > 1
    {%- endset -%}
    {%- do checks.append(grouped) -%}
{%- endfor -%}
{%- for check in grouped_sums or [] -%}
    {%- set group_by = check.group_by -%}
    {%- set grouped -%}
        select
            {{ ('capture_id,' if 'capture_id' in group_by else 'min(capture_id) as capture_id,') if keyed }}
            {{ string_literal('grouped_sum(' ~ check.column_name ~ ' by ' ~ group_by | join(', ') ~ ') = ' ~ check.value) }} as invariant,
            {{ invariant_text(['sum(' ~ check.column_name ~ ')']) }} as failing_value,
            count(*) as n_records
        from {{ model }}
        {% if check.row_condition %}where {{ check.row_condition }}{% endif %}
        group by {{ group_by | join(', ') }}
        having
            sum({{ check.column_name }}) is null
            or abs(sum({{ check.column_name }}) - ({{ check.value }})) > {{ check.tolerance or 1e-9 }}
    {%- endset -%}
    {%- do checks.append(grouped) -%}
{%- endfor -%}
{%- for check in sequences or [] -%}
    {%- set group_by = check.group_by -%}
    {%- set start = check.start_value or 1 -%}
    {%- set grouped -%}
        select
            {{ ('capture_id,' if 'capture_id' in group_by else 'min(capture_id) as capture_id,') if keyed }}
            {{ string_literal('sequence(' ~ check.column_name ~ ' by ' ~ group_by | join(', ') ~ ') from ' ~ start) }} as invariant,
            {{ invariant_text(['min(' ~ check.column_name ~ ')', 'max(' ~ check.column_name ~ ')']) }} as failing_value,
            count(*) as n_records
        from {{ model }}
        group by {{ group_by | join(', ') }}
        having
            count(distinct {{ check.column_name }}) <> count(*)
            or min({{ check.column_name }}) <> {{ start }}
            or max({{ check.column_name }}) <> {{ start }} + count(*) - 1
    {%- endset -%}
    {%- do checks.append(grouped) -%}
{%- endfor -%}
{#- The `_latest` view is unique on latest_key = (week_ending, tier) + the key without
    capture_id exactly when it holds one capture per (week, tier): each capture is unique on
    the key (checked when it was built; its rows never change after). So that is what is
    checked, a group by of the few (week, tier)s instead of a hash of every row. -#}
{%- if latest is not none -%}
    {%- set per_capture = key | reject('equalto', 'capture_id') | list -%}
    {%- if 'capture_id' not in key or latest_key != ['week_ending', 'tier'] + per_capture -%}
        {{ exceptions.raise_compiler_error(
            "expect_invariants: latest_key must be [week_ending, tier] + key without capture_id, got "
            ~ latest_key ~ " for key " ~ key) }}
    {%- endif -%}
    {%- set grouped -%}
        select
            min(capture_id) as capture_id,
            {{ string_literal('unique(' ~ latest.identifier ~ ': ' ~ latest_key | join(', ') ~ ')') }} as invariant,
            {{ string_literal('captures ') }} || min(capture_id) || ', ' || max(capture_id) as failing_value,
            count(*) as n_records
        from {{ latest }}
        where {{ weeks_in_build() }}
        group by week_ending, tier
        having min(capture_id) <> max(capture_id)
    {%- endset -%}
    {%- do checks.append(grouped) -%}
{%- endif -%}

{%- if not checks -%}
    {{ exceptions.raise_compiler_error("expect_invariants: no invariant given") }}
{%- endif -%}

with

failing as (
    {%- for check in checks %}
    {{ check }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select * from failing
)

select * from final

{% endtest %}
