"""Centers and clients: the reference data of a run, and the time zone of each center.

Centers are fetched once per run and shared by the ``centers`` resource, the ``calls`` resource
(a center's ``TimeZoneId`` is how its calls' local times are read) and ``verify``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .client import HostedSuiteClient, UnexpectedResponse, json_kind, parse_json
from .records import snake_case
from .settings import CENTERS_ROUTE, DEFAULT_TIMEZONE
from .timezones import to_iana

logger = logging.getLogger("hostedsuite")


class CenterDirectory:
    """Centers fetched once per run and shared by the ``centers`` and ``calls`` resources."""

    def __init__(self, client: HostedSuiteClient, default_timezone: str) -> None:
        self._client = client
        self.default_timezone = to_iana(default_timezone, DEFAULT_TIMEZONE)
        self._lock = threading.Lock()
        self._centers: list[dict[str, Any]] | None = None
        self._zones: dict[str, str] = {}

    def centers(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._centers is None:
                raw = self._client.post(CENTERS_ROUTE, {}, "centers", parse_json)
                self._centers = [self._center_row(c) for c in as_record_list(raw, CENTERS_ROUTE)]
                self._zones = {c["id"]: c["iana_time_zone"] for c in self._centers}
            return self._centers

    def _center_row(self, raw: dict[str, Any]) -> dict[str, Any]:
        row = flatten_record(raw)
        row["iana_time_zone"] = to_iana(raw.get("TimeZoneId"), self.default_timezone)
        return row

    def zone_of(self, center_id: str | None) -> str:
        return self._zones.get(center_id or "", self.default_timezone)

    def is_known(self, center_id: str | None) -> bool:
        """Whether /api/centers lists ``center_id`` (an empty or missing id never is)."""
        return bool(center_id) and center_id in self._zones

    def all_zones(self) -> list[str]:
        self.centers()
        return sorted({*self._zones.values(), self.default_timezone})


def flatten_record(raw: dict[str, Any]) -> dict[str, Any]:
    """snake_case keys, one nested level flattened: ``Address.City`` -> ``address_city``."""
    row: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                row[f"{snake_case(key)}_{snake_case(sub_key)}"] = sub_value
        else:
            row[snake_case(key)] = value
    return row


def as_record_list(raw: Any, route: str) -> list[dict[str, Any]]:
    """The records of a bare-array answer; anything else fails the run (exit 4) rather than
    load nothing: an object without a list, or an element that is not a record, would
    otherwise silently drop centers or clients."""
    # /api/clients is documented as a bare array; tolerate a {"Items": [...]} wrapper too.
    if isinstance(raw, dict):
        wrapped = next(
            (raw[key] for key in ("Items", "Results") if isinstance(raw.get(key), list)), None
        )
        if wrapped is None:
            raise UnexpectedResponse(route, "expected a JSON array, got an object without Items")
        raw = wrapped
    if not isinstance(raw, list):
        raise UnexpectedResponse(route, f"expected a JSON array, got {json_kind(raw)}")
    for record in raw:
        if not isinstance(record, dict):
            raise UnexpectedResponse(
                route, f"expected JSON objects in the array, got {json_kind(record)}"
            )
    return raw
