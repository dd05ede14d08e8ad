"""Formatting served times and parsing request dates, as fast integer arithmetic.

Instants are kept as integer epoch milliseconds (UTC) and wall times as "naive epoch"
milliseconds (the wall clock read as if it were UTC). Every zone used here changes offset on a
whole UTC hour, so a zone's offset is cached per (zone, UTC hour): this keeps generating a million
calls and formatting every page cheap.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MS_HOUR = 3_600_000
MS_DAY = 86_400_000
EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_offset_cache: dict[tuple[str, int], int] = {}
_zones: dict[str, ZoneInfo] = {}


def zone(name: str) -> ZoneInfo:
    found = _zones.get(name)
    if found is None:
        found = _zones[name] = ZoneInfo(name)
    return found


def offset_ms(zone_name: str, instant_ms: int) -> int:
    """UTC offset of ``zone_name`` at ``instant_ms`` in milliseconds (cached per UTC hour)."""
    key = (zone_name, instant_ms // MS_HOUR)
    found = _offset_cache.get(key)
    if found is None:
        moment = datetime.fromtimestamp(key[1] * 3600, UTC).astimezone(zone(zone_name))
        delta = moment.utcoffset()
        assert delta is not None
        found = _offset_cache[key] = int(delta.total_seconds() * 1000)
    return found


def naive_from_ms(wall_ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=wall_ms)


def ms_from_naive(wall: datetime) -> int:
    delta = wall - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def resolve_fold0(zone_name: str, wall: datetime) -> datetime:
    """The aware UTC instant of a wall time; ambiguous times take their first occurrence."""
    return wall.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC)


_day_cache: dict[int, tuple[int, int, int]] = {}


def _ymd(days: int) -> tuple[int, int, int]:
    found = _day_cache.get(days)
    if found is None:
        d = date.fromordinal(_EPOCH_ORDINAL + days)
        found = _day_cache[days] = (d.year, d.month, d.day)
    return found


_SECONDS = [f"{i:02d}" for i in range(60)]
# (minute of naive epoch, offset, style) -> (text before the seconds, text after them). Calls
# cluster in time, so this cache turns most of the formatting into two lookups and a concat.
_minute_cache: dict[tuple[int, int, str], tuple[str, str]] = {}


def _minute_parts(minute: int, off_ms: int, style: str) -> tuple[str, str]:
    days, rem = divmod(minute, 1440)
    y, mo, d = _ymd(days)
    h, mi = divmod(rem, 60)
    if style in ("iso", "iso_fraction"):
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:", ""
    if style == "offset":
        sign = "-" if off_ms < 0 else "+"
        oh, om = divmod(abs(off_ms) // 60_000, 60)
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:", f"{sign}{oh:02d}:{om:02d}"
    if style == "us":
        h12 = h % 12 or 12
        return f"{mo}/{d}/{y} {h12}:{mi:02d}:", f" {'AM' if h < 12 else 'PM'}"
    raise ValueError(f"unknown time format {style!r}")


def format_wall(wall_ms: int, off_ms: int, style: str) -> str:
    """A served time string for the wall time ``wall_ms`` whose UTC offset is ``off_ms``."""
    minute, rem = divmod(wall_ms, 60_000)
    key = (minute, off_ms if style == "offset" else 0, style)
    parts = _minute_cache.get(key)
    if parts is None:
        parts = _minute_cache[key] = _minute_parts(minute, off_ms, style)
    secs, ms = divmod(rem, 1000)
    if style == "iso_fraction":
        # .NET's "o"-like 7 fractional digits; the data has millisecond precision.
        return f"{parts[0]}{_SECONDS[secs]}.{ms:03d}0000"
    return parts[0] + _SECONDS[secs] + parts[1]


def servable(instant_ms: int, zone_name: str, style: str) -> tuple[datetime, datetime]:
    """(aware UTC instant, naive wall time) exactly as a correct client reads them back.

    Whole seconds unless the format carries a fraction; without an offset, the wall time is
    resolved in the zone with fold=0 (first occurrence of an ambiguous fall-back time).
    """
    off = offset_ms(zone_name, instant_ms)
    wall_ms = instant_ms + off
    if style != "iso_fraction":
        wall_ms -= wall_ms % 1000
    wall = naive_from_ms(wall_ms)
    if style == "offset":
        return _EPOCH_UTC + timedelta(milliseconds=wall_ms - off), wall
    # Fast path: with no offset change in the 3 hours before, the wall time cannot have occurred
    # earlier, so fold=0 resolution is simply wall - offset (zoneinfo only near transitions).
    if offset_ms(zone_name, instant_ms - 3 * MS_HOUR) == off:
        return _EPOCH_UTC + timedelta(milliseconds=wall_ms - off), wall
    return resolve_fold0(zone_name, wall), wall


def servable_in_call(
    instant_ms: int, zone_name: str, style: str, call_start: datetime
) -> tuple[datetime, datetime]:
    """Like ``servable`` for an event of a call whose start a client read as ``call_start``.

    The documented rule: an ambiguous wall time is its first occurrence not before the call's
    start (the later one when both are before it). Both occurrences come from zoneinfo's
    fold=0 and fold=1 here, not from the client's code.
    """
    utc, wall = servable(instant_ms, zone_name, style)
    if style == "offset" or utc >= call_start:
        return utc, wall
    return resolve_in_zone(zone_name, wall, call_start), wall


def resolve_in_zone(zone_name: str, wall: datetime, call_start: datetime | None) -> datetime:
    """The UTC instant of an offset-less ``wall`` read in ``zone_name``: the first occurrence,
    or with ``call_start`` the first one not before it (the later one when both are before)."""
    first = resolve_fold0(zone_name, wall)
    if call_start is None or first >= call_start:
        return first
    return max(first, wall.replace(tzinfo=zone(zone_name), fold=1).astimezone(UTC))


_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_US = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
    r"\s*([AaPp][Mm])?)?$"
)


class RequestDate:
    """A parsed StartDate/EndDate: wall time in 100 ns ticks, or an absolute instant."""

    __slots__ = ("date_only", "instant_ticks", "wall_ticks")

    def __init__(self, wall_ticks: int, date_only: bool, instant_ticks: int | None) -> None:
        self.wall_ticks = wall_ticks  # naive wall time, 100 ns ticks since 1970-01-01
        self.date_only = date_only
        self.instant_ticks = instant_ticks  # set when the string carried Z or an offset

    def key(self) -> tuple[int, bool, int | None]:
        return (self.wall_ticks, self.date_only, self.instant_ticks)


def parse_request_date(text: str) -> RequestDate:
    """Parses the date forms a .NET DateTime.Parse would accept here; ValueError otherwise.

    Accepted: ``2024-03-10``, ``2024-03-10T14:05:09`` (space also), an optional fraction of up to
    7 digits, an optional ``Z``/offset (then the bound is an absolute instant), and US style
    ``3/10/2024``, ``3/10/2024 2:05:09 PM``.
    """
    text = text.strip()
    offset_text: str | None = None
    if m := _ISO.match(text):
        y, mo, d, h, mi, s, frac, offset_text = m.groups()
        hour = int(h or 0)
    elif m := _US.match(text):
        mo, d, y, h, mi, s, frac, ampm = m.groups()
        hour = int(h or 0)
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueError(f"hour {hour} with {ampm}")
            hour = hour % 12 + (12 if ampm.upper() == "PM" else 0)
    else:
        raise ValueError(f"String '{text}' was not recognized as a valid DateTime.")
    wall = datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(s or 0))
    delta = wall - EPOCH
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + int((frac or "").ljust(7, "0"))
    instant: int | None = None
    if offset_text:
        minutes = 0
        if offset_text != "Z":
            digits = offset_text[1:].replace(":", "")
            minutes = int(digits[:2]) * 60 + int(digits[2:])
            minutes = -minutes if offset_text[0] == "-" else minutes
        instant = ticks - minutes * 60 * 10_000_000
    return RequestDate(ticks, h is None, instant)


def read_back(
    instant_ms: int, served_zone: str, read_zone: str, style: str, call_start: datetime | None
) -> tuple[datetime, datetime]:
    """(aware UTC instant, naive wall time) a correct client stores for a time served as wall
    time in ``served_zone`` but read in ``read_zone`` (a call whose center the client does not
    know is read in its default zone). ``call_start``: the client's reading of the start of
    the call this time belongs to, for an event; None for a call's own start.
    """
    if served_zone == read_zone:
        if call_start is None:
            return servable(instant_ms, served_zone, style)
        return servable_in_call(instant_ms, served_zone, style, call_start)
    utc, wall = servable(instant_ms, served_zone, style)
    if style == "offset":  # the instant is given; its wall time is taken in the reading zone
        return utc, utc.astimezone(zone(read_zone)).replace(tzinfo=None)
    return resolve_in_zone(read_zone, wall, call_start), wall
