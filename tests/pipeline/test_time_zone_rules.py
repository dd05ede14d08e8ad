"""Time-zone rules of the client against hand-worked literals.

Every expected value below was worked out by hand from the published tz rules (US DST 2024:
Mar 10 02:00 CST -> 03:00 CDT, Nov 3 02:00 CDT -> 01:00 CST; UK: Mar 31 01:00 GMT -> 02:00 BST,
Oct 27 02:00 BST -> 01:00 GMT; Sydney: Apr 7 03:00 AEDT -> 02:00 AEST, Oct 6 02:00 AEST ->
03:00 AEDT; India +05:30 all year) and Microsoft's published Windows zone names. None is
computed with the code under test, with ``tzlocal`` or with Arrow's zone functions.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pendulum
import pyarrow as pa
import pytest

from pipelines.hostedsuite.timezones import parse_start_times, to_iana
from pipelines.hostedsuite.windows import Window, request_bounds

CHI, LON, SYD, CCU = "America/Chicago", "Europe/London", "Australia/Sydney", "Asia/Kolkata"


def _z(text: str) -> datetime:
    """A UTC literal: ``"2024-03-10 19:05:09"`` -> aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _w(text: str) -> datetime:
    """A wall-time literal (naive)."""
    return datetime.fromisoformat(text)


def _parse(
    texts: list[str | None], zones: list[str], not_before: list[datetime | None] | None = None
) -> list[tuple[datetime | None, datetime | None]]:
    extra = (
        {}
        if not_before is None
        else {"not_before": pa.array(not_before, pa.timestamp("us", tz="UTC"))}
    )
    utc, local = parse_start_times(pa.array(texts, pa.string()), pa.array(zones), **extra)
    return list(zip(utc.to_pylist(), local.to_pylist(), strict=True))


# (StartTime as served, zone, expected UTC instant, expected local wall time)
FORMATS = [
    # ISO without offset: CDT (-5) after Mar 10.
    ("2024-03-10T14:05:09", CHI, "2024-03-10 19:05:09", "2024-03-10 14:05:09"),
    ("2024-03-10 14:05:09", CHI, "2024-03-10 19:05:09", "2024-03-10 14:05:09"),
    # the day before, still CST (-6)
    ("2024-03-09T14:05:09", CHI, "2024-03-09 20:05:09", "2024-03-09 14:05:09"),
    # .NET's 7 fractional digits: kept to the microsecond
    (
        "2024-03-10T14:05:09.1234567",
        CHI,
        "2024-03-10 19:05:09.123456",
        "2024-03-10 14:05:09.123456",
    ),
    ("2024-03-10T14:05:09.5", LON, "2024-03-10 14:05:09.5", "2024-03-10 14:05:09.5"),
    # with an offset: the instant is given; local is that instant's wall time in the zone
    ("2024-03-10T14:05:09Z", CHI, "2024-03-10 14:05:09", "2024-03-10 09:05:09"),
    ("2024-03-10T14:05:09+05:30", CHI, "2024-03-10 08:35:09", "2024-03-10 03:35:09"),
    ("2024-03-10T14:05:09-06:00", LON, "2024-03-10 20:05:09", "2024-03-10 20:05:09"),
    ("2024-07-01T12:00:00+01:00", LON, "2024-07-01 11:00:00", "2024-07-01 12:00:00"),
    # US style
    ("3/10/2024 2:05:09 PM", CHI, "2024-03-10 19:05:09", "2024-03-10 14:05:09"),
    ("3/10/2024 12:05:09 AM", CHI, "2024-03-10 06:05:09", "2024-03-10 00:05:09"),
    ("12/31/2024 11:59:59 PM", CCU, "2024-12-31 18:29:59", "2024-12-31 23:59:59"),
    ("3/10/2024 2:05:09 PM", CCU, "2024-03-10 08:35:09", "2024-03-10 14:05:09"),
    # London in summer (BST, +1) and Sydney in March (AEDT, +11)
    ("2024-07-01T12:00:00", LON, "2024-07-01 11:00:00", "2024-07-01 12:00:00"),
    ("2024-03-15T09:00:00", SYD, "2024-03-14 22:00:00", "2024-03-15 09:00:00"),
    ("2024-03-10T14:05:09", "UTC", "2024-03-10 14:05:09", "2024-03-10 14:05:09"),
]


