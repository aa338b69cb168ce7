{{ latest_rows(ref('finra_otc_transparency_symbol_summary')) }}
