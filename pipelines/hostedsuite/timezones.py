"""Time zones: a center's ``TimeZoneId`` (Windows or IANA) to an IANA name, and the API's
``StartTime`` strings to (UTC instant, local wall time), vectorised with Arrow.
"""

from __future__ import annotations

import logging
import zoneinfo
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from tzlocal.windows_tz import win_tz

from .settings import (
    CURRENT_IANA_NAMES,
    LOCAL_TS,
    UTC_TS,
)

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


def parse_start_times(texts: pa.Array, zones: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Parses API time strings into (UTC instant, local wall time) arrays.

    Offset-less strings are local wall time in the row's zone; ambiguous and non-existent
    local times resolve to the earliest instant, deterministically. Unparseable strings give
    nulls (the caller quarantines those records).
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
    utc_from_local = pa.nulls(len(texts), pa.timestamp("ns", "UTC"))
    local_from_utc = pa.nulls(len(texts), pa.timestamp("ns"))
    for zone in pc.unique(zones).to_pylist():
        in_zone = pc.equal(zones, zone)
        as_utc = pc.assume_timezone(
            naive, timezone=zone, ambiguous="earliest", nonexistent="earliest"
        ).cast(pa.timestamp("ns", "UTC"))
        utc_from_local = pc.if_else(in_zone, as_utc, utc_from_local)
        wall = pc.local_timestamp(utc_given.cast(pa.timestamp("ns", zone)))
        local_from_utc = pc.if_else(in_zone, wall, local_from_utc)
    utc = pc.coalesce(utc_given, utc_from_local)
    local = pc.if_else(has_offset, local_from_utc, naive)
    return pc.cast(utc, UTC_TS, safe=False), pc.cast(local, LOCAL_TS, safe=False)


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
