{{ latest_rows(ref('finra_otc_transparency_research_snapshot')) }}
