"""The truth: what a correct client must end up with, as servable under the current settings.

Its rows are the API's shapes (``shapes.py``) with the client's column names: each field in
snake_case, in the API's order. Where the client stores more than a rename, it says so here: a
call's StartTime becomes two columns (the UTC instant and the center's wall time), its
Interactions and CompletedFormIds become tables of their own, its CenterId is the one served
(an orphan's); a center's Address is flattened and its IANA zone added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import reference as ref
from .config import EmulatorSettings
from .injected import VALID_BAD_KINDS
from .model import Call, Interaction
from .shapes import (
    CALL_FIELDS,
    PLAIN_CALL_FIELDS,
    center_fields,
    client_fields,
    interaction_ms,
    plain_call_values,
    served_center_id,
)
from .store import Store
from .timefmt import read_back


@dataclass
class Truth:
    """What a correct client must end up with, as servable under the current settings."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    completed_form_ids: list[dict[str, Any]] = field(default_factory=list)
    centers: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    bad_records: list[dict[str, Any]] = field(default_factory=list)


def snake_case(name: str) -> str:
    """The client's column of an API field: ``DurationInSeconds`` -> ``duration_in_seconds``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Columns the client names otherwise than its field in snake_case: an Address field flattened.
_RENAMED = {"Line1": "address_line1"}


def _call_columns() -> tuple[str, ...]:
    columns: list[str] = []
    for name, attribute in CALL_FIELDS:
        if name == "StartTime":
            columns += ["start_time", "start_time_local"]
        elif attribute is not None:  # Interactions, CompletedFormIds: tables of their own
            columns.append(snake_case(name))
    return tuple(columns)


CALL_COLUMNS = _call_columns()
_PLAIN_CALL_COLUMNS = tuple(snake_case(name) for name in PLAIN_CALL_FIELDS)


def truth(
    store: Store,
    s: EmulatorSettings,
    default_zone: str = "UTC",
    centers: Sequence[ref.Center] = ref.CENTERS,
    clients: Sequence[ref.Client] = ref.CLIENTS,
) -> Truth:
    """What a correct client stores. ``default_zone``: the zone the client reads calls of
    a center it does not know in (its ``default_timezone``); ``centers``, ``clients``: the
    reference data served (the emulator's hostile names switch replaces them)."""
    with store.lock:
        store.ensure_index(s.bad_records, s.orphan_center_calls)
        found = Truth()
        fmt = s.time_format
        for call in store.by_instant:
            if call.bad_kind is not None:
                raw = orjson.loads(store.call_json(call, fmt))
                found.bad_records.append({"raw": raw, "kind": call.bad_kind})
                if call.bad_kind not in VALID_BAD_KINDS:
                    continue
            _add_call(found, call, fmt, default_zone)
        found.centers = [_center_row(c, s.tz_style) for c in centers]
        found.clients = [_columns(client_fields(c)) for c in clients]
        return found


def _add_call(found: Truth, call: Call, fmt: str, default_zone: str) -> None:
    zone = call.client.center.iana
    center_id = served_center_id(call)
    # A call of a center the client does not know is read in the client's default zone.
    read_zone = zone if center_id == call.client.center.id else default_zone
    utc, local = read_back(call.start_ms, zone, read_zone, fmt, None)
    row: dict[str, Any] = dict.fromkeys(CALL_COLUMNS)  # the API's order; values set below
    row.update(zip(_PLAIN_CALL_COLUMNS, plain_call_values(call), strict=True))
    row["center_id"] = center_id
    row["start_time"] = utc
    row["start_time_local"] = local
    found.calls.append(row)
    items: tuple[Interaction, ...] = call.get_interactions()
    for seq, (off, kind, desc) in enumerate(items):
        # an event is read relative to its call's start (see read_back)
        i_utc, i_local = read_back(interaction_ms(call, off), zone, read_zone, fmt, utc)
        found.interactions.append(
            {
                "call_id": call.id,
                "seq": seq,
                "start_time": i_utc,
                "start_time_local": i_local,
                "type": kind,
                "description": desc,
            }
        )
    for form_id in call.forms:
        found.completed_form_ids.append({"call_id": call.id, "form_id": form_id})


def _center_row(center: ref.Center, tz_style: str) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, value in _columns(center_fields(center, tz_style)).items():
        row[column] = value
        if column == "time_zone_id":  # the client keeps the zone it resolved next to the id
            row["iana_time_zone"] = center.iana
    return row


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """An API object as the client's columns; a nested object's fields are flattened."""
    row: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            row.update(_columns(value))
        else:
            row[_RENAMED.get(name) or snake_case(name)] = value
    return row
