"""The generated data: invariants, realism, determinism, time formats, advance and late edits."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hostedsuite_emulator import Emulator, EmulatorSettings, Truth

from .api_client import calls, everything, parse_time, zones


def _by_call(truth: Truth) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in truth.interactions:
        grouped[item["call_id"]].append(item)
    return {k: sorted(v, key=lambda i: i["seq"]) for k, v in grouped.items()}


def test_invariants_of_every_call(emulator_factory) -> None:
    emu = emulator_factory(
        calls=3000, seed=1, settings=EmulatorSettings(time_format="iso_fraction")
    )
    truth = emu.truth()
    interactions = _by_call(truth)
    for call in truth.calls:
        parts = ("ring", "talk", "hold", "transfer")
        total = sum(call[f"{p}_time_in_seconds"] for p in parts)
        assert call["duration_in_seconds"] == total, call
        items = interactions[call["id"]]
        times = [(i["start_time"] - call["start_time"]).total_seconds() for i in items]
        assert times == sorted(times), call["id"]
        types = [i["type"] for i in items]
        assert types[-1] == "Hangup" and times[-1] == call["duration_in_seconds"]
        if call["answered_by"] or call["talk_time_in_seconds"] > 0:  # answered
            assert types[0] == "Answer" and times[0] == call["ring_time_in_seconds"]
        else:  # abandoned
            assert "Answer" not in types and call["talk_time_in_seconds"] == 0
        holds = [t for t, k in zip(times, types, strict=True) if k == "Hold"]
        retrieved = [t for t, k in zip(times, types, strict=True) if k == "Retrieved"]
        assert len(holds) == len(retrieved) == call["hold_count"]
        assert (
            sum(r - h for h, r in zip(holds, retrieved, strict=True))
            == call["hold_time_in_seconds"]
        )
        if "TransferAttempt" in types:
            outcome = types[types.index("TransferAttempt") + 1]
            assert outcome in ("TransferCompleted", "TransferStopped")
            assert bool(call["transfer_to_name"]) == (outcome == "TransferCompleted")
            assert bool(call["transfer_to_number"]) == (outcome == "TransferCompleted")
        else:
            assert call["transfer_time_in_seconds"] == 0 and not call["transfer_to_name"]


def test_the_data_is_realistic(emulator_factory) -> None:
    emu = emulator_factory(calls=3000, seed=1)
    truth = emu.truth()
    types = Counter(c["type"] for c in truth.calls)
    assert 0.62 < types["Incoming"] / len(truth.calls) < 0.78 and types["Transfer"] > 0
    abandoned = [c for c in truth.calls if c["type"] == "Incoming" and not c["answered_by"]]
    assert any(c["ring_time_in_seconds"] < 5 for c in abandoned)
    assert any(c["ring_time_in_seconds"] >= 5 for c in abandoned)
    forms = Counter(f["call_id"] for f in truth.completed_form_ids)
    assert set(forms.values()) == {1, 2, 3} and len(forms) < len(truth.calls) / 2
    flagged = [c for c in truth.calls if c["flagged"]]
    assert flagged and all(c["flag_notes"] for c in flagged)
    notes = "".join(c["notes"] for c in truth.calls)
    for needle in ('"', ",", "\n", "é", "ü", "日本", "😀"):
        assert needle in notes
    repeats = Counter((c["client_id"], c["caller_number"]) for c in truth.calls)
    assert max(repeats.values()) >= 3
    assert any(c["start_time"].microsecond for c in truth.calls) is False  # "iso": whole seconds
    centers = {c["iana_time_zone"] for c in truth.centers}
    assert {"America/Chicago", "America/Phoenix", "Europe/London"} <= centers
    assert {"Australia/Sydney", "Asia/Kolkata"} <= centers
    per_center = Counter(c["center_id"] for c in truth.clients)
    assert len(per_center) >= 5 and min(per_center.values()) >= 2
    answered_by = {c["answered_by"] for c in truth.calls}
    assert len(answered_by) > 10
    # The data straddles the DST changes: both offsets occur in Chicago, London and Sydney.
    offsets = defaultdict(set)
    zone_of = {c["id"]: c["iana_time_zone"] for c in truth.centers}
    for c in truth.calls:
        shift = c["start_time_local"] - c["start_time"].replace(tzinfo=None)
        offsets[zone_of[c["center_id"]]].add(shift)
    assert len(offsets["America/Chicago"]) == len(offsets["Europe/London"]) == 2
    assert len(offsets["Australia/Sydney"]) == 2
    assert offsets["America/Phoenix"] == {timedelta(hours=-7)}
    assert offsets["Asia/Kolkata"] == {timedelta(hours=5, minutes=30)}


def test_millisecond_start_instants(emulator_factory) -> None:
    emu = emulator_factory(calls=300, seed=2, settings=EmulatorSettings(time_format="iso_fraction"))
    micro = [c["start_time"].microsecond for c in emu.truth().calls]
    assert any(micro) and all(m % 1000 == 0 for m in micro)


@pytest.mark.parametrize("fmt", ["iso", "iso_fraction", "offset", "us"])
def test_each_time_format_parses_back_to_the_truth(emulator_factory, fmt: str) -> None:
    emu = emulator_factory(calls=1500, seed=2, settings=EmulatorSettings(time_format=fmt))
    truth = emu.truth()
    zone_of = zones(emu)
    expected_calls = {c["id"]: (c["start_time"], c["start_time_local"]) for c in truth.calls}
    expected_interactions = {
        (i["call_id"], i["seq"]): (i["start_time"], i["start_time_local"])
        for i in truth.interactions
    }
    items = everything(emu)
    assert len(items) == len(truth.calls)
    for item in items:
        zone = zone_of[item["CenterId"]]
        call_start = parse_time(item["StartTime"], zone, fmt)
        assert call_start == expected_calls[item["Id"]]
        for seq, interaction in enumerate(item["Interactions"]):
            got = parse_time(interaction["StartTime"], zone, fmt, call_start[0])
            assert got == expected_interactions[(item["Id"], seq)]
    sample = items[0]["StartTime"]
    shapes = {"iso": 19, "iso_fraction": 27, "offset": 25}
    if fmt in shapes:
        assert len(sample) == shapes[fmt]
    else:
        assert sample.endswith(("AM", "PM")) and "/" in sample


def test_determinism(emulator_factory) -> None:
    a = Emulator(calls=500, seed=11).truth()
    b = Emulator(calls=500, seed=11).truth()
    c = Emulator(calls=500, seed=12).truth()
    assert a == b
    assert {x["id"] for x in a.calls}.isdisjoint({x["id"] for x in c.calls})
    emu = emulator_factory(calls=500, seed=11)
    assert everything(emu) == everything(emulator_factory(calls=500, seed=11))


def test_advance_adds_calls_after_the_old_clock(emulator_factory) -> None:
    emu = emulator_factory(calls=400, seed=3, settings=EmulatorSettings(time_format="offset"))
    before = emu.now
    new_ids = emu.advance(minutes=90, new_calls=40)
    assert emu.now - before == timedelta(minutes=90) and len(new_ids) == 40
    truth = {c["id"]: c for c in emu.truth().calls}
    assert len(truth) == 440
    for call_id in new_ids:
        assert before < truth[call_id]["start_time"] + timedelta(seconds=1)
        assert truth[call_id]["start_time"] <= emu.now
    window = dict(StartDate=before.isoformat()[:19] + "Z", EndDate=emu.now.isoformat()[:19] + "Z")
    assert {i["Id"] for i in everything(emu, **window)} <= set(new_ids)
    assert len(everything(emu)) == 440
    assert calls(emu, ItemsPerPage=1)["TotalCount"] == 440


def test_advance_on_a_serving_emulator_orders_like_a_fresh_one(emulator_factory) -> None:
    # Advanced while serving (its sorted indexes take the new calls in place) against the same
    # data advanced before it started (indexes sorted from scratch): every page the same.
    serving = emulator_factory(calls=600, seed=9)
    everything(serving)
    serving.advance(minutes=240, new_calls=80)
    fresh = Emulator(calls=600, seed=9)
    fresh.advance(minutes=240, new_calls=80)
    fresh.start()
    try:
        # The new calls start after every old one, but not in local time: a window ending at
        # local midnight holds new Chicago evening calls and leaves out older Sydney mornings.
        windows = [("2024-04-14T00:00:00", "2024-04-15T00:00:00"), ("2024-04-14", "2024-04-16")]
        for reading in ("local", "UTC"):
            serving.settings.window_zone = fresh.settings.window_zone = reading
            for start, end in windows:
                window = {"StartDate": start, "EndDate": end}
                got, want = everything(serving, **window), everything(fresh, **window)
                assert [c["Id"] for c in got] == [c["Id"] for c in want], (reading, start)
                assert got
    finally:
        fresh.stop()


def test_add_call_serves_a_chosen_caller(emulator_factory) -> None:
    emu = emulator_factory(calls=400, seed=4)
    earlier = next(c for c in emu.truth().calls if c["type"] == "Incoming")
    start = emu.now - timedelta(hours=2)
    new_id = emu.add_call(earlier["client_id"], start, earlier["caller_number"])
    truth = {c["id"]: c for c in emu.truth().calls}
    assert len(truth) == 401
    added = truth[new_id]
    assert (added["client_id"], added["caller_number"], added["type"]) == (
        earlier["client_id"],
        earlier["caller_number"],
        "Incoming",
    )
    assert added["start_time"] == start
    served = everything(emu, CallRecordId=new_id)
    assert [c["CallerNumber"] for c in served] == [earlier["caller_number"]]
    with pytest.raises(ValueError, match="after the clock"):
        emu.add_call(earlier["client_id"], emu.now + timedelta(minutes=1), "+1 555")
    with pytest.raises(KeyError):
        emu.add_call("no-such-client", start, "+1 555")


def test_edit_call_changes_what_is_served(emulator) -> None:
    call = emulator.truth().calls[5]
    served = everything(emulator, CallRecordId=call["id"])[0]  # caches the JSON
    emulator.edit_call(
        call["id"],
        notes='Edited, "late"\nline 2 ✔',
        flagged=True,
        flag_notes="review",
        completed_form_ids=["f-1", "f-2"],
        work_time_in_seconds=42.5,
        interactions=[{"offset_seconds": 0, "type": "Hangup", "description": "x"}],
    )
    after = everything(emulator, CallRecordId=call["id"])[0]
    assert after != served
    assert after["Notes"] == 'Edited, "late"\nline 2 ✔'
    assert (after["Flagged"], after["FlagNotes"]) == (True, "review")
    assert after["CompletedFormIds"] == ["f-1", "f-2"] and after["WorkTimeInSeconds"] == 42.5
    assert [i["Type"] for i in after["Interactions"]] == ["Hangup"]
    assert after["Interactions"][0]["StartTime"] == after["StartTime"]
    truth = emulator.truth()
    assert [f["form_id"] for f in truth.completed_form_ids if f["call_id"] == call["id"]] == [
        "f-1",
        "f-2",
    ]
    emulator.edit_call(call["id"], notes="only notes")
    again = everything(emulator, CallRecordId=call["id"])[0]
    assert again["Notes"] == "only notes" and again["CompletedFormIds"] == ["f-1", "f-2"]
    with pytest.raises(KeyError):
        emulator.edit_call("no-such-call", notes="x")


def test_edit_random_is_seeded_and_covers_the_edit_kinds(emulator_factory) -> None:
    def run() -> tuple[Any, ...]:
        emu = emulator_factory(calls=1500, seed=4)
        before = {c["id"]: c for c in emu.truth().calls}
        before_forms = Counter(f["call_id"] for f in emu.truth().completed_form_ids)
        before_inter = Counter(i["call_id"] for i in emu.truth().interactions)
        edited = emu.edit_random(12)
        truth = emu.truth()
        after = {c["id"]: c for c in truth.calls}
        forms = Counter(f["call_id"] for f in truth.completed_form_ids)
        inter = Counter(i["call_id"] for i in truth.interactions)
        return edited, before, after, before_forms, forms, before_inter, inter

    edited, before, after, before_forms, forms, before_inter, inter = run()
    assert len(edited) == len(set(edited)) == 12
    assert edited == run()[0]  # deterministic
    assert any(before_forms[i] and not forms[i] for i in edited)  # all form ids removed
    assert any(forms[i] > before_forms[i] for i in edited)  # a form id added
    assert any(inter[i] < before_inter[i] for i in edited)  # an interaction removed
    assert any(before[i]["notes"] != after[i]["notes"] for i in edited)
    # Recent: started within the last 24 hours of the emulator clock (here 2024-04-15).
    assert all(before[i]["start_time"] >= datetime(2024, 4, 13, 23, tzinfo=UTC) for i in edited)


def test_ambiguous_fall_back_hour_is_served_and_resolved_with_fold_0(emulator_factory) -> None:
    exact = emulator_factory(calls=1000, seed=2, settings=EmulatorSettings(time_format="offset"))
    plain = emulator_factory(calls=1000, seed=2)  # "iso": no offset in the served times
    sydney = next(
        c["id"] for c in exact.truth().centers if c["iana_time_zone"] == "Australia/Sydney"
    )
    hour = (datetime(2024, 4, 7, 2), datetime(2024, 4, 7, 3))
    served = {
        i["Id"]: i["StartTime"]
        for i in everything(exact, CenterId=sydney, StartDate="2024-04-07", EndDate="2024-04-08")
    }
    true_times = {c["id"]: c for c in exact.truth().calls if c["id"] in served}
    ambiguous = {i: c for i, c in true_times.items() if hour[0] <= c["start_time_local"] < hour[1]}
    suffixes = {served[i][-6:] for i in ambiguous}
    assert suffixes == {"+11:00", "+10:00"}  # both occurrences of the repeated hour
    plain_truth = {c["id"]: c for c in plain.truth().calls}
    for call_id, call in ambiguous.items():
        shift = timedelta(hours=1) if served[call_id].endswith("+10:00") else timedelta(0)
        assert plain_truth[call_id]["start_time"] == call["start_time"] - shift  # fold=0
        assert plain_truth[call_id]["start_time_local"] == call["start_time_local"]
