{{ config(severity='warn') }}

{#-
    Warn: a capture whose week was found from its file's publication date (DOMAIN.md §1.3,
    rule 3: the legacy export has no week column), not stated by the file. The week is FINRA's
    publication delay counted back; an API export (weekStartDate) removes the guess.
-#}

with

captures as (
    select
        capture_id,
        week_ending,
        tier,
        source_file,
        week_source
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

final as (
    select
        capture_id,
        week_ending,
        tier,
        source_file
    from captures
    where week_source = 'publication_delay'
)

select * from final
