{#- Helpers of the generic test expect_invariants (tests/generic/expect_invariants.sql). -#}

{#- The failing rows of one row-level check of expect_invariants. -#}
{% macro invariant_rows(model, keyed, invariant, value, condition) %}
    {%- set rows -%}
        select
            {{ 'capture_id,' if keyed }}
            {{ string_literal(invariant) }} as invariant,
            cast({{ value }} as {{ dbt.type_string() }}) as failing_value,
            1 as n_records
        from {{ model }}
        where {{ condition }}
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
