"""Time zones: a center's ``TimeZoneId`` (Windows or IANA) to an IANA name, and the API's
``StartTime`` strings to (UTC instant, local wall time), vectorised with Arrow.
"""

from __future__ import annotations

import logging
import zoneinfo
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tzlocal.windows_tz import win_tz

from .arrow_types import LOCAL_TS, UTC_TS
from .settings import CURRENT_IANA_NAMES

logger = logging.getLogger("hostedsuite")


# --------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------
def to_iana(time_zone_id: str | None, default: str) -> str:
    """Maps a center's ``TimeZoneId`` (IANA or Windows id) to an IANA zone name.

    Windows ids are mapped with the CLDR table shipped in ``tzlocal`` (kept in step with
    Unicode's windowsZones.xml), not a hand-written list.
    """
    candidate = (time_zone_id or "").strip()
    if not candidate:
        return default
    candidate = win_tz.get(candidate, candidate)
    try:
        zoneinfo.ZoneInfo(candidate)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown TimeZoneId %r, using default %s", candidate, default)
        return default
    return CURRENT_IANA_NAMES.get(candidate, candidate)


# --------------------------------------------------------------------------------------------
# Parsing StartTime strings, vectorised
# --------------------------------------------------------------------------------------------
_OFFSET_RE = r"(Z|[+-]\d{2}:?\d{2})$"
_ISO_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
_US_RE = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AaPp][Mm]$"
_NULL_STR = pa.scalar(None, pa.string())


def parse_start_times(
    texts: pa.Array, zones: pa.Array, not_before: pa.Array | None = None
) -> tuple[pa.Array, pa.Array]:
    """Parses API time strings into (UTC instant, local wall time) arrays.

    Offset-less strings are local wall time in the row's zone, resolved deterministically:

    - an ambiguous (fall-back) wall time is its first occurrence, or, with ``not_before`` (the
      UTC start of the row's call), the first occurrence not before it; when both are before
      it, the later one. The events of a call spanning the repeated hour so stay in order.
    - a non-existent (spring-forward gap) wall time is read with the offset in force before
      the change, i.e. shifted forward by the gap (02:30 in a 1 h gap is 03:30), and its local
      wall time becomes that instant's.

    Unparseable strings give nulls (the caller quarantines those records).
    """
    texts = pc.utf8_trim_whitespace(texts.cast(pa.string()))
    has_offset = pc.fill_null(pc.match_substring_regex(texts, _OFFSET_RE), False)
    is_iso = pc.fill_null(pc.match_substring_regex(texts, _ISO_RE), False)
    is_us = pc.fill_null(pc.match_substring_regex(texts, _US_RE), False)

    naive = pc.coalesce(
        _cast_or_parse(pc.if_else(is_iso, texts, _NULL_STR), pa.timestamp("ns")),
        pc.strptime(
            pc.if_else(is_us, texts, _NULL_STR),
            format="%m/%d/%Y %I:%M:%S %p",
            unit="ns",
            error_is_null=True,
        ),
    )
    utc_given = _cast_or_parse(pc.if_else(has_offset, texts, _NULL_STR), pa.timestamp("ns", "UTC"))
    reference = None if not_before is None else not_before.cast(pa.timestamp("ns", "UTC"))
    utc_from_local = pa.nulls(len(texts), pa.int64())
    shifted = pa.array(np.zeros(len(texts), dtype=bool))
    for zone in pc.unique(zones).to_pylist():
        in_zone = pc.equal(zones, zone)
        zone_utc, zone_shifted = _resolve_wall_times(naive, zone, reference)
        utc_from_local = pc.if_else(in_zone, zone_utc, utc_from_local)
        shifted = pc.if_else(in_zone, zone_shifted, shifted)
    utc = pc.coalesce(utc_given, utc_from_local.cast(pa.timestamp("ns", "UTC")))
    # Strings with an offset, and gap times, take the wall time of their instant; the others
    # keep the wall time as sent (the same, without another conversion).
    from_instant = pc.or_(has_offset, pc.fill_null(shifted, False))
    local_from_utc = pa.nulls(len(texts), pa.timestamp("ns"))
    for zone in pc.unique(pc.filter(zones, from_instant)).to_pylist():
        wall = pc.local_timestamp(utc.cast(pa.timestamp("ns", zone)))
        local_from_utc = pc.if_else(pc.equal(zones, zone), wall, local_from_utc)
    local = pc.if_else(from_instant, local_from_utc, naive)
    return pc.cast(utc, UTC_TS, safe=False), pc.cast(local, LOCAL_TS, safe=False)


def _resolve_wall_times(
    naive: pa.Array, zone: str, not_before: pa.Array | None
) -> tuple[pa.Array, pa.Array]:
    """Wall times in ``zone`` as UTC epoch nanoseconds (int64), and which were in a gap.

    Arrow's ``nonexistent="earliest"`` gives the last instant before a gap; the offset in force
    there is the one before the change, and ``wall - that offset`` is the wall time shifted
    forward by the gap. For every other wall time the same arithmetic gives Arrow's own
    resolution back, so one vectorised formula serves all rows.
    """
    naive_ns = naive.cast(pa.int64())
    earliest, arrow_earliest = _wall_minus_offset(naive, naive_ns, zone, "earliest")
    shifted = pc.not_equal(earliest, arrow_earliest)
    if not_before is None:
        return earliest, shifted
    latest, _ = _wall_minus_offset(naive, naive_ns, zone, "latest")
    before_call = pc.fill_null(pc.less(earliest, not_before.cast(pa.int64())), False)
    return pc.if_else(before_call, latest, earliest), shifted


def _wall_minus_offset(
    naive: pa.Array, naive_ns: pa.Array, zone: str, ambiguous: str
) -> tuple[pa.Array, pa.Array]:
    """(``wall - offset`` where the offset is the one in force at Arrow's resolution of the
    wall time, Arrow's resolution itself), both as UTC epoch nanoseconds."""
    resolved = pc.assume_timezone(naive, timezone=zone, ambiguous=ambiguous, nonexistent="earliest")
    resolved_ns = resolved.cast(pa.int64())
    offset = pc.subtract(pc.local_timestamp(resolved).cast(pa.int64()), resolved_ns)
    return pc.subtract(naive_ns, offset), resolved_ns


def _cast_or_parse(texts: pa.Array, type_: pa.DataType) -> pa.Array:
    """Vectorised cast; on a value Arrow rejects (e.g. 2024-02-30) parse one by one to nulls."""
    try:
        return texts.cast(type_)
    except pa.ArrowInvalid:
        return pa.array([_cast_one(text, type_) for text in texts.to_pylist()], type_)


def _cast_one(text: str | None, type_: pa.DataType) -> Any:
    if text is None:
        return None
    try:
        return pa.scalar(text).cast(type_).as_py()
    except pa.ArrowInvalid:
        return None
