{#
    A subquery: the latest capture of each (week, tier) = its newest `published` capture
    (DOMAIN.md §3), from a relation shaped like stg_finra__captures.
#}
{% macro latest_published_captures(captures_relation) %}
    select
        capture_id,
        run_id,
        week_ending,
        tier,
        captured_at
    from (
        select
            capture_id,
            run_id,
            week_ending,
            tier,
            captured_at,
            row_number() over (
                partition by week_ending, tier
                order by captured_at desc, capture_id desc
            ) as capture_rank
        from {{ captures_relation }}
        where status = 'published'
    ) as ranked_captures
    where capture_rank = 1
{% endmacro %}
