"""The metric marts, loaded through the real pipeline, equal an independent Python computation
from the emulator's truth, written from ``shared/call-metrics.md`` and the data dictionary
(``transforms/README.md``), not from the SQL.

Covered: every measure of ``fct_call_metrics_daily``, of ``fct_call_metrics_interval`` (grain
center × local interval × its UTC start × direction, so a repeated fall-back hour is two rows)
and of ``fct_agent_metrics_daily``. The data includes calls answered without an agent (the
talk-time fallback), calls whose center is missing, empty or unknown, and Sydney's fall-back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from hostedsuite_emulator import EmulatorSettings

from .warehouse import connect

SL_THRESHOLD, SHORT_ABANDON, REPEAT_WINDOW = 20.0, 5.0, timedelta(hours=168)
INTERVAL = timedelta(minutes=15)
UNKNOWN = "(unknown)"
MEASURES = [
    "calls_offered",
    "calls_answered",
    "calls_abandoned",
    "calls_short_abandoned",
    "calls_within_service_level",
    "service_level_pct",
    "abandon_rate_pct",
    "avg_speed_of_answer_seconds",
    "handle_seconds_total",
    "avg_handle_time_seconds",
    "talk_seconds_total",
    "avg_talk_seconds",
    "calls_held",
    "hold_rate_pct",
    "hold_seconds_total",
    "avg_hold_seconds",
    "max_hold_seconds",
    "calls_transferred",
    "transfer_rate_pct",
    "calls_flagged",
    "forms_completed",
    "calls_repeated",
    "repeat_call_rate_pct",
]
AGENT_MEASURES = [
    "calls_handled",
    "talk_seconds_total",
    "hold_seconds_total",
    "work_seconds_total",
    "handle_seconds_total",
    "avg_handle_time_seconds",
    "calls_held",
    "hold_rate_pct",
    "calls_transferred",
]


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    """A ratio whose denominator is 0 is NULL (call-metrics.md)."""
    return scale * numerator / denominator if denominator else None


def _digits(number: str | None) -> str:
    return "".join(ch for ch in number or "" if ch.isdigit())


def per_call(truth: Any) -> list[dict[str, Any]]:
    """Each call's flags and keys, from the truth's raw fields."""
    forms: dict[str, int] = defaultdict(int)
    for form in truth.completed_form_ids:
        forms[form["call_id"]] += 1
    completed_transfer = {
        i["call_id"] for i in truth.interactions if i["type"] == "TransferCompleted"
    }
    # Repeat calls as the data dictionary defines them: incoming calls on both sides, same
    # client, numbers compared by their digits, a later call by (start, id) within the window.
    by_caller: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for call in truth.calls:
        if call["type"] == "Incoming" and _digits(call["caller_number"]):
            by_caller[(call["client_id"], _digits(call["caller_number"]))].append(
                (call["start_time"], call["id"])
            )
    out = []
    for c in truth.calls:
        incoming = c["type"] == "Incoming"
        agent = (c["answered_by"] or "").strip() or None
        # call-metrics.md: answered = AnsweredBy non-empty, fallback: talk time > 0
        answered = agent is not None or c["talk_time_in_seconds"] > 0
        ring, talk, hold = (
            c["ring_time_in_seconds"],
            c["talk_time_in_seconds"],
            c["hold_time_in_seconds"],
        )
        local = c["start_time_local"]
        # the local start floored to 15 minutes within its day
        interval_local = local.replace(minute=local.minute - local.minute % 15, second=0)
        interval_local = interval_local.replace(microsecond=0)
        later = by_caller[(c["client_id"], _digits(c["caller_number"]))] if incoming else []
        out.append(
            {
                "id": c["id"],
                "client_id": c["client_id"] or UNKNOWN,
                # data dictionary: an empty or missing CenterId is the unknown member
                "center_id": c["center_id"] or UNKNOWN,
                "direction": c["type"],
                "agent": agent,
                "local_date": local.date(),
                "interval_start_local": interval_local,
                # data dictionary: the interval's start at the call's own UTC offset
                "interval_start_utc": c["start_time"] - (local - interval_local),
                "incoming": incoming,
                "answered": answered,
                "abandoned": incoming and not answered and ring >= SHORT_ABANDON,
                "short_abandon": incoming and not answered and ring < SHORT_ABANDON,
                "within_sl": incoming and answered and ring <= SL_THRESHOLD,
                "ring": ring,
                "talk": talk,
                "hold": hold,
                "work": c["work_time_in_seconds"],
                "held": c["hold_count"] > 0 or hold > 0,
                "transferred": bool((c["transfer_to_number"] or "").strip())
                or c["transfer_time_in_seconds"] > 0
                or c["id"] in completed_transfer,
                "flagged": bool(c["flagged"]),
                "forms": forms[c["id"]],
                "repeated": any(
                    (t, i) > (c["start_time"], c["id"]) and t - c["start_time"] <= REPEAT_WINDOW
                    for t, i in later
                ),
            }
        )
    return out


def measures(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The measures of fct_call_metrics_daily over one group of calls."""
    answered = [c for c in calls if c["answered"]]
    incoming = calls[0]["incoming"]  # one direction per group
    n_answered = len(answered)
    abandoned = sum(c["abandoned"] for c in calls)
    within = sum(c["within_sl"] for c in calls)
    held = sum(c["held"] for c in answered)
    handle = sum(c["talk"] + c["hold"] + c["work"] for c in answered)
    talk = sum(c["talk"] for c in answered)
    hold = sum(c["hold"] for c in answered)
    transferred = sum(c["transferred"] for c in calls)
    repeated = sum(c["repeated"] for c in calls)
    return {
        "calls_offered": len(calls),
        "calls_answered": n_answered,
        "calls_abandoned": abandoned,
        "calls_short_abandoned": sum(c["short_abandon"] for c in calls),
        "calls_within_service_level": within,
        # incoming only; the default formula: ÷ (answered + abandoned)
        "service_level_pct": _ratio(within, n_answered + abandoned, 100) if incoming else None,
        # incoming only; short abandons are offered, not abandoned
        "abandon_rate_pct": _ratio(abandoned, len(calls), 100) if incoming else None,
        "avg_speed_of_answer_seconds": (
            _ratio(sum(c["ring"] for c in answered), n_answered) if incoming else None
        ),
        "handle_seconds_total": handle,
        "avg_handle_time_seconds": _ratio(handle, n_answered),
        "talk_seconds_total": talk,
        "avg_talk_seconds": _ratio(talk, n_answered),
        "calls_held": held,
        "hold_rate_pct": _ratio(held, n_answered, 100),
        "hold_seconds_total": hold,
        # like by like: hold of answered calls over answered calls held
        "avg_hold_seconds": _ratio(hold, held),
        "max_hold_seconds": max((c["hold"] for c in answered), default=None),
        "calls_transferred": transferred,
        "transfer_rate_pct": _ratio(transferred, n_answered, 100),
        "calls_flagged": sum(c["flagged"] for c in calls),
        "forms_completed": sum(c["forms"] for c in calls),
        "calls_repeated": repeated,
        "repeat_call_rate_pct": _ratio(repeated, n_answered, 100),
    }


