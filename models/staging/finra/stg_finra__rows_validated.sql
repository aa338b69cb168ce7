{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
        partition_by='capture_id' if target.type == 'spark' else none,
        unique_key='capture_id',
        on_schema_change='fail',
    )
}}

{#
    Every data line of the captures being built, typed and validated. Each line gets all the
    reason codes of DOMAIN.md §2 that apply (in the order listed there); the first is its
    primary code. Lines with no code are accepted. The tier lookup is the one join here: a
    spelling is only meaningful through the tier_aliases seed.
#}

{#- An ISO date's shape; whether the day exists in its month is checked in dates_validated. -#}
{%- set iso_date = '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])' %}

with

raw_rows as (
    select
        capture_id,
        line_number,
        field_count,
        tier_raw,
        week_ending_raw,
        last_update_date_raw,
        symbol_raw,
        issue_name,
        venue_name,
        mpid_raw,
        shares_raw,
        trades_raw
    from {{ source('finra', 'finra_rows') }}
    where {{ captures_in_build(week_column='capture_week_ending') }}
),

captures as (
    select
        capture_id,
        week_ending as capture_week_ending,
        tier as capture_tier,
        layout,
        expected_field_count
    from {{ source('finra', 'captures') }}
    where {{ captures_in_build() }}
),

tier_aliases as (
    select
        {{ alias_key('alias') }} as alias_key,
        tier
    from {{ ref('tier_aliases') }}
    union all
    select distinct
        {{ alias_key('tier') }} as alias_key,
        tier
    from {{ ref('tier_aliases') }}
),

tier_keys as (
    select distinct
        alias_key,
        tier
    from tier_aliases
),

rows_unquoted as (
    select
        raw_rows.capture_id,
        raw_rows.line_number,
        raw_rows.field_count,
        captures.capture_week_ending,
        captures.capture_tier,
        captures.layout,
        captures.expected_field_count,
        raw_rows.issue_name,
        raw_rows.venue_name,
        {{ unquote('raw_rows.tier_raw') }} as tier_text,
        {{ unquote('raw_rows.week_ending_raw') }} as week_ending_text,
        {{ unquote('raw_rows.last_update_date_raw') }} as last_update_date_text,
        upper({{ unquote('raw_rows.symbol_raw') }}) as symbol,
        upper({{ unquote('raw_rows.mpid_raw') }}) as mpid,
        {{ unquote('raw_rows.shares_raw') }} as shares_text,
        {{ unquote('raw_rows.trades_raw') }} as trades_text
    from raw_rows
    inner join captures on raw_rows.capture_id = captures.capture_id
),

rows_typed as (
    select
        rows_unquoted.*,
        tier_keys.tier,
        case
            when {{ full_match('rows_unquoted.shares_text', '-?[0-9]{1,18}') }}
                then cast(rows_unquoted.shares_text as bigint)
        end as total_shares,
        case
            when {{ full_match('rows_unquoted.trades_text', '-?[0-9]{1,18}') }}
                then cast(rows_unquoted.trades_text as bigint)
        end as total_trades,
        {#- The day added to the first of the month: `2025-02-30` becomes 2025-03-02 here and
            is caught in dates_validated. dbt.safe_cast is a plain cast on DuckDB, which would
            fail the whole build on such a date. -#}
        case
            when {{ full_match('rows_unquoted.last_update_date_text', iso_date) }}
                then cast({{ dbt.dateadd(
                    'day',
                    'cast(right(rows_unquoted.last_update_date_text, 2) as integer) - 1',
                    "cast(left(rows_unquoted.last_update_date_text, 8) || '01' as date)",
                ) }} as date)
        end as last_update_date_candidate,
        case
            when {{ full_match('rows_unquoted.week_ending_text', iso_date) }}
                then cast({{ dbt.dateadd(
                    'day',
                    'cast(right(rows_unquoted.week_ending_text, 2) as integer) - 1',
                    "cast(left(rows_unquoted.week_ending_text, 8) || '01' as date)",
                ) }} as date)
        end as week_ending_candidate
    from rows_unquoted
    left join tier_keys on {{ alias_key('rows_unquoted.tier_text') }} = tier_keys.alias_key
),

dates_validated as (
    select
        *,
        case
            when cast(last_update_date_candidate as {{ dbt.type_string() }}) = last_update_date_text
                then last_update_date_candidate
        end as source_last_update_date,
        case
            when cast(week_ending_candidate as {{ dbt.type_string() }}) = week_ending_text
                then week_ending_candidate
        end as stated_week_ending
    from rows_typed
),

rows_dated as (
    select
        *,
        case
            when layout = 'finra' and source_last_update_date is not null
                then {{ week_ending_from_last_update('source_last_update_date') }}
            when layout = 'simplified' then stated_week_ending
        end as week_ending,
        case
            when layout = 'finra' then source_last_update_date is null
            else stated_week_ending is null
        end as is_invalid_date
    from dates_validated
),

rows_checked as (
    select
        *,
        field_count <> expected_field_count as is_malformed
    from rows_dated
),

reasons_listed as (
    select
        *,
        case
            when is_malformed then 'MALFORMED_ROW'
            else concat_ws(
                ',',
                case when coalesce(shares_text, '') = '' then 'MISSING_SHARES' end,
                case when coalesce(trades_text, '') = '' then 'MISSING_TRADES' end,
                case
                    when coalesce(shares_text, '') <> '' and total_shares is null
                        then 'INVALID_SHARES'
                end,
                case
                    when coalesce(trades_text, '') <> '' and total_trades is null
                        then 'INVALID_TRADES'
                end,
                case when is_invalid_date then 'INVALID_DATE' end,
                case
                    when
                        not is_invalid_date and (
                            {{ days_since_friday('week_ending') }} <> 0
                            or week_ending <> capture_week_ending
                        )
                        then 'INVALID_WEEK_ENDING'
                end,
                case when tier is null then 'INVALID_TIER' end,
                case when tier <> capture_tier then 'TIER_MISMATCH' end,
                case when coalesce(symbol, '') = '' then 'EMPTY_SYMBOL' end,
                case
                    when coalesce(symbol, '') <> '' and not {{ full_match('symbol', '[A-Z0-9./-]+') }}
                        then 'INVALID_SYMBOL'
                end,
                case when length(symbol) > 20 then 'SYMBOL_TOO_LONG' end,
                case when coalesce(mpid, '') = '' then 'EMPTY_MPID' end,
                case when length(mpid) > 20 then 'MPID_TOO_LONG' end,
                case when total_shares < 0 then 'NEGATIVE_SHARES' end,
                case when total_trades < 0 then 'NEGATIVE_TRADES' end,
                case when total_shares = 0 and total_trades = 0 then 'ZERO_VOLUME' end
            )
        end as row_reason_codes
    from rows_checked
),

duplicates_flagged as (
    select
        *,
        case
            when row_reason_codes = ''
                then row_number() over (
                    partition by capture_id, row_reason_codes = '', symbol, mpid
                    order by line_number
                )
        end as key_occurrence
    from reasons_listed
),

final as (
    select
        capture_id,
        line_number,
        capture_week_ending as week_ending,
        capture_tier as tier,
        source_last_update_date,
        symbol,
        issue_name,
        mpid,
        venue_name,
        total_shares,
        total_trades,
        case
            when key_occurrence > 1 then 'DUPLICATE_KEY'
            else row_reason_codes
        end as reason_codes,
        case
            when key_occurrence > 1 then 'DUPLICATE_KEY'
            else nullif({{ dbt.split_part('row_reason_codes', "','", 1) }}, '')
        end as reason_code,
        row_reason_codes = '' and coalesce(key_occurrence, 1) = 1 as is_accepted
    from duplicates_flagged
)

select * from final
