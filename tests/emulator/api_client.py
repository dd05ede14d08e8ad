"""Client-side helpers for the emulator tests, written independently of the emulator's code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from hostedsuite_emulator import Emulator

SESSION = requests.Session()


def body(emu: Emulator, **fields: Any) -> dict[str, Any]:
    creds = emu.credentials
    return {
        "CustomerName": creds["customer_name"],
        "UserName": creds["user_name"],
        "Password": creds["password"],
        **fields,
    }


def post(emu: Emulator, route: str, **fields: Any) -> requests.Response:
    return SESSION.post(f"{emu.url}{route}", json=body(emu, **fields), timeout=30)


def calls(emu: Emulator, **fields: Any) -> dict[str, Any]:
    response = post(emu, "/api/calls", **fields)
    assert response.status_code == 200, response.text[:500]
    result: dict[str, Any] = response.json()
    return result


def page_all(emu: Emulator, first_page: int = 0, **fields: Any) -> list[dict[str, Any]]:
    """Every item of a query, paging until an empty page (never trusting TotalPages)."""
    items: list[dict[str, Any]] = []
    page = first_page
    while True:
        got = calls(emu, Page=page, **fields)["Items"]
        if not got:
            return items
        items.extend(got)
        page += 1
        assert page < 10_000


def everything(emu: Emulator, **fields: Any) -> list[dict[str, Any]]:
    """All items of a query in one page (for small emulators)."""
    items: list[dict[str, Any]] = calls(emu, ItemsPerPage=100_000, **fields)["Items"]
    return items


def zones(emu: Emulator) -> dict[str, str]:
    """Center id -> IANA zone, from the truth."""
    return {c["id"]: c["iana_time_zone"] for c in emu.truth().centers}


def parse_time(
    text: str, zone: str, fmt: str, not_before: datetime | None = None
) -> tuple[datetime, datetime]:
    """(aware UTC, naive wall) from a served time string, as a correct client would read it.

    An ambiguous wall time is its first occurrence, or (an event of a call starting at
    ``not_before``) its first occurrence not before the call, else the later one.
    """
    if fmt == "us":
        wall = datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p")
    else:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC), moment.replace(tzinfo=None)
        wall = moment
    first = wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=ZoneInfo(zone), fold=1).astimezone(UTC)
    if not_before is None or first >= not_before:
        return first, wall
    return max(first, second), wall
