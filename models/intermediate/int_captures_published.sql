{{
    config(
        materialized='table',
        post_hook="{{ record_publication(this) }}",
    )
}}

{#
    The publication gate (DOMAIN.md §3; macros/publication_gate.sql). This model depends on
    every capture-keyed mart, so `dbt build` runs it only when all of them were built and every
    error-severity test on them and their ancestors passed; a failing test makes dbt skip it
    (record_build_outcome then decides capture by capture). It refuses to run when the
    invocation left out a capture-keyed model or an error-severity test. It holds each capture
    of the build that has accepted rows and rows in every mart a `_latest` view serves
    (published ⇒ complete); its post-hook publishes exactly those, and only under `dbt build`.
#}
{% do assert_publication_possible() %}
-- depends_on: {{ ref('finra_otc_transparency_symbol_summary') }}
-- depends_on: {{ ref('finra_otc_transparency_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_concentration') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_rolling_6w') }}
-- depends_on: {{ ref('finra_otc_transparency_liquidity_score') }}
-- depends_on: {{ ref('finra_otc_transparency_research_snapshot') }}
-- depends_on: {{ ref('finra_otc_transparency_rejects') }}
-- depends_on: {{ ref('finra_otc_transparency_reconciliation') }}
{% set served = served_marts() if execute else [] %}

with

build_captures as (
    select
        capture_id,
        run_id,
        week_ending,
        tier
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

row_counts as (
    select
        capture_id,
        rows_accepted
    from {{ ref('int_capture_rows_counted') }}
    where {{ captures_in_build() }}
),

served_rows as (
    {{ served_mart_rows(served, 'build_captures') }}
),

complete_captures as (
    select capture_id
    from served_rows
    group by capture_id
    having count(distinct mart_name) = {{ served | length }}
),

final as (
    select
        build_captures.capture_id,
        build_captures.run_id,
        build_captures.week_ending,
        build_captures.tier,
        {{ utc_now() }} as published_at
    from build_captures
    inner join row_counts on build_captures.capture_id = row_counts.capture_id
    inner join complete_captures on build_captures.capture_id = complete_captures.capture_id
    where row_counts.rows_accepted > 0
)

select * from final
