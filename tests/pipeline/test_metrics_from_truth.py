"""The daily mart, loaded through the real pipeline, equals an independent Python computation
from the emulator's truth, written from ``shared/call-metrics.md`` and not from the SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from .warehouse import connect

SL_THRESHOLD, SHORT_ABANDON, REPEAT_WINDOW = 20.0, 5.0, timedelta(hours=168)
MEASURES = [
    "calls_offered",
    "calls_answered",
    "calls_abandoned",
    "calls_short_abandoned",
    "calls_within_service_level",
    "service_level_pct",
    "avg_speed_of_answer_seconds",
    "handle_seconds_total",
    "talk_seconds_total",
    "calls_transferred",
    "calls_flagged",
    "forms_completed",
    "calls_repeated",
]


def expected_daily(truth: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    forms: dict[str, int] = defaultdict(int)
    for form in truth.completed_form_ids:
        forms[form["call_id"]] += 1
    completed_transfer = {
        i["call_id"] for i in truth.interactions if i["type"] == "TransferCompleted"
    }
    # Repeat calls as the data dictionary defines them: incoming calls on both sides, numbers
    # compared by their digits, the next call by (start, id) within the window.
    by_caller: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for call in truth.calls:
        digits = "".join(ch for ch in call["caller_number"] or "" if ch.isdigit())
        if call["type"] == "Incoming" and digits:
            by_caller[(call["client_id"], digits)].append((call["start_time"], call["id"]))

    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in truth.calls:
        key = (c["client_id"], c["center_id"], c["start_time_local"].date(), c["type"])
        g = groups.setdefault(key, defaultdict(float))
        incoming = c["type"] == "Incoming"
        answered = bool(c["answered_by"]) or (
            c["answered_by"] is None and c["talk_time_in_seconds"] > 0
        )
        ring = c["ring_time_in_seconds"]
        g["incoming"] = incoming
        g["calls_offered"] += 1
        g["calls_answered"] += answered
        g["calls_abandoned"] += incoming and not answered and ring >= SHORT_ABANDON
        g["calls_short_abandoned"] += incoming and not answered and ring < SHORT_ABANDON
        g["calls_within_service_level"] += incoming and answered and ring <= SL_THRESHOLD
        g["ring_answered"] += ring if answered else 0
        if answered:
            g["handle_seconds_total"] += (
                c["talk_time_in_seconds"] + c["hold_time_in_seconds"] + c["work_time_in_seconds"]
            )
            g["talk_seconds_total"] += c["talk_time_in_seconds"]
        g["calls_transferred"] += (
            bool(c["transfer_to_number"])
            or c["transfer_time_in_seconds"] > 0
            or c["id"] in completed_transfer
        )
        g["calls_flagged"] += bool(c["flagged"])
        g["forms_completed"] += forms[c["id"]]
        digits = "".join(ch for ch in c["caller_number"] or "" if ch.isdigit())
        later = by_caller[(c["client_id"], digits)] if incoming and digits else []
        g["calls_repeated"] += any(
            (t, i) > (c["start_time"], c["id"]) and t - c["start_time"] <= REPEAT_WINDOW
            for t, i in later
        )
    for g in groups.values():
        denominator = g["calls_answered"] + g["calls_abandoned"]
        g["service_level_pct"] = (
            100.0 * g["calls_within_service_level"] / denominator
            if g["incoming"] and denominator
            else None
        )
        g["avg_speed_of_answer_seconds"] = (
            g["ring_answered"] / g["calls_answered"]
            if g["incoming"] and g["calls_answered"]
            else None
        )
    return {k: {m: g[m] for m in MEASURES} for k, g in groups.items()}


def test_daily_mart_equals_independent_computation(loader_factory) -> None:
    loader = loader_factory(calls=2500, seed=61)
    loader.load(transform=True)
    expected = expected_daily(loader.emulator.truth())
    with connect(loader.duckdb_path) as conn:
        cursor = conn.execute(
            f"SELECT client_id, center_id, local_date, direction, "
            f"{', '.join(MEASURES)} FROM analytics.fct_call_metrics_daily"
        )
        got = {tuple(r[:4]): dict(zip(MEASURES, r[4:], strict=True)) for r in cursor.fetchall()}
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        for measure, value in want.items():
            if value is None:
                assert got[key][measure] is None, (key, measure)
            else:
                assert got[key][measure] == pytest.approx(value, abs=1e-9), (key, measure)
