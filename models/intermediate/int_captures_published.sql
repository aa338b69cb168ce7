{{
    config(
        materialized='table',
        post_hook="{{ record_publication(this) }}",
    )
}}

{#
    The publication gate (DOMAIN.md §3). This model depends on every capture-keyed mart, so
    `dbt build` runs it only when all of them were built and every error-severity test on
    them and their ancestors passed; a failing test makes dbt skip it. Its post-hook then
    appends a `published` event for each capture built that has at least one accepted row
    (a capture with none is never published: the on-run-end hook fails it), and only under
    `dbt build`: `dbt run` (which runs no tests) never publishes.
#}
-- depends_on: {{ ref('finra_otc_transparency_symbol_summary') }}
-- depends_on: {{ ref('finra_otc_transparency_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_venue_share') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_concentration') }}
-- depends_on: {{ ref('finra_otc_transparency_symbol_rolling_6w') }}
-- depends_on: {{ ref('finra_otc_transparency_liquidity_score') }}
-- depends_on: {{ ref('finra_otc_transparency_research_snapshot') }}
-- depends_on: {{ ref('finra_otc_transparency_rejects') }}
-- depends_on: {{ ref('finra_otc_transparency_reconciliation') }}

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

final as (
    select
        build_captures.capture_id,
        build_captures.run_id,
        build_captures.week_ending,
        build_captures.tier,
        {{ utc_now() }} as published_at
    from build_captures
    inner join row_counts on build_captures.capture_id = row_counts.capture_id
    where row_counts.rows_accepted > 0
)

select * from final
