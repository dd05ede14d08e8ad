"""The API's JSON shapes of a call, a center and a client, defined once.

The served JSON (PascalCase, the service's metadata order) is built from these definitions, and
so is the truth (``truth.py``), which names the same fields in snake_case: the two cannot drift
apart. A call's JSON is built once per time format and cached (``Store.call_json``), so the call
shape is a table read with one ``attrgetter`` call rather than one lookup per field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from . import reference as ref
from .model import Call
from .timefmt import format_wall, offset_ms

REMOVE = object()  # patch value: drop the field from the served JSON

# A call's fields in the API's order, each with the Call attribute it serves. None: built here
# (StartTime depends on the time format; Interactions and CompletedFormIds are nested lists).
CALL_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("Id", "id"),
    ("ClientId", "client.id"),
    ("ClientName", "client.name"),
    ("CenterId", "client.center.id"),
    ("StartTime", None),
    ("CallerName", "caller_name"),
    ("CallerNumber", "caller_number"),
    ("TransferToName", "transfer_to_name"),
    ("TransferToNumber", "transfer_to_number"),
    ("Notes", "notes"),
    ("DurationInSeconds", "duration"),
    ("RingTimeInSeconds", "ring"),
    ("HoldTimeInSeconds", "hold"),
    ("HoldCount", "hold_count"),
    ("Interactions", None),
    ("AnsweredBy", "answered_by"),
    ("Server", "client.center.server"),
    ("TalkTimeInSeconds", "talk"),
    ("TransferTimeInSeconds", "transfer"),
    ("ScreenPop", "screen_pop"),
    ("CompletedFormIds", None),
    ("Flagged", "flagged"),
    ("FlagNotes", "flag_notes"),
    ("Type", "type"),
    ("WorkTimeInSeconds", "work"),
)
CALL_NAMES = tuple(name for name, _ in CALL_FIELDS)
# The fields served straight from an attribute, and a getter of all their values in that order.
PLAIN_CALL_FIELDS = tuple(name for name, attribute in CALL_FIELDS if attribute)
plain_call_values = attrgetter(*(attribute for _, attribute in CALL_FIELDS if attribute))


def interaction_ms(call: Call, offset_seconds: float) -> int:
    return call.start_ms + round(offset_seconds * 1000)


def served_center_id(call: Call) -> str | None:
    """The CenterId the API serves for ``call`` (an orphan's is not its client's center)."""
    if call.patch and "CenterId" in call.patch:
        center_id = call.patch["CenterId"]
        return None if center_id is None else str(center_id)
    return call.client.center.id


def call_dict(call: Call, time_format: str) -> dict[str, Any]:
    """The call as the API serves it (PascalCase fields, metadata order), patches applied."""
    zone = call.client.center.iana
    interactions = []
    for off, kind, desc in call.get_interactions():
        at = interaction_ms(call, off)
        zoff = offset_ms(zone, at)
        interactions.append(
            {
                "StartTime": format_wall(at + zoff, zoff, time_format),
                "Type": kind,
                "Description": desc,
            }
        )
    item: dict[str, Any] = dict.fromkeys(CALL_NAMES)  # the API's order; values set below
    item.update(zip(PLAIN_CALL_FIELDS, plain_call_values(call), strict=True))
    item["StartTime"] = format_wall(call.local_ms, call.local_ms - call.start_ms, time_format)
    item["Interactions"] = interactions
    item["CompletedFormIds"] = list(call.forms)
    if call.patch:
        for key, value in call.patch.items():
            if value is REMOVE:
                item.pop(key, None)
            else:
                item[key] = value
    return item


def center_fields(center: ref.Center, tz_style: str) -> dict[str, Any]:
    """A center in the API's shape, its DateLastModified still a datetime."""
    return {
        "Id": center.id,
        "DateLastModified": center.date_last_modified,
        "Name": center.name,
        "Address": {
            "Line1": center.line1,
            "City": center.city,
            "State": center.state,
            "PostalCode": center.postal_code,
            "Country": center.country,
        },
        "TimeZoneId": center.windows_id if tz_style == "windows" else center.iana,
        "SupportEmailAddress": center.support_email,
        "ThirdPartyAccountId": center.third_party_account_id,
    }


def client_fields(client: ref.Client) -> dict[str, Any]:
    """A client in the API's shape, its DateLastModified still a datetime."""
    return {
        "Id": client.id,
        "DateLastModified": client.date_last_modified,
        "Name": client.name,
        "CenterId": client.center.id,
        "CenterName": client.center.name,
        "ThirdPartyAccountId": client.third_party_account_id,
        "IndustryId": client.industry_id,
        "IndustryName": client.industry_name,
        "Location": client.location,
        "CallAllowanceType": client.call_allowance_type,
        "CallAllowanceAmount": client.call_allowance_amount,
    }


def served(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as the API serves them: datetimes as UTC text (``2023-11-03T10:15:00Z``)."""
    return {
        name: _utc_text(value) if isinstance(value, datetime) else value
        for name, value in fields.items()
    }


def center_dict(center: ref.Center, tz_style: str) -> dict[str, Any]:
    return served(center_fields(center, tz_style))


def client_dict(client: ref.Client) -> dict[str, Any]:
    return served(client_fields(client))


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