@pytest.mark.parametrize(("text", "zone", "utc", "local"), FORMATS)
def test_every_format(text: str, zone: str, utc: str, local: str) -> None:
    assert _parse([text], [zone]) == [(_z(utc), _w(local))]


def test_unparseable_is_null() -> None:
    got = _parse(["31/31/2024 99:99:99 XM", "2024-02-30T10:00:00", None], [CHI, CHI, CHI])
    assert got == [(None, None)] * 3


# Fall-back hours: an offset-less wall time that occurs twice.
AMBIGUOUS = [
    # (text, zone, first occurrence UTC, second occurrence UTC)
    ("2024-11-03T01:30:00", CHI, "2024-11-03 06:30:00", "2024-11-03 07:30:00"),
    ("11/3/2024 1:30:00 AM", CHI, "2024-11-03 06:30:00", "2024-11-03 07:30:00"),
    ("2024-10-27T01:30:00", LON, "2024-10-27 00:30:00", "2024-10-27 01:30:00"),
    ("2024-04-07T02:30:00", SYD, "2024-04-06 15:30:00", "2024-04-06 16:30:00"),
]


@pytest.mark.parametrize(("text", "zone", "first", "second"), AMBIGUOUS)
def test_ambiguous_time_alone_is_its_first_occurrence(
    text: str, zone: str, first: str, second: str
) -> None:
    [(utc, _)] = _parse([text], [zone])
    assert utc == _z(first)


@pytest.mark.parametrize(("text", "zone", "first", "second"), AMBIGUOUS)
def test_ambiguous_time_resolved_relative_to_its_call(
    text: str, zone: str, first: str, second: str
) -> None:
    """The first occurrence not before the call's start; the second when both are before."""
    ten_minutes = pendulum.duration(minutes=10)
    starts = [
        _z(first) - ten_minutes,  # call began before the first occurrence -> first
        _z(first),  # exactly at it -> first
        _z(first) + ten_minutes,  # call began between the two -> second
        _z(second),  # at the second -> second
        _z(second) + ten_minutes,  # both before the call (bad data) -> the later one
        None,  # no reference -> first
    ]
    got = [utc for utc, _ in _parse([text] * len(starts), [zone] * len(starts), starts)]
    assert got == [_z(first), _z(first), _z(second), _z(second), _z(second), _z(first)]


def test_unambiguous_times_ignore_the_call_start() -> None:
    """Only an ambiguous wall time has a choice: a plain one is never moved by its call."""
    got = _parse(
        ["2024-11-03T00:59:59", "2024-11-03T02:00:00", "2024-03-10T14:05:09Z"],
        [CHI, CHI, CHI],
        [_z("2024-11-03 09:00:00"), _z("2024-11-03 09:00:00"), _z("2024-03-11 00:00:00")],
    )
    assert [utc for utc, _ in got] == [
        _z("2024-11-03 05:59:59"),
        _z("2024-11-03 08:00:00"),
        _z("2024-03-10 14:05:09"),
    ]


# Spring-forward gaps: a wall time that never occurs is shifted forward by the gap (read with
# the offset in force before the change), and its local wall time is that instant's.
NONEXISTENT = [
    ("2024-03-10T02:30:00", CHI, "2024-03-10 08:30:00", "2024-03-10 03:30:00"),
    ("2024-03-10T02:00:00", CHI, "2024-03-10 08:00:00", "2024-03-10 03:00:00"),
    ("3/10/2024 2:59:59 AM", CHI, "2024-03-10 08:59:59", "2024-03-10 03:59:59"),
    ("2024-03-31T01:30:00", LON, "2024-03-31 01:30:00", "2024-03-31 02:30:00"),
    ("2024-10-06T02:15:00", SYD, "2024-10-05 16:15:00", "2024-10-06 03:15:00"),
]


