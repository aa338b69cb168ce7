{#-
    The canonical tiers, for what Jinja checks before any seed can be read (var `tiers`, capture
    ids). The seeds publication_delays (one row per tier) and tier_aliases (every spelling) say
    the same for SQL, and spine_wrapper/tiers.py reads TIERS from publication_delays;
    tests/python/test_parity.py holds this list, the seeds and the accepted_values tests to it.
-#}
{% macro canonical_tiers() %}
    {{- return(['NMS_TIER_1', 'NMS_TIER_2', 'OTC']) -}}
{% endmacro %}
