"""Each setting changes the marts exactly as call-metrics.md defines (values worked by hand)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import duckdb
import pytest

from transforms import DuckDBExecutor, MetricSettings, run_transforms

from .conftest import expect, fetch

D10 = date(2024, 3, 10)


def daily(conn: duckdb.DuckDBPyConnection, columns: str) -> list[tuple[Any, ...]]:
    return fetch(
        conn,
        f"SELECT client_id, local_date, direction, {columns} "
        "FROM analytics.fct_call_metrics_daily ORDER BY ALL",
    )


def run(conn: duckdb.DuckDBPyConnection, **settings: Any) -> None:
    run_transforms(DuckDBExecutor(conn), settings=MetricSettings(**settings))


def sl_rows(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows = daily(
        conn,
        "calls_abandoned, calls_short_abandoned, calls_within_service_level, service_level_pct",
    )
    return {(r[0], r[2]): r[3:] for r in rows if r[1] == D10}


def test_service_level_threshold(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 25 s: c02 (ring 25) joins c05 and c07 -> K1 3 within of (3 answered + 1 abandoned)
    run(raw_db, service_level_threshold_seconds=25)
    assert sl_rows(raw_db)[("K1", "Incoming")] == (1, 1, 3, 75.0)
    # 15 s: c07 (ring 20) drops out -> 1/4; K2 (rings 12, 2) unchanged 2/3
    run(raw_db, service_level_threshold_seconds=15)
    rows = sl_rows(raw_db)
    assert rows[("K1", "Incoming")] == (1, 1, 1, 25.0)
    assert rows[("K2", "Incoming")] == expect([(1, 1, 2, 200 / 3)])[0]


def test_short_abandon_threshold(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 10 s: k02 (ring 6) becomes a short abandon -> K2 SL 2/(2+0)
    run(raw_db, short_abandon_threshold_seconds=10)
    assert sl_rows(raw_db)[("K2", "Incoming")] == (0, 2, 2, 100.0)
    # 2 s: c03 (ring 3) becomes abandoned -> K1 SL 2/(3+2)
    run(raw_db, short_abandon_threshold_seconds=2)
    assert sl_rows(raw_db)[("K1", "Incoming")] == (2, 0, 2, 40.0)


@pytest.mark.parametrize(
    ("formula", "k1", "k2"),
    [
        ("answered_and_abandoned", 50.0, 200 / 3),  # 2/(3+1), 2/(2+1)
        ("offered", 40.0, 50.0),  # 2/5, 2/4: short abandons count
        ("answered", 200 / 3, 100.0),  # 2/3, 2/2
    ],
)
def test_service_level_formula(
    raw_db: duckdb.DuckDBPyConnection, formula: str, k1: float, k2: float
) -> None:
    run(raw_db, service_level_formula=formula)
    rows = sl_rows(raw_db)
    assert rows[("K1", "Incoming")][3] == round(k1, 6)
    assert rows[("K2", "Incoming")][3] == round(k2, 6)
    assert rows[("K1", "Outgoing")][3] is None  # incoming-only measure


def test_repeat_call_window(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 192 h: c08 comes 191 h 5 min after c02 -> c02 is now a repeat call
    run(raw_db, repeat_call_window_hours=192)
    repeated = daily(raw_db, "calls_repeated, repeat_call_rate_pct")
    assert ("K1", D10, "Incoming", 1, round(100 / 3, 6)) in repeated
    assert fetch(
        raw_db, "SELECT repeat_call_id FROM analytics.fct_calls WHERE call_id = 'c02'"
    ) == [("c08",)]
    # 2 h: c04 comes 2 h 20 min after c01 -> no longer; k02 -> k03 (10 min) still is
    run(raw_db, repeat_call_window_hours=2)
    assert fetch(
        raw_db, "SELECT call_id FROM analytics.fct_calls WHERE is_repeat_call ORDER BY 1"
    ) == [("k02",)]
    repeated = daily(raw_db, "calls_repeated, repeat_call_rate_pct")
    assert ("K1", date(2024, 3, 9), "Incoming", 0, 0.0) in repeated


def test_interval_minutes(raw_db: duckdb.DuckDBPyConnection) -> None:
    # 5 min: c05 10:00, c06 10:07 -> 10:05, c07 10:14 -> 10:10
    run(raw_db, interval_minutes=5)
    got = fetch(
        raw_db,
        "SELECT interval_start_local, direction, calls_offered, interval_minutes "
        "FROM analytics.fct_call_metrics_interval "
        "WHERE center_id = 'C1' AND interval_start_local >= '2024-03-10 10:00' "
        "AND local_date = '2024-03-10' ORDER BY 1, 2",
    )
    assert got == [
        (datetime(2024, 3, 10, 10, 0), "Incoming", 1, 5),
        (datetime(2024, 3, 10, 10, 5), "Outgoing", 1, 5),
        (datetime(2024, 3, 10, 10, 10), "Incoming", 1, 5),
    ]
    # 60 min: k01 09:00, k02 09:10, k03 09:20 IST share one interval
    run(raw_db, interval_minutes=60)
    got = fetch(
        raw_db,
        "SELECT interval_start_local, calls_offered, calls_answered, calls_abandoned "
        "FROM analytics.fct_call_metrics_interval WHERE center_id = 'C2' ORDER BY 1",
    )
    assert got == [
        (
            datetime(2024, 3, 10, 9, 0),
            3,
            2,
            1,
        ),
        (datetime(2024, 3, 10, 23, 0), 1, 0, 0),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service_level_threshold_seconds": 0}, "service_level_threshold_seconds"),
        ({"short_abandon_threshold_seconds": -1}, "short_abandon_threshold_seconds"),
        ({"repeat_call_window_hours": float("nan")}, "repeat_call_window_hours"),
        ({"interval_minutes": 7}, "divide a day"),
        ({"interval_minutes": 0}, "positive integer"),
        ({"service_level_formula": "over_offered"}, "answered_and_abandoned"),
        # Erlang C never reaches 100 %; no agent is left at 100 % shrinkage
        ({"service_level_target_pct": 100}, r"service_level_target_pct must be > 0 and < 100"),
        ({"shrinkage_pct": 100}, r"shrinkage_pct must be >= 0 and < 100"),
        ({"shrinkage_pct": -5}, "shrinkage_pct"),
        ({"max_occupancy_pct": 0}, r"max_occupancy_pct must be > 0 and <= 100"),
        ({"max_occupancy_pct": 0.85 * 200}, "max_occupancy_pct"),
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetricSettings(**kwargs)


def test_settings_from_dlt_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFORMS__SERVICE_LEVEL_THRESHOLD_SECONDS", "30")
    monkeypatch.setenv("TRANSFORMS__SERVICE_LEVEL_FORMULA", "offered")
    monkeypatch.setenv("TRANSFORMS__INTERVAL_MINUTES", "30")
    monkeypatch.setenv("TRANSFORMS__SHRINKAGE_PCT", "35")
    settings = MetricSettings.from_dlt_config()
    assert settings.shrinkage_pct == 35
    assert settings.max_occupancy_pct == 85  # default
    assert settings.service_level_threshold_seconds == 30
    assert settings.service_level_formula == "offered"
    assert settings.interval_minutes == 30
    assert settings.short_abandon_threshold_seconds == 5  # config.toml / default


def test_invalid_dlt_config_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSFORMS__SERVICE_LEVEL_FORMULA", "nonsense")
    with pytest.raises(ValueError, match="service_level_formula"):
        MetricSettings.from_dlt_config()