def agent_measures(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """fct_agent_metrics_daily: answered calls with an agent only (data dictionary)."""
    handled = len(calls)
    held = sum(c["held"] for c in calls)
    handle = sum(c["talk"] + c["hold"] + c["work"] for c in calls)
    return {
        "calls_handled": handled,
        "talk_seconds_total": sum(c["talk"] for c in calls),
        "hold_seconds_total": sum(c["hold"] for c in calls),
        "work_seconds_total": sum(c["work"] for c in calls),
        "handle_seconds_total": handle,
        "avg_handle_time_seconds": _ratio(handle, handled),
        "calls_held": held,
        "hold_rate_pct": _ratio(held, handled, 100),
        "calls_transferred": sum(c["transferred"] for c in calls),
    }


def grouped(
    calls: Iterable[dict[str, Any]],
    keys: tuple[str, ...],
    compute: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[tuple[Any, ...], dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        groups[tuple(call[k] for k in keys)].append(call)
    return {key: compute(members) for key, members in groups.items()}


def stored(
    conn: Any, table: str, keys: tuple[str, ...], names: list[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    cursor = conn.execute(f"SELECT {', '.join([*keys, *names])} FROM analytics.{table}")
    return {
        tuple(r[: len(keys)]): dict(zip(names, r[len(keys) :], strict=True))
        for r in cursor.fetchall()
    }


def assert_same(
    got: dict[tuple[Any, ...], dict[str, Any]], want: dict[tuple[Any, ...], dict[str, Any]]
) -> None:
    assert got.keys() == want.keys(), (
        sorted(got.keys() - want.keys(), key=str)[:3],
        sorted(want.keys() - got.keys(), key=str)[:3],
    )
    for key, expected in want.items():
        for measure, value in expected.items():
            if value is None:
                assert got[key][measure] is None, (key, measure, got[key][measure])
            else:
                assert got[key][measure] == pytest.approx(value, abs=1e-9), (key, measure)


DAILY_KEYS = ("client_id", "center_id", "local_date", "direction")
INTERVAL_KEYS = ("center_id", "interval_start_local", "interval_start_utc", "direction")
AGENT_KEYS = ("agent", "center_id", "local_date")


@pytest.mark.parametrize(("time_format", "seed"), [("iso", 61), ("offset", 60)])
def test_marts_equal_independent_computation(loader_factory, time_format: str, seed: int) -> None:
    settings = EmulatorSettings(orphan_center_calls=9, time_format=time_format)
    loader = loader_factory(calls=2500, seed=seed, settings=settings)
    loader.load(transform=True, default_timezone="America/Chicago")
    calls = per_call(loader.emulator.truth("America/Chicago"))
    # The data has what the rules are about: the talk-time fallback, the unknown member and
    # an unknown center id.
    assert any(c["answered"] and c["agent"] is None for c in calls)
    assert any(c["center_id"] == UNKNOWN for c in calls)
    intervals = grouped(calls, INTERVAL_KEYS, measures)
    if time_format == "offset":
        # Times with their offset tell the two occurrences of Sydney's repeated hour apart
        # (2024-04-07): one local interval, two rows. (Offset-less starts in that hour are all
        # read as its first occurrence, the documented rule.)
        utc_starts: dict[tuple[Any, ...], set[datetime]] = defaultdict(set)
        for center, local, utc, _ in intervals:
            utc_starts[(center, local)].add(utc)
        assert any(len(starts) == 2 for starts in utc_starts.values())

    with connect(loader.duckdb_path) as conn:
        assert_same(
            stored(conn, "fct_call_metrics_daily", DAILY_KEYS, MEASURES),
            grouped(calls, DAILY_KEYS, measures),
        )
        got_intervals = stored(
            conn, "fct_call_metrics_interval", INTERVAL_KEYS, [*MEASURES, "local_date"]
        )
        want_intervals = {
            key: {**values, "local_date": key[1].date()} for key, values in intervals.items()
        }
        assert_same(
            {
                k: {m: v for m, v in row.items() if m != "local_date"}
                for k, row in got_intervals.items()
            },
            intervals,
        )
        assert {k: row["local_date"] for k, row in got_intervals.items()} == {
            k: row["local_date"] for k, row in want_intervals.items()
        }
        assert_same(
            stored(conn, "fct_agent_metrics_daily", AGENT_KEYS, AGENT_MEASURES),
            grouped(
                (c for c in calls if c["answered"] and c["agent"] is not None),
                AGENT_KEYS,
                agent_measures,
            ),
        )
