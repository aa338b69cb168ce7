{#-
    Error: published ⇒ complete (DOMAIN.md §3). Every published capture with accepted rows has
    rows in every mart a `_latest` view serves, whatever dbt command ran since. Scoped like
    every test: the captures being built, or, under `dbt test` without vars, the latest
    published capture of every (week, tier). One row per capture and mart it is missing from.
-#}
-- depends_on: {{ ref('finra_otc_transparency_symbol_summary') }}
-- depends_on: {{ ref('finra_otc_transparency_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_concentration') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_rolling_6w') }}
-- depends_on: {{ ref('finra_otc_transparency_liquidity_score') }}
-- depends_on: {{ ref('finra_otc_transparency_research_snapshot') }}
{% set served = served_marts() if execute else [] %}

with

published_captures as (
    select
        capture_id,
        week_ending,
        tier
    from {{ ref('stg_finra__captures') }}
    where
        {{ captures_in_build() }}
        and status = 'published'
),

row_counts as (
    select
        capture_id,
        rows_accepted
    from {{ ref('int_capture_rows_counted') }}
    where {{ captures_in_build() }}
),

served_rows as (
    {{ served_mart_rows(served, 'published_captures') }}
),

served_marts as (
    {% for mart in served -%}
        select '{{ mart.name }}' as mart_name
        {% if not loop.last %}union all{% endif %}
    {% else -%}
        select '' as mart_name
    {%- endfor %}
),

expected_rows as (
    select
        published_captures.capture_id,
        published_captures.week_ending,
        published_captures.tier,
        served_marts.mart_name
    from published_captures
    inner join row_counts on published_captures.capture_id = row_counts.capture_id
    cross join served_marts
    where row_counts.rows_accepted > 0
),

final as (
    select
        expected_rows.capture_id,
        expected_rows.week_ending,
        expected_rows.tier,
        expected_rows.mart_name as missing_from
    from expected_rows
    left join served_rows
        on
            expected_rows.capture_id = served_rows.capture_id
            and expected_rows.mart_name = served_rows.mart_name
    where served_rows.capture_id is null
)

select * from final
