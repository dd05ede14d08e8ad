"""Each /api/calls filter, sort and window switch selects exactly what it should (vs the truth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from hostedsuite_emulator import Emulator, EmulatorSettings

from .api_client import SESSION, everything, post

SEED_REQUEST = Path("/work/shared/seed/ListCallRecordsRequest.txt")


def ids(items) -> set[str]:
    return {i["Id"] for i in items}


def test_client_center_record_and_type_filters(emulator) -> None:
    truth = emulator.truth().calls
    client = truth[0]["client_id"]
    center = truth[0]["center_id"]
    assert ids(everything(emulator, ClientId=client)) == {
        c["id"] for c in truth if c["client_id"] == client
    }
    assert ids(everything(emulator, CenterId=center)) == {
        c["id"] for c in truth if c["center_id"] == center
    }
    one = truth[17]["id"]
    assert ids(everything(emulator, CallRecordId=one)) == {one}
    assert everything(emulator, CallRecordId="no-such-id") == []
    for kind in ("Incoming", "Outgoing"):
        expected = {c["id"] for c in truth if c["type"] == kind}
        assert ids(everything(emulator, CallType=kind)) == expected
        assert ids(everything(emulator, CallType=kind.lower())) == expected
    # null = both (and Transfer calls too: CallType filters the Type field exactly)
    assert len(everything(emulator, CallType=None)) == len(truth)
    assert post(emulator, "/api/calls", CallType="Sideways").status_code == 400


def test_talk_time_filters(emulator) -> None:
    truth = emulator.truth().calls
    assert ids(everything(emulator, MinCallDuration=120.5)) == {
        c["id"] for c in truth if c["talk_time_in_seconds"] >= 120.5
    }
    assert ids(everything(emulator, MaxCallDuration=30)) == {
        c["id"] for c in truth if c["talk_time_in_seconds"] <= 30
    }
    both = everything(emulator, MinCallDuration=10, MaxCallDuration=60, CallType="Incoming")
    assert ids(both) == {
        c["id"] for c in truth if 10 <= c["talk_time_in_seconds"] <= 60 and c["type"] == "Incoming"
    }
    # 0 (the sample request's value) means "not set" for both bounds.
    assert len(everything(emulator, MinCallDuration=0, MaxCallDuration=0)) == len(truth)


def test_sorting(emulator_factory) -> None:
    emu = emulator_factory(calls=800, seed=4, settings=EmulatorSettings(time_format="offset"))
    asc = everything(emu, SortField="StartTime", SortDir="Asc")
    keys = [(datetime.fromisoformat(i["StartTime"]), i["Id"]) for i in asc]
    assert keys == sorted(keys)
    desc = everything(emu, SortField="StartTime", SortDir="Desc")
    assert [i["Id"] for i in desc] == [i["Id"] for i in asc][::-1]
    by_id = [i["Id"] for i in everything(emu, SortField="Id")]
    assert by_id == sorted(by_id)
    unknown = [i["Id"] for i in everything(emu, SortField="Bogus", SortDir="Asc")]
    assert unknown == sorted(unknown)  # ignored: default order by Id
    assert [i["Id"] for i in everything(emu)] == sorted(by_id)


def test_seed_sample_request_is_accepted(emulator) -> None:
    text = SEED_REQUEST.read_text()
    start = text.index('{"StartDate"')
    sample = orjson.loads(text[start : text.index("}", start) + 1])
    creds = emulator.credentials
    sample.update(
        CustomerName=creds["customer_name"],
        UserName=creds["user_name"],
        Password=creds["password"],
        StartDate="2024-03-05",
        EndDate="2024-03-06",
    )
    response = SESSION.post(f"{emulator.url}/api/calls", json=sample, timeout=30)
    assert response.status_code == 200
    assert set(response.json()) == {"Items", "Page", "TotalCount", "TotalPages"}
    # With the placeholder ids removed, the sample selects the day's incoming calls.
    for key in ("ClientId", "CenterId", "CallRecordId"):
        sample[key] = None
    sample["ItemsPerPage"] = 1000
    got = SESSION.post(f"{emulator.url}/api/calls", json=sample, timeout=30).json()
    expected = {
        c["id"]
        for c in emulator.truth().calls
        if c["type"] == "Incoming"
        and datetime(2024, 3, 5) <= c["start_time_local"] < datetime(2024, 3, 6)
    }
    assert expected and ids(got["Items"]) == expected


DAY = datetime(2024, 3, 15)


def _local(emu: Emulator, lo: datetime, hi: datetime) -> set[str]:
    return {c["id"] for c in emu.truth().calls if lo <= c["start_time_local"] < hi}


def _utc(emu: Emulator, lo: datetime, hi: datetime) -> set[str]:
    return {c["id"] for c in emu.truth().calls if lo <= c["start_time"] < hi}


@pytest.mark.parametrize("zone", ["local", "UTC", "America/New_York"])
def test_window_zone(emulator_factory, zone: str) -> None:
    settings = EmulatorSettings(time_format="offset", window_zone=zone)
    emu = emulator_factory(calls=3000, seed=5, settings=settings)
    got = ids(everything(emu, StartDate="2024-03-15T00:00:00", EndDate="2024-03-16T00:00:00"))
    local = _local(emu, DAY, DAY + timedelta(days=1))
    if zone == "local":
        expected = local
    else:
        lo = DAY.replace(tzinfo=ZoneInfo(zone))
        expected = _utc(emu, lo, lo + timedelta(days=1))
        assert expected != local  # near the edges, the two readings differ
    assert expected and got == expected


def test_window_spanning_us_dst_change_in_local_time(emulator_factory) -> None:
    emu = emulator_factory(calls=4000, seed=6)
    start, end = "2024-03-09T12:00:00", "2024-03-11T12:00:00"
    got = ids(everything(emu, StartDate=start, EndDate=end))
    expected = _local(emu, datetime(2024, 3, 9, 12), datetime(2024, 3, 11, 12))
    assert got == expected


def test_us_and_fractional_request_dates(emulator) -> None:
    a = ids(everything(emulator, StartDate="3/15/2024 6:30:00 AM", EndDate="3/15/2024 2:05:09 PM"))
    b = ids(everything(emulator, StartDate="2024-03-15 06:30", EndDate="2024-03-15T14:05:09.0000"))
    assert a == b == _local(emulator, datetime(2024, 3, 15, 6, 30), datetime(2024, 3, 15, 14, 5, 9))


def test_start_inclusive_end_exclusive_or_inclusive(emulator_factory) -> None:
    settings = EmulatorSettings(time_format="iso_fraction")
    emu = emulator_factory(calls=500, seed=8, settings=settings)
    call = emu.truth().calls[200]
    exact = call["start_time_local"].isoformat(timespec="microseconds") + "0"  # 7 digits
    day_before = (call["start_time_local"] - timedelta(days=1)).isoformat()
    day_after = (call["start_time_local"] + timedelta(days=1)).isoformat()
    assert call["id"] in ids(everything(emu, StartDate=exact, EndDate=day_after))
    assert call["id"] not in ids(everything(emu, StartDate=day_before, EndDate=exact))
    emu.settings.end_inclusive = True
    assert call["id"] in ids(everything(emu, StartDate=day_before, EndDate=exact))
    just_before = (call["start_time_local"] - timedelta(milliseconds=1)).isoformat()
    assert call["id"] not in ids(everything(emu, StartDate=day_before, EndDate=just_before))


@pytest.mark.parametrize("mode", ["midnight", "end_of_day"])
def test_date_only_end(emulator_factory, mode: str) -> None:
    emu = emulator_factory(calls=1500, seed=9, settings=EmulatorSettings(date_only_end=mode))
    got = ids(everything(emu, StartDate="2024-03-14", EndDate="2024-03-15"))
    days = 1 if mode == "midnight" else 2
    expected = _local(emu, datetime(2024, 3, 14), datetime(2024, 3, 14) + timedelta(days=days))
    assert expected and got == expected


def test_offset_in_request_date_is_an_instant(emulator) -> None:
    got = ids(
        everything(emulator, StartDate="2024-03-15T00:00:00Z", EndDate="2024-03-16T00:00:00Z")
    )
    lo = datetime(2024, 3, 15, tzinfo=UTC)
    assert got == _utc(emulator, lo, lo + timedelta(days=1))


def test_centers_and_clients(emulator) -> None:
    centers = post(emulator, "/api/centers").json()
    assert isinstance(centers, list) and len(centers) >= 5
    zones = {c["TimeZoneId"] for c in centers}
    assert {"Central Standard Time", "US Mountain Standard Time", "GMT Standard Time"} <= zones
    assert {"AUS Eastern Standard Time", "India Standard Time"} <= zones
    assert set(centers[0]) == {
        "Id", "DateLastModified", "Name", "Address", "TimeZoneId", "SupportEmailAddress",
        "ThirdPartyAccountId",
    }  # fmt: skip
    emulator.settings.tz_style = "iana"
    iana = {c["TimeZoneId"] for c in post(emulator, "/api/centers").json()}
    assert {"America/Chicago", "America/Phoenix", "Europe/London", "Australia/Sydney"} <= iana
    assert {c["time_zone_id"] for c in emulator.truth().centers} == iana
    clients = post(emulator, "/api/clients").json()
    truth = emulator.truth()
    assert {c["Id"] for c in clients} == {c["id"] for c in truth.clients}
    center_id = truth.centers[0]["id"]
    some = post(emulator, "/api/clients", CenterId=center_id).json()
    assert some and all(c["CenterId"] == center_id for c in some)
    assert len({c["center_id"] for c in truth.clients}) >= 5
    assert len(post(emulator, "/api/clients", ClientId=clients[0]["Id"]).json()) == 1
