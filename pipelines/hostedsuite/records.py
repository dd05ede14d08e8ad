"""API records to warehouse tables: the calls, interactions, form-id and quarantine rows of
one parsed page (``calls_page.py``), for the calls that start inside the window being read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .arrow_types import UTC_TS
from .call_keys import call_keys
from .calls_page import CallsPage, jsonable
from .content_hash import content_hashes
from .settings import (
    CALL_BOOL_FIELDS,
    CALL_DOUBLE_FIELDS,
    CALL_INT_FIELDS,
    CALL_KEY_COLUMNS,
    CALL_STRING_FIELDS,
    CONTENT_HASH_COLUMN,
    KNOWN_CALL_FIELDS,
    TOMBSTONE_COLUMN,
)
from .timezones import parse_start_times
from .windows import Window


@dataclass
class PageTables:
    """The rows one page contributes to each table."""

    calls: pa.Table
    interactions: pa.Table
    forms: pa.Table
    quarantine: list[dict[str, Any]]
    # Kept calls whose CenterId is missing from /api/centers (or empty): read in the default zone.
    unknown_center_calls: int = 0
    # Calls of the window left out because the warehouse already holds them as they are.
    unchanged_calls: int = 0
    # Kept calls the warehouse holds otherwise, and those it does not hold (when compared).
    changed_calls: int = 0
    new_calls: int = 0

    @property
    def calls_read(self) -> int:
        """Calls of the window this page delivered, rewritten or not."""
        return int(self.calls.num_rows) + self.unchanged_calls


def page_to_tables(
    page: CallsPage,
    zone_of_center: Callable[[str | None], str],
    window: Window,
    seen_ids: set[str],
    loaded_at: datetime,
    known_center: Callable[[str | None], bool] | None = None,
    stored_hashes: Mapping[str, str] | None = None,
) -> PageTables:
    """Builds the calls, interactions and form-id tables for the records of ``page`` that
    start inside ``window`` and were not already seen in this window.

    ``known_center`` tells a CenterId listed by /api/centers: a call of any other center (or of
    none) is read in the zone ``zone_of_center`` gives it (the default zone) and flagged in its
    ``dq_issues``, since its local times may really be another zone's.

    Every row carries its call's key (``call_keys.py``), child rows and tombstones included.

    Every kept call also gets one tombstone row in each child table: the child tables merge
    on ``call_id`` with delete-insert, and the tombstone (a hard-delete row) makes the merge
    replace a re-read call's children even when it now has none.

    ``stored_hashes`` (call id -> ``content_hash`` in the warehouse), when given: each kept call
    gets its digest, and a call whose digest the warehouse already holds is left out (counted
    in ``unchanged_calls``). Its rows there are what this page would write again. The others
    count as changed (the warehouse holds the id) or new.
    """
    items = page.items
    ids = items.field("Id")
    center_ids: list[str | None] = items.field("CenterId").to_pylist()
    zones = pa.array([zone_of_center(c) for c in center_ids], pa.string())
    unknown = pa.array(
        [known_center is not None and not known_center(c) for c in center_ids], pa.bool_()
    )
    utc, local = parse_start_times(items.field("StartTime"), zones)

    quarantine = [_quarantine_row(raw, reason, loaded_at) for raw, reason in page.rejected]
    bad_time = pc.is_null(utc)
    for position in np.flatnonzero(bad_time.to_numpy(zero_copy_only=False)):
        raw = _struct_row(items, int(position))
        quarantine.append(_quarantine_row(raw, "unparseable StartTime", loaded_at))
    bad_id = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    for position in np.flatnonzero(bad_id.to_numpy(zero_copy_only=False)):
        quarantine.append(
            _quarantine_row(_struct_row(items, int(position)), "missing or empty Id", loaded_at)
        )

    in_window = pc.and_(
        pc.greater_equal(utc, pa.scalar(window.start, UTC_TS)),
        pc.less(utc, pa.scalar(window.end, UTC_TS)),
    )
    keep_mask = pc.fill_null(pc.and_(in_window, pc.invert(bad_id)), False).to_numpy(
        zero_copy_only=False
    )
    # Dedupe within the window: a capped or shifting page may repeat records.
    for row, call_id in enumerate(page.ids):
        if keep_mask[row] and call_id is not None:  # a null id is never kept (bad_id)
            if call_id in seen_ids:
                keep_mask[row] = False
            else:
                seen_ids.add(call_id)
    keep = pa.array(keep_mask)
    hashes, unchanged, changed, new = None, 0, 0, 0
    if stored_hashes is not None:
        hashes = content_hashes(items, zones, unknown)
        for row, (call_id, digest) in enumerate(zip(page.ids, hashes, strict=True)):
            if not keep_mask[row] or call_id is None:
                continue
            held = stored_hashes.get(call_id)
            if held == digest:
                keep_mask[row] = False
                unchanged += 1
            elif held is None:
                new += 1
            else:
                changed += 1
    keep = pa.array(keep_mask)
    kept = items.filter(keep)
    kept_zones, kept_utc, kept_local = zones.filter(keep), utc.filter(keep), local.filter(keep)
    kept_unknown = unknown.filter(keep)
    calls = _calls_table(kept, kept_utc, kept_local, kept_zones, kept_unknown)
    if hashes is not None:
        calls = calls.append_column(CONTENT_HASH_COLUMN, pa.array(hashes).filter(keep))
    keys = call_keys(kept.field("Id"))
    for name, key in zip(CALL_KEY_COLUMNS, keys, strict=True):
        calls = calls.append_column(name, key)
    return PageTables(
        calls=calls,
        interactions=_interactions_table(kept, kept_zones, kept_utc, keys),
        forms=_forms_table(kept, keys),
        quarantine=quarantine,
        unknown_center_calls=pc.sum(kept_unknown.cast(pa.int64())).as_py() or 0,
        unchanged_calls=unchanged,
        changed_calls=changed,
        new_calls=new,
    )


def _struct_row(items: pa.StructArray, position: int) -> dict[str, Any]:
    row: dict[str, Any] = items[position].as_py()
    return row


def _quarantine_row(raw: Any, reason: str, loaded_at: datetime) -> dict[str, Any]:
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if v is not None and k != "_issues"}
    raw_json = quarantine_json(raw)
    call_id = raw.get("Id") if isinstance(raw, dict) else None
    return {
        "record_hash": quarantine_identity(raw, raw_json),
        "call_id": call_id if isinstance(call_id, str) else None,
        "reason": reason,
        "raw_record": raw_json,
        "quarantined_at": loaded_at,
    }


def quarantine_json(raw: Any) -> str:
    """A quarantined record as stored: JSON with sorted keys."""
    return orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS).decode()


def quarantine_identity(raw: Any, raw_json: str) -> str:
    """The key of a quarantined record.

    The same record can arrive through overlapping (widened) requests and through either
    parsing path, so its identity is what the vendor sent for it, not our rendering of it.
    """
    identity = (
        [str(raw.get(k)) for k in ("Id", "StartTime", "CenterId", "ClientId", "CallerNumber")]
        if isinstance(raw, dict)
        else [raw_json]
    )
    return hashlib.sha256(orjson.dumps(identity)).hexdigest()


def _calls_table(
    kept: pa.StructArray, utc: pa.Array, local: pa.Array, zones: pa.Array, unknown: pa.Array
) -> pa.Table:
    columns: dict[str, pa.Array] = {"id": kept.field("Id")}
    for api_name, column in CALL_STRING_FIELDS.items():
        if api_name != "Id":
            columns[column] = kept.field(api_name)
    columns["start_time"] = utc
    columns["start_time_local"] = local
    for fields in (CALL_DOUBLE_FIELDS, CALL_INT_FIELDS, CALL_BOOL_FIELDS):
        for api_name, column in fields.items():
            columns[column] = kept.field(api_name)
    columns["time_zone_id"] = zones
    columns["dq_issues"] = _dq_issues(kept, zones, unknown)
    # Fields the API added after this code was written: kept, as new columns (dlt evolves
    # the schema); nested values arrive as JSON text.
    for api_name in kept.type.names:
        if api_name not in KNOWN_CALL_FIELDS and api_name != "_issues":
            values = kept.field(api_name)
            if pa.types.is_nested(values.type):
                values = pa.array([jsonable(v) for v in values.to_pylist()], pa.string())
            columns[snake_case(api_name)] = values
    return _keys_not_null(pa.table(columns), "id")


def _keys_not_null(table: pa.Table, *keys: str) -> pa.Table:
    """Declares key columns non-nullable, matching the primary/merge keys' dlt hints."""
    schema = table.schema
    for key in keys:
        index = schema.get_field_index(key)
        schema = schema.set(index, schema.field(key).with_nullable(False))
    return table.cast(schema)


