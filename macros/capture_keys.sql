{#-
    A query: the rows of `relation` (captures, one row each) with capture_key, 1..n in the
    order of `column` (the capture id). A small integer numbered per query, to partition,
    group and join millions of rows by instead of the 40-character capture id (DuckDB's
    windows and hash tables then hold a fraction of the bytes); never stored.
-#}
{% macro capture_keys(relation, column='capture_id') -%}
    select
        {{ column }},
        row_number() over (order by {{ column }}) as capture_key
    from {{ relation }}
{%- endmacro %}
