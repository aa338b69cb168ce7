{{ latest_rows(ref('finra_otc_transparency_liquidity_score')) }}