def _dq_issues(kept: pa.StructArray, zones: pa.Array, unknown: pa.Array) -> pa.Array:
    """Per-call data problems that do not stop the call from loading (e.g. a negative time)."""
    issues: list[str | None] = (
        kept.field("_issues").to_pylist() if "_issues" in kept.type.names else [None] * len(kept)
    )
    for position in np.flatnonzero(unknown.to_numpy(zero_copy_only=False)):
        center_id = kept.field("CenterId")[int(position)].as_py()
        what = f"unknown CenterId {center_id}" if center_id else "missing CenterId"
        note = f"{what}: local time read in {zones[int(position)].as_py()}"
        issues[position] = f"{issues[position]}; {note}" if issues[position] else note
    for api_name, column in CALL_DOUBLE_FIELDS.items():
        negative = pc.fill_null(pc.less(kept.field(api_name), 0), False).to_numpy(
            zero_copy_only=False
        )
        for position in np.flatnonzero(negative):
            note = f"negative {column}"
            issues[position] = f"{issues[position]}; {note}" if issues[position] else note
    return pa.array(issues, pa.string())


def _child_positions(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Flattened values, their parent row and their 0-based position within the parent."""
    values = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    seq = np.arange(len(parents), dtype=np.int64) - starts
    return values, parents, seq


def _with_tombstones(
    children: dict[str, pa.Array],
    call_ids: pa.Array,
    keys: tuple[pa.Array, pa.Array],
    parents: pa.Array,
) -> pa.Table:
    """Child rows (of the calls at ``parents``) plus one tombstone per call (``seq`` -1, never
    stored); every row carries its call's keys.

    ``(call_id, seq)`` is the child tables' primary key: a load job that dlt re-runs after a
    crash copies its file into staging twice, and the merge de-duplicates on that key.
    """
    children = {
        **children,
        **{n: k.take(parents) for n, k in zip(CALL_KEY_COLUMNS, keys, strict=True)},
    }
    real = pa.table({**children, TOMBSTONE_COLUMN: pa.nulls(len(children["call_id"]), pa.bool_())})
    tombstone_columns = {
        name: pa.nulls(len(call_ids), column.type) for name, column in children.items()
    }
    tombstone_columns["call_id"] = call_ids
    tombstone_columns.update(zip(CALL_KEY_COLUMNS, keys, strict=True))
    tombstone_columns["seq"] = pa.array(np.full(len(call_ids), -1, dtype=np.int64))
    tombstones = pa.table(
        tombstone_columns | {TOMBSTONE_COLUMN: pa.array(np.ones(len(call_ids), dtype=bool))}
    )
    return _keys_not_null(pa.concat_tables([tombstones, real]), "call_id", "seq")


def _interactions_table(
    kept: pa.StructArray, zones: pa.Array, call_utc: pa.Array, keys: tuple[pa.Array, pa.Array]
) -> pa.Table:
    ids = kept.field("Id")
    values, parents, seq = _child_positions(kept.field("Interactions"))
    parent_idx = pa.array(parents, pa.int64())
    # An event happens during its call: an ambiguous wall time (a call spanning the repeated
    # fall-back hour) takes its first occurrence not before the call's start.
    utc, local = parse_start_times(
        values.field("StartTime"), zones.take(parent_idx), call_utc.take(parent_idx)
    )
    children = {
        "call_id": ids.take(parent_idx),
        "seq": pa.array(seq, pa.int64()),
        "start_time": utc,
        "start_time_local": local,
        "type": values.field("Type"),
        "description": values.field("Description"),
    }
    return _with_tombstones(children, ids, keys, parent_idx)


def _forms_table(kept: pa.StructArray, keys: tuple[pa.Array, pa.Array]) -> pa.Table:
    ids = kept.field("Id")
    values, parents, seq = _child_positions(kept.field("CompletedFormIds"))
    parent_idx = pa.array(parents, pa.int64())
    children = {
        "call_id": ids.take(parent_idx),
        "seq": pa.array(seq, pa.int64()),
        "form_id": values,
    }
    return _with_tombstones(children, ids, keys, parent_idx)


def snake_case(name: str) -> str:
    """PascalCase -> snake_case: ``TalkTimeInSeconds`` -> ``talk_time_in_seconds``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower()
