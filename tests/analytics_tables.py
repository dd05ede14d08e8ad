"""Which ``analytics`` tables the equality tests compare (incremental vs full rebuild,
PostgreSQL vs DuckDB, lake vs DuckDB), written out here rather than read from the code under
test: a comparison reads the tables that exist, and a table missing from this list, or listed
but not built, fails the test instead of silently dropping out of it.
"""

from __future__ import annotations

from collections.abc import Iterable

# Every table of the marts and checks, with the columns that order its rows for a row-by-row
# comparison (its grain).
COMPARED: dict[str, tuple[str, ...]] = {
    "fct_calls": ("call_id",),
    "fct_call_interactions": ("call_id", "seq"),
    "fct_hold_segments": ("call_id", "hold_seq"),
    "dim_centers": ("center_id",),
    "dim_clients": ("client_id",),
    "fct_call_metrics_daily": ("client_id", "center_id", "local_date", "direction"),
    "fct_call_metrics_interval": (
        "center_id",
        "interval_start_local",
        "interval_start_utc",
        "direction",
    ),
    "fct_staffing_interval": ("center_id", "interval_start_local", "interval_start_utc"),
    "fct_agent_metrics_daily": ("agent", "center_id", "local_date"),
    "metric_settings": ("setting_name",),
    "dq_findings": ("check_name", "record_key", "call_id"),
    "dq_summary": ("check_name",),
}
# Columns that differ between two equal refreshes by design: when the checks ran.
LEFT_OUT: dict[str, set[str]] = {"dq_summary": {"checked_at"}}
# The runs' own bookkeeping, different in two equal warehouses by design (when and how each
# refreshed, loaded, was verified or published): not compared.
BOOKKEEPING = frozenset({"transform_state", "load_health", "completeness", "lake_publication"})


def compared_tables(found: Iterable[str]) -> list[str]:
    """The tables to compare among those ``found`` in a warehouse's ``analytics`` schema;
    fails unless they are exactly ``COMPARED``."""
    tables = set(found) - BOOKKEEPING
    assert tables == set(COMPARED), (
        f"analytics tables not in COMPARED: {sorted(tables - set(COMPARED))}; "
        f"in COMPARED but not built: {sorted(set(COMPARED) - tables)}"
    )
    return sorted(tables)


def compared_columns(table: str, columns: Iterable[str]) -> list[str]:
    return [name for name in columns if name not in LEFT_OUT.get(table, set())]
