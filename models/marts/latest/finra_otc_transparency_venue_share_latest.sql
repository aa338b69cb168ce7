{{ latest_rows(ref('finra_otc_transparency_venue_share')) }}