@pytest.mark.parametrize(("text", "zone", "utc", "local"), NONEXISTENT)
def test_nonexistent_time_is_shifted_forward_by_the_gap(
    text: str, zone: str, utc: str, local: str
) -> None:
    assert _parse([text], [zone]) == [(_z(utc), _w(local))]
    # the call start does not change the rule
    assert _parse([text], [zone], [_z("2024-01-01 00:00:00")]) == [(_z(utc), _w(local))]


def test_mixed_zones_in_one_array() -> None:
    got = _parse(
        [
            "2024-11-03T01:30:00",
            "2024-03-31T01:30:00",
            "2024-04-07T02:30:00",
            "2024-03-10T02:30:00",
        ],
        [CHI, LON, SYD, CCU],
    )
    assert [utc for utc, _ in got] == [
        _z("2024-11-03 06:30:00"),
        _z("2024-03-31 01:30:00"),
        _z("2024-04-06 15:30:00"),
        _z("2024-03-09 21:00:00"),
    ]


# ------------------------------------------------------------------ Windows -> IANA
WINDOWS_IDS = [
    ("Central Standard Time", "America/Chicago"),
    ("Eastern Standard Time", "America/New_York"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("GMT Standard Time", "Europe/London"),
    ("Romance Standard Time", "Europe/Paris"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    # surrounding whitespace is not part of the id
    ("  Tokyo Standard Time ", "Asia/Tokyo"),
    # IANA ids pass through
    ("Europe/Berlin", "Europe/Berlin"),
    ("America/Chicago", "America/Chicago"),
    # unknown, empty or missing -> the default
    ("Mars Standard Time", "America/Denver"),
    ("Not/AZone", "America/Denver"),
    ("", "America/Denver"),
    ("   ", "America/Denver"),
    (None, "America/Denver"),
]


@pytest.mark.parametrize(("time_zone_id", "iana"), WINDOWS_IDS)
def test_to_iana(time_zone_id: str | None, iana: str) -> None:
    assert to_iana(time_zone_id, "America/Denver") == iana


# ------------------------------------------------------------------ request bounds
def _window(start: str, end: str) -> Window:
    return Window(pendulum.parse(start), pendulum.parse(end))  # type: ignore[arg-type]


BOUNDS = [
    # Across the US spring-forward: Chicago -6 then -5, Phoenix -7, Kolkata +5:30, UTC 0.
    # Widened by min -7 h and max +5:30, plus 2 h of DST margin on each side.
    (
        "2024-03-10T06:00:00Z",
        "2024-03-10T10:00:00Z",
        [CHI, "America/Phoenix", CCU],
        "2024-03-09T21:00:00",
        "2024-03-10T17:30:00",
    ),
    # A 2-day window over it with London (GMT, 0): min -6 (Chicago), max +5:30 (Kolkata).
    (
        "2024-03-09T12:00:00Z",
        "2024-03-11T12:00:00Z",
        [CHI, LON, CCU],
        "2024-03-09T04:00:00",
        "2024-03-11T19:30:00",
    ),
    # Across the US fall-back: Chicago -5 then -6, Phoenix -7, Sydney +11 (AEDT).
    (
        "2024-11-02T00:00:00Z",
        "2024-11-04T00:00:00Z",
        [CHI, "America/Phoenix", SYD],
        "2024-11-01T15:00:00",
        "2024-11-04T13:00:00",
    ),
    # Chicago alone across the fall-back hour: min -6, max 0 (the UTC reading).
    (
        "2024-11-03T05:00:00Z",
        "2024-11-03T09:00:00Z",
        [CHI],
        "2024-11-02T21:00:00",
        "2024-11-03T11:00:00",
    ),
    # Sydney's fall-back (Apr 7, +11 -> +10) with London and Chicago in summer time:
    # min -5, max +11.
    (
        "2024-04-06T00:00:00Z",
        "2024-04-08T00:00:00Z",
        [CHI, LON, SYD],
        "2024-04-05T17:00:00",
        "2024-04-08T13:00:00",
    ),
]


@pytest.mark.parametrize(("start", "end", "zones", "start_date", "end_date"), BOUNDS)
def test_request_bounds(
    start: str, end: str, zones: list[str], start_date: str, end_date: str
) -> None:
    assert request_bounds(_window(start, end), zones) == (start_date, end_date)
