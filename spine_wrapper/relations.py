"""The one registry of the dbt relations the wrapper reads, schema-qualified where it queries.

The dbt project defines them (models/); nothing else in the wrapper types a model's name.
tests/python/test_relations.py holds this registry to the project's manifest: every name is a
model of that schema, SERVED_MARTS are exactly the marts a `_latest` view reads (what the
macro `served_marts()` finds), CAPTURE_KEYED_MARTS every mart with a capture_id column, and
PUBLIC_TABLES the exposures' public names (DOMAIN.md §7).
"""

from __future__ import annotations

MARTS_SCHEMA = "main"  # the marts and their `_latest` views (dbt's target schema)
LATEST_SUFFIX = "_latest"

# The capture-keyed marts a `<mart>_latest` view serves (the newest published capture of
# every (week, tier)): a published capture with accepted rows has rows in each.
SERVED_MARTS = (
    "finra_otc_transparency_symbol_summary",
    "finra_otc_transparency_venue_share",
    "finra_otc_transparency_symbol_venue_share",
    "finra_otc_transparency_symbol_concentration",
    "finra_otc_transparency_symbol_rolling_6w",
    "finra_otc_transparency_liquidity_score",
    "finra_otc_transparency_research_snapshot",
)
RECONCILIATION = "finra_otc_transparency_reconciliation"
REJECTS = "finra_otc_transparency_rejects"
CAPTURES = "finra_otc_transparency_captures"  # one row per capture, its current status

CAPTURE_KEYED_MARTS = (*SERVED_MARTS, RECONCILIATION, REJECTS)
# What `spine-dbt export` writes: each served mart's `_latest` view, then the tables themselves.
PUBLIC_TABLES = (
    *(mart + LATEST_SUFFIX for mart in SERVED_MARTS),
    RECONCILIATION,
    REJECTS,
    CAPTURES,
)

# Schema-qualified relations the ledger queries.
CAPTURES_MART = f"{MARTS_SCHEMA}.{CAPTURES}"
REJECTS_MART = f"{MARTS_SCHEMA}.{REJECTS}"
CAPTURE_STATUS = "staging.stg_finra__captures"  # the one definition of a capture's status
LATEST_CAPTURES = "intermediate.int_captures_latest"
CAPTURE_WINDOWS = "intermediate.int_capture_windows_resolved"
TEST_RESULTS = "raw.test_results"  # written by the dbt macro record_build_outcome

# The report's models (models/reports, `+schema: reports` in dbt_project.yml).
REPORTS_SCHEMA = "reports"
REPORT_MODELS_SELECTOR = "path:models/reports"  # dbt --select of every report model
REPORT_TIER_WEEK = f"{REPORTS_SCHEMA}.rpt_tier_week_summary"
REPORT_VENUE_MOVERS = f"{REPORTS_SCHEMA}.rpt_venue_share_movers"
REPORT_CONCENTRATION = f"{REPORTS_SCHEMA}.rpt_symbol_concentration"
REPORT_BANDS = f"{REPORTS_SCHEMA}.rpt_concentration_bands"
REPORT_SYMBOL_MOVERS = f"{REPORTS_SCHEMA}.rpt_symbol_movers"
REPORT_REJECTS_BY_CODE = f"{REPORTS_SCHEMA}.rpt_rejects_by_code"
REPORT_REJECTED_LINES = f"{REPORTS_SCHEMA}.rpt_rejected_lines"
REPORT_COMPLETENESS = f"{REPORTS_SCHEMA}.rpt_week_completeness"
REPORT_MODELS = (
    REPORT_TIER_WEEK,
    REPORT_VENUE_MOVERS,
    REPORT_CONCENTRATION,
    REPORT_BANDS,
    REPORT_SYMBOL_MOVERS,
    REPORT_REJECTS_BY_CODE,
    REPORT_REJECTED_LINES,
    REPORT_COMPLETENESS,
)


def in_marts(name: str) -> str:
    """A mart or view of the marts schema, qualified: `main.<name>`."""
    return f"{MARTS_SCHEMA}.{name}"
