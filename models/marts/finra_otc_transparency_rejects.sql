with

validated_rows as (
    select
        capture_id,
        week_ending,
        tier,
        line_number,
        reason_code,
        reason_codes
    from {{ ref('stg_finra__rows_validated') }}
    where {{ captures_in_build(week_column='week_ending') }} and reason_code is not null
),

raw_lines as (
    select
        capture_id,
        line_number,
        raw_line
    from {{ ref('stg_finra__raw_lines') }}
    where {{ captures_in_build(week_column='capture_week_ending') }}
),

captures as (
    select
        capture_id,
        captured_at,
        source_file
    from {{ ref('stg_finra__captures') }}
    where {{ captures_in_build() }}
),

final as (
    select
        validated_rows.capture_id,
        captures.captured_at,
        validated_rows.week_ending,
        validated_rows.tier,
        captures.source_file,
        validated_rows.line_number,
        raw_lines.raw_line,
        validated_rows.reason_code,
        validated_rows.reason_codes
    from validated_rows
    inner join captures on validated_rows.capture_id = captures.capture_id
    inner join raw_lines
        on
            validated_rows.capture_id = raw_lines.capture_id
            and validated_rows.line_number = raw_lines.line_number
)

select * from final
