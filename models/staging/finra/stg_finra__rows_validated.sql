{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
        partition_by='capture_id' if target.type == 'spark' else none,
        unique_key='capture_id',
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}

{#
    Every data line of the captures being built, typed and validated (DOMAIN.md §2). Each line
    is a venue row, a FINRA total (summaryTypeCode ATS_W_SMBL, ATS_W_FIRM, OTC_W_SMBL,
    OTC_W_FIRM: FINRA's own control totals, reconciled in a mart) or a reject. A line gets all
    the reason codes that apply (in the order DOMAIN.md lists them); the first is its primary
    code; a line with none is accepted. The loader parsed the CSV or JSON syntax, so fields
    arrive without quotes; here they are trimmed and typed. Symbols keep their case (`TpC` is
    not `TPC`); MPIDs are upper-cased. The tier lookup is the one join: a spelling is only
    meaningful through the tier_aliases seed.
#}

{#- Quantities above this are INVALID (DOMAIN.md §2), so that no BIGINT sum can overflow. -#}
{%- set max_quantity = 10000000000000 %}

{#- The raw columns the validation reads (every line's, and the duplicate candidates'): all
    the field columns but the publication date, which is read apart (raw_publication_dates). -#}
{%- set raw_columns = ['capture_id', 'line_number', 'field_count']
    + finra_field_columns() | reject('equalto', 'initial_published_date_raw') | list %}

with

raw_rows as (
    select
        {{ raw_columns | join(',\n        ') }}
    from {{ source('finra', 'finra_rows') }}
    where {{ captures_in_build(week_column='capture_week_ending') }}
),

{# Only the columns a file's publication week needs (rule 3 below), read apart from the
    rows above: a second reference to the wide typed rows would make the engine materialize
    all of them (DuckDB spills gigabytes at FINRA scale) just for one date per line. #}
raw_publication_dates as (
    select
        capture_id,
        initial_published_date_raw,
        last_update_date_raw
    from {{ source('finra', 'finra_rows') }}
    where {{ captures_in_build(week_column='capture_week_ending') }}
),

captures as (
    select
        capture_id,
        week_ending as capture_week_ending,
        tier as capture_tier,
        week_source,
        expected_field_count
    from {{ ref('stg_finra__captures') }}
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

publication_delays as (
    select
        tier,
        delay_weeks
    from {{ ref('publication_delays') }}
),

publication_texts as (
    {#- each line's publication date: initialPublishedDate where the file has the column; its
        distinct texts, so that a file's few dates are parsed once, not once per line -#}
    select distinct
        raw_publication_dates.capture_id,
        captures.capture_tier,
        case
            when raw_publication_dates.initial_published_date_raw is not null
                then trim(raw_publication_dates.initial_published_date_raw)
            else trim(raw_publication_dates.last_update_date_raw)
        end as published_text
    from raw_publication_dates
    inner join captures on raw_publication_dates.capture_id = captures.capture_id
    where captures.week_source = 'publication_delay'
),

publication_dates as (
    select
        capture_id,
        capture_tier,
        {{ parsed_iso_date('published_text') }} as published_date
    from publication_texts
),

publication_weeks as (
    {#- DOMAIN.md §1.3 rule 3, the SQL twin of the loader's (formats.publication_week): a
        file's initial publication is its earliest publication date; its week is the last
        Friday strictly before it, minus the tier's delay. Should the two ever disagree, every
        row of the capture is INVALID_WEEK_ENDING and the capture fails, never published in a
        wrong week. -#}
    select
        publication_dates.capture_id,
        cast({{ dbt.dateadd(
            'day',
            '-7 * max(publication_delays.delay_weeks)',
            week_ending_from_last_update('min(publication_dates.published_date)'),
        ) }} as date) as publication_week_ending
    from publication_dates
    inner join publication_delays on publication_dates.capture_tier = publication_delays.tier
    group by publication_dates.capture_id
),

{# The duplicate check (DUPLICATE_KEY) in two steps, because a window over every wide row
    costs more than all the rest of this model (DuckDB sorts, and spills, the whole rows): a
    narrow pass hashes each line's key, read apart from the rows above like the publication
    dates; only the lines whose key hash repeats (a few, and every line of a repeated key
    among them) are validated a second time (the same chain, below) and numbered exactly.
    Every other accepted line is the only one of its key. The key is the chain's own
    (macros/venue_key.sql, fields trimmed as in rows_trimmed). #}
{%- set line_key_hash = key_hash([
    'capture_id',
    'trim(symbol_raw)',
    venue_type('upper(trim(summary_type_raw))'),
    venue_key('upper(trim(mpid_raw))', 'venue_name', 'trim(firm_crd_raw)', 'upper(trim(summary_type_raw))'),
]) %}

raw_keys as (
    select
        capture_id,
        symbol_raw,
        summary_type_raw,
        mpid_raw,
        firm_crd_raw,
        venue_name
    from {{ source('finra', 'finra_rows') }}
    where {{ captures_in_build(week_column='capture_week_ending') }}
),

repeated_key_hashes as (
    select {{ line_key_hash }} as key_hash
    from raw_keys
    group by {{ line_key_hash }}
    having count(*) > 1
),

raw_candidate_rows as (
    select
        {{ raw_columns | join(',\n        ') }}
    from {{ source('finra', 'finra_rows') }}
    where
        {{ captures_in_build(week_column='capture_week_ending') }}
        and {{ line_key_hash }} in (select repeated_key_hashes.key_hash from repeated_key_hashes)
),

{# The validation chain, of every line (rows_) and again of the duplicate candidates (its
    CTEs are not indented under the loop). #}
-- sqlfluff:indentation:template_blocks_indent:false
{% for rows, raw in [('rows', 'raw_rows'), ('candidates', 'raw_candidate_rows')] %}
{{ rows }}_trimmed as (
    select
        raw_rows.capture_id,
        raw_rows.line_number,
        raw_rows.field_count,
        captures.capture_week_ending,
        captures.capture_tier,
        captures.week_source,
        captures.expected_field_count,
        raw_rows.issue_name,
        raw_rows.venue_name,
        trim(raw_rows.tier_raw) as tier_text,
        trim(raw_rows.week_start_raw) as week_start_text,
        trim(raw_rows.week_ending_raw) as week_ending_text,
        trim(raw_rows.last_update_date_raw) as last_update_date_text,
        upper(trim(raw_rows.summary_type_raw)) as summary_type,
        trim(raw_rows.symbol_raw) as symbol,
        upper(trim(raw_rows.mpid_raw)) as mpid_text,
        trim(raw_rows.firm_crd_raw) as firm_crd,
        trim(raw_rows.shares_raw) as shares_text,
        trim(raw_rows.trades_raw) as trades_text
    from {{ raw }} as raw_rows
    inner join captures on raw_rows.capture_id = captures.capture_id
),

{{ rows }}_typed as (
    select
        rows_trimmed.*,
        tier_keys.tier,
        case
            when {{ full_match('rows_trimmed.shares_text', '-?[0-9]{1,18}') }}
                then case
                    when abs(cast(rows_trimmed.shares_text as bigint)) <= {{ max_quantity }}
                        then cast(rows_trimmed.shares_text as bigint)
                end
        end as total_shares,
        case
            when {{ full_match('rows_trimmed.trades_text', '-?[0-9]{1,18}') }}
                then case
                    when abs(cast(rows_trimmed.trades_text as bigint)) <= {{ max_quantity }}
                        then cast(rows_trimmed.trades_text as bigint)
                end
        end as total_trades,
        {{ parsed_iso_date('rows_trimmed.last_update_date_text') }} as source_last_update_date,
        {{ parsed_iso_date('rows_trimmed.week_ending_text') }} as stated_week_ending,
        {{ parsed_iso_date('rows_trimmed.week_start_text') }} as stated_week_start,
        {{ venue_type('rows_trimmed.summary_type') }} as venue_type,
        coalesce(rows_trimmed.summary_type in ('ATS_W_SMBL', 'ATS_W_FIRM', 'OTC_W_SMBL', 'OTC_W_FIRM'), false)
            as is_finra_total,
        {{ is_symbol_total('rows_trimmed.summary_type') }} as is_symbol_total
    from {{ rows }}_trimmed as rows_trimmed
    left join tier_keys on {{ alias_key('rows_trimmed.tier_text') }} = tier_keys.alias_key
),

{{ rows }}_placed as (
    select
        rows_typed.*,
        publication_weeks.publication_week_ending
    from {{ rows }}_typed as rows_typed
    left join publication_weeks on rows_typed.capture_id = publication_weeks.capture_id
),

{{ rows }}_keyed as (
    select
        *,
        {{ venue_key('mpid_text', 'venue_name', 'firm_crd', 'summary_type') }} as mpid,
        {#- Each row's own week where its file states one per row (rules 1 and 2, and the
            previous-Friday rule); a week found from the publication date is the file's. -#}
        case week_source
            when 'week_start_date'
                then cast({{ dbt.dateadd('day', 4, 'stated_week_start') }} as date)
            when 'week_ending_column' then stated_week_ending
            when 'previous_friday' then {{ week_ending_from_last_update('source_last_update_date') }}
            when 'publication_delay' then publication_week_ending
        end as row_week_ending
    from {{ rows }}_placed
),

{{ rows }}_reasoned as (
    select
        *,
        case
            when field_count <> expected_field_count then 'MALFORMED_ROW'
            else concat_ws(
                ',',
                case when lower(coalesce(shares_text, '')) in ('', 'null') then 'MISSING_SHARES' end,
                case when lower(coalesce(trades_text, '')) in ('', 'null') then 'MISSING_TRADES' end,
                case
                    when lower(coalesce(shares_text, '')) not in ('', 'null') and total_shares is null
                        then 'INVALID_SHARES'
                end,
                case
                    when lower(coalesce(trades_text, '')) not in ('', 'null') and total_trades is null
                        then 'INVALID_TRADES'
                end,
                {#- a date field that is not a date (empty included); a valid date of the
                    wrong weekday or week is INVALID_WEEK_START / INVALID_WEEK_ENDING -#}
                case
                    when
                        last_update_date_text is not null and source_last_update_date is null
                        or week_source = 'week_start_date' and stated_week_start is null
                        or week_source = 'week_ending_column' and stated_week_ending is null
                        then 'INVALID_DATE'
                end,
                case
                    when
                        week_source = 'week_start_date' and (
                            {{ days_since_friday('stated_week_start') }} <> 3
                            or row_week_ending <> capture_week_ending
                        )
                        then 'INVALID_WEEK_START'
                end,
                case
                    when
                        week_source in ('week_ending_column', 'previous_friday', 'publication_delay') and (
                            {{ days_since_friday('row_week_ending') }} <> 0
                            or row_week_ending <> capture_week_ending
                        )
                        then 'INVALID_WEEK_ENDING'
                end,
                case
                    when summary_type <> '' and venue_type is null then 'INVALID_SUMMARY_TYPE'
                end,
                case when tier is null then 'INVALID_TIER' end,
                case when tier <> capture_tier then 'TIER_MISMATCH' end,
                case
                    when coalesce(symbol, '') = '' and (not is_finra_total or is_symbol_total)
                        then 'EMPTY_SYMBOL'
                end,
                case
                    when coalesce(symbol, '') <> '' and not {{ full_match('symbol', '[A-Za-z0-9./-]+') }}
                        then 'INVALID_SYMBOL'
                end,
                case when length(symbol) > 20 then 'SYMBOL_TOO_LONG' end,
                case when mpid is null and not is_symbol_total then 'EMPTY_MPID' end,
                case when length(mpid) > 20 then 'MPID_TOO_LONG' end,
                case when total_shares < 0 then 'NEGATIVE_SHARES' end,
                case when total_trades < 0 then 'NEGATIVE_TRADES' end,
                case when total_shares = 0 and total_trades = 0 then 'ZERO_VOLUME' end
            )
        end as row_reason_codes
    from {{ rows }}_keyed
),

{% endfor %}

duplicate_lines as (
    {#- the second and later accepted lines of a key, by line number -#}
    select
        capture_id,
        line_number
    from (
        select
            capture_id,
            line_number,
            row_number() over (
                partition by capture_id, symbol, venue_type, mpid
                order by line_number
            ) as key_occurrence
        from candidates_reasoned
        where row_reason_codes = '' and not is_finra_total
    ) as candidates_numbered
    where key_occurrence > 1
),

duplicates_flagged as (
    select
        rows_reasoned.*,
        rows_reasoned.row_reason_codes = ''
        and not rows_reasoned.is_finra_total
        and (rows_reasoned.capture_id, rows_reasoned.line_number) in (
            select
                duplicate_lines.capture_id,
                duplicate_lines.line_number
            from duplicate_lines
        ) as is_duplicate
    from rows_reasoned
),

final as (
    select
        capture_id,
        line_number,
        capture_week_ending as week_ending,
        capture_tier as tier,
        source_last_update_date,
        summary_type,
        venue_type,
        symbol,
        issue_name,
        mpid,
        venue_name,
        total_shares,
        total_trades,
        case
            when is_duplicate then 'DUPLICATE_KEY'
            else row_reason_codes
        end as reason_codes,
        case
            when is_duplicate then 'DUPLICATE_KEY'
            else nullif({{ dbt.split_part('row_reason_codes', "','", 1) }}, '')
        end as reason_code,
        row_reason_codes = '' and not is_finra_total and not is_duplicate as is_accepted,
        row_reason_codes = '' and is_finra_total as is_finra_total
    from duplicates_flagged
)

select * from final
