{#
    The concentration bands of the weekly report, on the 0–1 HHI scale (the usual 1,500 and
    2,500 points on 10,000): how many symbols of a (week, tier) fall in each band and which
    part of the tier's shares they carry. Every band has a row, empty bands included.
#}

with

symbol_concentrations as (
    select
        capture_id,
        week_ending,
        tier,
        hhi,
        total_volume
    from {{ ref('rpt_symbol_concentration') }}
),

bands as (
    {# the one home of the bands: [hhi_from, hhi_to), the last one closed at 1 #}
    select
        'unconcentrated' as hhi_band,
        1 as band_order,
        cast(0.0 as double) as hhi_from,
        cast(0.15 as double) as hhi_to
    union all
    select
        'moderate' as hhi_band,
        2 as band_order,
        cast(0.15 as double) as hhi_from,
        cast(0.25 as double) as hhi_to
    union all
    select
        'high' as hhi_band,
        3 as band_order,
        cast(0.25 as double) as hhi_from,
        cast(1.0 as double) as hhi_to
),

tier_weeks as (
    select
        capture_id,
        week_ending,
        tier,
        sum(total_volume) as tier_volume
    from symbol_concentrations
    group by capture_id, week_ending, tier
),

bands_filled as (
    select
        tier_weeks.capture_id,
        tier_weeks.week_ending,
        tier_weeks.tier,
        tier_weeks.tier_volume,
        bands.hhi_band,
        bands.band_order,
        bands.hhi_from,
        bands.hhi_to
    from tier_weeks
    cross join bands
),

band_symbols as (
    select
        bands_filled.capture_id,
        bands_filled.hhi_band,
        count(symbol_concentrations.hhi) as symbol_count,
        coalesce(sum(symbol_concentrations.total_volume), 0) as total_volume
    from bands_filled
    left join symbol_concentrations
        on
            bands_filled.capture_id = symbol_concentrations.capture_id
            and bands_filled.hhi_from <= symbol_concentrations.hhi
            and (bands_filled.hhi_to > symbol_concentrations.hhi or bands_filled.hhi_to = 1.0)
    group by bands_filled.capture_id, bands_filled.hhi_band
),

final as (
    select
        bands_filled.capture_id,
        bands_filled.week_ending,
        bands_filled.tier,
        bands_filled.hhi_band,
        bands_filled.band_order,
        bands_filled.hhi_from,
        bands_filled.hhi_to,
        cast(band_symbols.symbol_count as {{ dbt.type_bigint() }}) as symbol_count,
        cast(band_symbols.total_volume as {{ dbt.type_bigint() }}) as total_volume,
        case
            when bands_filled.tier_volume > 0
                then cast(band_symbols.total_volume as double) / cast(bands_filled.tier_volume as double)
            else 0.0
        end as tier_volume_share
    from bands_filled
    inner join band_symbols
        on
            bands_filled.capture_id = band_symbols.capture_id
            and bands_filled.hhi_band = band_symbols.hhi_band
)

select * from final
