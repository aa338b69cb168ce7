{#
    The rejected lines the weekly report lists and counts: those of the latest published
    capture of each (week, tier). Not a `<mart>_latest` view by name on purpose: the
    publication gate requires rows in every mart such a view serves, and a capture may have
    no reject.
#}
{{ latest_rows(ref('finra_otc_transparency_rejects')) }}
