"""Edge cases of the vendor's data ("exact at the edges"): keys the API left empty, or named
without listing them. Each worked out by hand; every test adds a few calls to the 12 of
``raw_fixture`` (``vendor_calls.py``).
"""

from __future__ import annotations

import duckdb
import pytest

from transforms import DuckDBExecutor, TransformCheckError, run_transforms

from .conftest import fetch
from .vendor_calls import D12, add, call, ts

# --- 7. keys the API left empty --------------------------------------------------------------


def test_empty_client_and_center_are_the_unknown_member(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    # u01: ClientId "" and CenterId " "; u02: client K1 but CenterId "". Without a center the
    # pipeline reads their times in its default zone (UTC here): 16:00 and 17:00 on 03-12.
    add(
        raw_db,
        call("u01", "2024-03-12 16:00:00", client="", center=" ", agent="dora", talk=30),
        call("u02", "2024-03-12 17:00:00", center="", agent="dora", ring=9),
    )
    # "" used to reach the marts as a client and a center of its own
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.errors == []
    # staging: empty text is NULL, as for every other text field
    assert fetch(
        raw_db,
        "SELECT call_id, client_id, center_id FROM staging.stg_calls "
        "WHERE call_id LIKE 'u%' ORDER BY 1",
    ) == [("u01", None, None), ("u02", "K1", None)]
    # the marts: the calls stay, under the unknown member of each dimension
    assert fetch(
        raw_db,
        "SELECT call_id, client_id, center_id FROM analytics.fct_calls "
        "WHERE call_id LIKE 'u%' ORDER BY 1",
    ) == [("u01", "(unknown)", "(unknown)"), ("u02", "K1", "(unknown)")]
    assert fetch(
        raw_db,
        "SELECT client_id, client_name, center_id FROM analytics.dim_clients ORDER BY 1",
    ) == [
        ("(unknown)", "Unknown client", "(unknown)"),
        ("K1", "Windy HVAC", "C1"),
        ("K2", "Bengal Tea", "C2"),
    ]
    assert fetch(raw_db, "SELECT center_id, center_name FROM analytics.dim_centers ORDER BY 1") == [
        ("(unknown)", "Unknown center"),
        ("C1", "Chicago Center"),
        ("C2", "Kolkata Center"),
    ]
    # u01 answered (talk 30, ring 5 -> within SL); u02 answered by dora with ring 9, no talk
    assert fetch(
        raw_db,
        "SELECT client_id, center_id, local_date, direction, calls_offered, calls_answered, "
        "calls_within_service_level FROM analytics.fct_call_metrics_daily "
        "WHERE local_date = '2024-03-12' ORDER BY 1, 2",
    ) == [
        ("(unknown)", "(unknown)", D12, "Incoming", 1, 1, 1),
        ("K1", "(unknown)", D12, "Incoming", 1, 1, 1),
    ]
    assert fetch(
        raw_db,
        "SELECT center_id, interval_start_local, direction, calls_offered "
        "FROM analytics.fct_call_metrics_interval WHERE center_id = '(unknown)' ORDER BY 2",
    ) == [
        ("(unknown)", ts("2024-03-12 16:00"), "Incoming", 1),
        ("(unknown)", ts("2024-03-12 17:00"), "Incoming", 1),
    ]
    assert fetch(
        raw_db,
        "SELECT agent, center_id, local_date, calls_handled FROM analytics.fct_agent_metrics_daily "
        "WHERE agent = 'dora'",
    ) == [("dora", "(unknown)", D12, 2)]
    # nothing lost: 12 fixture calls + 2
    assert fetch(raw_db, "SELECT sum(calls_offered) FROM analytics.fct_call_metrics_daily") == [
        (14,)
    ]
    # and nothing silent: the vendor's empty keys are a warning naming each call
    assert [(c.check_name, c.failing_rows) for c in result.warnings] == [
        ("missing_client_or_center", 2)
    ]
    assert fetch(
        raw_db,
        "SELECT severity, call_id, details FROM analytics.dq_findings "
        "WHERE check_name = 'missing_client_or_center' ORDER BY 2",
    ) == [
        ("warn", "u01", "ClientId and CenterId empty: counted under '(unknown)'"),
        ("warn", "u02", "CenterId empty: counted under '(unknown)'"),
    ]


def test_unlisted_client_and_center_get_dimension_rows_and_a_warning(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    # u04: ClientId K9 and CenterId C9, listed by neither /api/clients nor /api/centers (the
    # pipeline reads it in its default zone, UTC here). u05: listed client K1, unlisted C9.
    add(
        raw_db,
        call("u04", "2024-03-12 16:00:00", client="K9", center="C9", agent="dora", talk=30),
        call("u05", "2024-03-12 17:00:00", client="K1", center="C9", agent="dora", ring=9),
    )
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.errors == []
    assert fetch(raw_db, "SELECT center_id, center_name FROM analytics.dim_centers ORDER BY 1") == [
        ("(unknown)", "Unknown center"),
        ("C1", "Chicago Center"),
        ("C2", "Kolkata Center"),
        ("C9", "Unlisted center"),
    ]
    assert fetch(
        raw_db, "SELECT client_id, client_name, center_id FROM analytics.dim_clients ORDER BY 1"
    ) == [
        ("(unknown)", "Unknown client", "(unknown)"),
        ("K1", "Windy HVAC", "C1"),
        ("K2", "Bengal Tea", "C2"),
        ("K9", "Unlisted client", "C9"),
    ]
    # every call joins both dimensions: 12 fixture calls + 2, none lost by the joins
    assert fetch(
        raw_db,
        "SELECT count(*) FROM analytics.fct_calls "
        "JOIN analytics.dim_centers USING (center_id) JOIN analytics.dim_clients USING (client_id)",
    ) == [(14,)]
    assert [(c.check_name, c.failing_rows) for c in result.warnings] == [
        ("unlisted_client_or_center", 2)
    ]
    assert fetch(
        raw_db,
        "SELECT severity, call_id, details FROM analytics.dq_findings "
        "WHERE check_name = 'unlisted_client_or_center' ORDER BY 2",
    ) == [
        ("warn", "u04", "ClientId K9 and CenterId C9 not listed by the API"),
        ("warn", "u05", "CenterId C9 not listed by the API"),
    ]


def test_an_unlisted_clients_center_is_the_one_most_of_its_calls_name(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    """K8 (not listed by /api/clients) has two calls at C2 and one at C1: its row names C2. K7
    has one call at each: a tie, which the first center in sort order wins (C1). K6's only call
    has no CenterId: its call counts under '(unknown)', and so does its row."""
    add(
        raw_db,
        call("v01", "2024-03-12 16:00:00", client="K8", center="C1"),
        call("v02", "2024-03-12 16:10:00", client="K8", center="C2"),
        call("v03", "2024-03-12 16:20:00", client="K8", center="C2"),
        call("v04", "2024-03-12 16:30:00", client="K7", center="C2"),
        call("v05", "2024-03-12 16:40:00", client="K7", center="C1"),
        call("v06", "2024-03-12 16:50:00", client="K6", center=None),
    )
    run_transforms(DuckDBExecutor(raw_db))
    assert fetch(
        raw_db,
        "SELECT client_id, client_name, center_id FROM analytics.dim_clients "
        "WHERE client_id IN ('K6', 'K7', 'K8') ORDER BY 1",
    ) == [
        ("K6", "Unlisted client", "(unknown)"),
        ("K7", "Unlisted client", "C1"),
        ("K8", "Unlisted client", "C2"),
    ]


def test_null_client_and_center_do_not_fail_the_refresh(
    raw_db: duckdb.DuckDBPyConnection,
) -> None:
    # u03: ClientId and CenterId null (it used to fail not_null_* on the daily, interval and
    # agent marts: TransformCheckError). 16:00 UTC on 03-12, answered by dora.
    add(raw_db, call("u03", "2024-03-12 16:00:00", client=None, center=None, agent="dora"))
    result = run_transforms(DuckDBExecutor(raw_db))
    assert result.errors == []
    assert fetch(
        raw_db,
        "SELECT client_id, center_id, local_date, calls_offered, calls_answered "
        "FROM analytics.fct_call_metrics_daily WHERE local_date = '2024-03-12'",
    ) == [("(unknown)", "(unknown)", D12, 1, 1)]
    # 12 fixture calls + u03, in fct_calls and in the daily mart's total
    assert fetch(
        raw_db,
        "SELECT (SELECT count(*) FROM analytics.fct_calls), "
        "(SELECT sum(calls_offered) FROM analytics.fct_call_metrics_daily)",
    ) == [(13, 13)]


def test_other_null_grain_keys_still_fail_the_run(raw_db: duckdb.DuckDBPyConnection) -> None:
    # The unknown member is for the two keys the API may leave empty; a call without a local
    # start time (the pipeline always sets one) still makes the daily grain an error.
    raw_db.execute("UPDATE hostedsuite.calls SET start_time_local = NULL WHERE id = 'c08'")
    with pytest.raises(TransformCheckError, match=r"not_null_fct_call_metrics_daily \(1 rows\)"):
        run_transforms(DuckDBExecutor(raw_db))
