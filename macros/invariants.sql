{#- Helpers of the generic test expect_invariants (tests/generic/expect_invariants.sql). -#}

{#-
    The failing rows of the row-level checks of expect_invariants, in one read of `model`:
    the rows failing any check, then one output row per (row, check) it fails. `checks` is a
    list of {invariant, value, condition}: the check's name, the SQL of its failing value and
    the SQL condition true on a failing row (NULL counts as passing, as in a `where`).
-#}
{% macro invariant_rows(model, keyed, checks) %}
    {%- set conditions = [] -%}
    {%- set names = [] -%}
    {%- set values = [] -%}
    {%- for check in checks -%}
        {%- do conditions.append('(invariant_check.check_number = ' ~ loop.index ~ ' and (' ~ check.condition ~ '))') -%}
        {%- do names.append('select ' ~ loop.index ~ ' as check_number, ' ~ string_literal(check.invariant) ~ ' as check_name') -%}
        {%- do values.append('when ' ~ loop.index ~ ' then cast(' ~ check.value ~ ' as ' ~ dbt.type_string() ~ ')') -%}
    {%- endfor -%}
    {%- set rows -%}
        select
            {{ 'failing_row.capture_id,' if keyed }}
            invariant_check.check_name as invariant,
            case invariant_check.check_number {{ values | join(' ') }} end as failing_value,
            1 as n_records
        from (
            select * from {{ model }}
            where {% for check in checks %}({{ check.condition }}){% if not loop.last %} or {% endif %}{% endfor %}
        ) as failing_row
        cross join (
            {{ names | join(' union all ') }}
        ) as invariant_check
        where {{ conditions | join(' or ') }}
    {%- endset -%}
    {{ return(rows) }}
{% endmacro %}

{#- Values as one text: `a | b | c` (null as the text null). -#}
{% macro invariant_text(expressions) %}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as " ~ dbt.type_string() ~ "), 'null')") -%}
        {%- if not loop.last -%}
            {%- do parts.append("' | '") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(dbt.concat(parts) if parts | length > 1 else parts[0]) }}
{% endmacro %}

{#- A subquery: the key hashes (key_hash) of `columns` that more than one row of `relation`
    (optionally only where `condition`) has; the rows of a repeated key are among them. -#}
{% macro repeated_hashes(relation, columns, condition=none) %}
    {%- set hashed -%}
        select {{ key_hash(columns) }} as key_hash
        from {{ relation }}
        {% if condition %}where {{ condition }}{% endif %}
        group by {{ key_hash(columns) }}
        having count(*) > 1
    {%- endset -%}
    {{ return(hashed) }}
{% endmacro %}
