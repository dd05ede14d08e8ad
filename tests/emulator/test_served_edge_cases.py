"""Edge cases the emulator must be able to serve: calls spanning a repeated fall-back hour,
calls of a center missing from /api/centers, answered calls without an agent, and Windows
zone ids from its own table. Expected instants are hand-worked or computed with ``zoneinfo``
in the test (never with the emulator's or the client's helpers)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hostedsuite_emulator import EmulatorSettings

from .api_client import everything, post


def test_calls_span_the_repeated_fall_back_hour_with_their_true_instants(
    emulator_factory,
) -> None:
    """US (Nov 3) and UK (Oct 27) fall-backs in range, in the "offset" format, whose served
    times carry the true instant: some call starts before the change and has events after it,
    at wall times that occurred before (the repeated hour)."""
    settings = EmulatorSettings(time_format="offset")
    emu = emulator_factory(calls=1500, seed=9, start="2024-10-20", days=20, settings=settings)
    spanning = []
    for item in everything(emu):
        start = datetime.fromisoformat(item["StartTime"])
        times = [datetime.fromisoformat(i["StartTime"]) for i in item["Interactions"]]
        walls = [t.replace(tzinfo=None) for t in times]
        # the instants never go backwards
        assert all(a <= b for a, b in zip([start, *times], times, strict=False)), item["Id"]
        if any(b < a for a, b in itertools.pairwise(walls)):
            spanning.append(item)
    offsets = {datetime.fromisoformat(item["StartTime"]).utcoffset() for item in spanning}
    # Chicago (-05:00 before its change) and London (+01:00 before its change) both have one
    assert {timedelta(hours=-5), timedelta(hours=1)} <= offsets, offsets


def test_truth_reads_events_in_the_repeated_hour_relative_to_their_call(emulator_factory) -> None:
    """Served without offsets, an event's truth is its true instant (known from the "offset"
    format) whenever its call's start was read right: a call spanning the fall-back keeps
    true, monotonic event times although its later events' wall times occurred earlier."""
    settings = EmulatorSettings(time_format="offset")
    exact = emulator_factory(calls=1500, seed=9, start="2024-10-20", days=20, settings=settings)
    plain = emulator_factory(calls=1500, seed=9, start="2024-10-20", days=20)
    exact_truth, plain_truth = exact.truth(), plain.truth()
    exact_calls = {c["id"]: c for c in exact_truth.calls}
    exact_events = {(i["call_id"], i["seq"]): i["start_time"] for i in exact_truth.interactions}
    plain_calls = {c["id"]: c for c in plain_truth.calls}
    spanning = set()
    for event in plain_truth.interactions:
        call = plain_calls[event["call_id"]]
        if call["start_time"] != exact_calls[call["id"]]["start_time"]:
            continue  # a start in the second occurrence is read as the first (documented)
        assert event["start_time"] == exact_events[(event["call_id"], event["seq"])]
        assert event["start_time"] >= call["start_time"]
        if event["start_time_local"] < call["start_time_local"]:
            spanning.add(call["id"])
    assert len(spanning) >= 2  # Chicago's and London's fall-back


def test_unknown_center_calls_are_served_and_read_in_the_default_zone(emulator_factory) -> None:
    emu = emulator_factory(calls=300, seed=3, settings=EmulatorSettings(orphan_center_calls=6))
    listed = {c["Id"] for c in post(emu, "/api/centers").json()}
    items = everything(emu)
    assert len(items) == 306
    orphans = [i for i in items if i["CenterId"] not in listed]
    assert len(orphans) == 6
    assert {i["CenterId"] for i in orphans if i["CenterId"]} and "" in {
        i["CenterId"] for i in orphans
    }
    assert None in {i["CenterId"] for i in orphans}
    # Filtering by a listed center never returns them.
    for center_id in listed:
        assert not [i for i in everything(emu, CenterId=center_id) if i["CenterId"] != center_id]
    truth = {c["id"]: c for c in emu.truth("America/Chicago").calls}
    chicago = ZoneInfo("America/Chicago")
    for item in orphans:
        call = truth[item["Id"]]
        wall = datetime.fromisoformat(item["StartTime"])  # "iso": the served wall time
        assert call["center_id"] == item["CenterId"]
        assert call["start_time_local"] == wall
        assert call["start_time"] == wall.replace(tzinfo=chicago, fold=0).astimezone(UTC)
    in_utc = {c["id"]: c for c in emu.truth().calls}  # default: the client's default, UTC
    for item in orphans:
        wall = datetime.fromisoformat(item["StartTime"])
        assert in_utc[item["Id"]]["start_time"] == wall.replace(tzinfo=UTC)


def test_answered_calls_without_an_agent_are_served(emulator_factory) -> None:
    emu = emulator_factory(calls=2000, seed=1)
    items = everything(emu)
    fallback = [i for i in items if not i["AnsweredBy"] and i["TalkTimeInSeconds"] > 0]
    # a small share (about 1 in 40 answered calls)
    assert 10 <= len(fallback) <= len(items) // 20
    for item in fallback:
        assert item["Interactions"][0]["Type"] == "Answer"


def test_windows_ids_are_microsofts_names(emulator_factory) -> None:
    emu = emulator_factory(calls=50, seed=1, settings=EmulatorSettings(tz_style="windows"))
    ids = {c["Name"]: c["TimeZoneId"] for c in post(emu, "/api/centers").json()}
    assert ids == {
        "Lakeshore Answering Chicago": "Central Standard Time",
        "Desert Line Phoenix": "US Mountain Standard Time",
        "Thames Reception London": "GMT Standard Time",
        "Harbour Desk Sydney": "AUS Eastern Standard Time",
        "Sahyadri Contact Kolkata": "India Standard Time",
    }


def test_sydney_repeated_hour_in_the_default_range(emulator_factory) -> None:
    """The default range (March-April 2024) spans Sydney's Apr 7 fall-back with a call."""
    emu = emulator_factory(calls=500, seed=4, settings=EmulatorSettings(time_format="offset"))
    found = False
    for item in everything(emu):
        start = datetime.fromisoformat(item["StartTime"])
        ends = [datetime.fromisoformat(i["StartTime"]) for i in item["Interactions"]]
        change = datetime(2024, 4, 6, 16, tzinfo=UTC)  # 03:00 AEDT = 02:00 AEST
        if start < change <= ends[-1]:
            found = found or start.utcoffset() == timedelta(hours=11)
    assert found
