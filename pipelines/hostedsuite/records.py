"""API records to warehouse tables: a calls page parsed into Arrow (fast path and a
per-record path that quarantines what does not fit), then the calls, interactions,
form-id and quarantine tables of one page.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .client import UnexpectedResponse, json_kind, parse_json
from .settings import (
    CALL_BOOL_FIELDS,
    CALL_DOUBLE_FIELDS,
    CALL_INT_FIELDS,
    CALL_RECORD_SCHEMA,
    CALL_STRING_FIELDS,
    CALLS_PAGE_SCHEMA,
    CALLS_ROUTE,
    CONTENT_HASH_COLUMN,
    INTERACTION_TYPE,
    KNOWN_CALL_FIELDS,
    ROW_DERIVATION_VERSION,
    TOMBSTONE_COLUMN,
    UTC_TS,
)
from .timezones import parse_start_times
from .windows import Window

logger = logging.getLogger("hostedsuite")

# An in-memory DuckDB for content_hashes; each page's worker thread takes a cursor of it.
_HASHER = duckdb.connect()


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------
@dataclass
class CallsPage:
    """One parsed page: the items as a StructArray plus the paging fields."""

    items: pa.StructArray
    page: int
    total_count: int
    rejected: list[tuple[dict[str, Any] | Any, str]] = field(default_factory=list)

    @cached_property
    def ids(self) -> list[str | None]:
        """The items' ids as Python strings, built once: the paging and the per-window dedupe
        both keep sets of them, and sharing the string objects halves that memory."""
        ids: list[str | None] = self.items.field("Id").to_pylist()
        return ids


def parse_calls_page(content: bytes) -> CallsPage:
    """Parses a /api/calls response body.

    Fast path: Arrow's JSON reader with the documented schema (C speed, no Python objects
    per record). If a record does not fit the schema (a vendor bug, a new type), the page
    goes through the per-record path, which keeps good records and reports bad ones.
    Invalid JSON (e.g. a truncated body) raises TransientError so the request is retried;
    valid JSON of another shape raises UnexpectedResponse (not retried).
    """
    try:
        table = pa_json.read_json(
            pa.py_buffer(content),
            read_options=pa_json.ReadOptions(block_size=max(len(content) + 1, 1 << 20)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=CALLS_PAGE_SCHEMA,
                unexpected_field_behavior="infer",
                newlines_in_values=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _parse_calls_page_per_record(content)
    if table.num_rows != 1 or table.column("Items").null_count:
        # Several objects, or no Items array (read as null, which would look like an empty
        # last page): the per-record path says what the body is instead.
        return _parse_calls_page_per_record(content)
    items = table.column("Items").combine_chunks()
    structs = pc.list_flatten(items) if len(items) else pa.array([], items.type.value_type)
    return CallsPage(
        items=structs,
        page=int(table.column("Page")[0].as_py() or 0),
        total_count=int(table.column("TotalCount")[0].as_py() or 0),
    )


def _parse_calls_page_per_record(content: bytes) -> CallsPage:
    body = parse_json(content)
    if not isinstance(body, dict):
        raise UnexpectedResponse(CALLS_ROUTE, f"expected a calls page, got {json_kind(body)}")
    if not isinstance(body.get("Items"), list):
        # Valid JSON of the wrong shape will not heal by asking again: fail, do not retry.
        items = "no Items" if "Items" not in body else f"Items as {json_kind(body['Items'])}"
        raise UnexpectedResponse(CALLS_ROUTE, f"expected a calls page, got an object with {items}")
    good: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any] | Any, str]] = []
    for raw in body.get("Items") or []:
        record, problems = coerce_call_record(raw)
        if record is None:
            rejected.append((raw, "; ".join(problems)))
            continue
        good.append(record)
        if problems:
            # Kept with a flag (dq_issues); the raw record is quarantined too, so nothing the
            # vendor sent is lost even where a field had to be dropped.
            rejected.append((raw, "kept with issues: " + "; ".join(problems)))
    extra = sorted({k for r in good for k in r if k not in KNOWN_CALL_FIELDS and k != "_issues"})
    schema = pa.struct([*CALL_RECORD_SCHEMA, pa.field("_issues", pa.string())])
    items = pa.array([{k: r.get(k) for k in schema.names} for r in good], schema)
    for name in extra:
        column = pa.array([_jsonable(r.get(name)) for r in good])
        items = pa.StructArray.from_arrays(
            [*items.flatten(), column], names=[*items.type.names, name]
        )
    return CallsPage(
        items=items,
        page=int(body.get("Page") or 0),
        total_count=int(body.get("TotalCount") or 0),
        rejected=rejected,
    )


def _jsonable(value: Any) -> Any:
    """Nested unknown values are kept as JSON text so their column type stays stable."""
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def coerce_call_record(raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Validates one call record. Returns (record or None if unloadable, problems)."""
    if not isinstance(raw, dict):
        return None, ["record is not an object"]
    problems: list[str] = []
    record: dict[str, Any] = dict(raw)
    if not isinstance(raw.get("Id"), str) or not raw["Id"].strip():
        return None, ["missing or empty Id"]
    if not isinstance(raw.get("StartTime"), str) or not raw["StartTime"].strip():
        return None, ["missing StartTime"]
    for name in CALL_STRING_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            record[name] = str(value)
    for name in (*CALL_DOUBLE_FIELDS, *CALL_INT_FIELDS):
        record[name] = _coerce_number(name, raw.get(name), problems, name in CALL_INT_FIELDS)
    for name in CALL_BOOL_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, bool):
            problems.append(f"{name} is not a boolean")
            record[name] = None
    interactions = raw.get("Interactions")
    if interactions is not None and not (
        isinstance(interactions, list) and all(isinstance(i, dict) for i in interactions)
    ):
        problems.append("Interactions is not a list of objects")
        record["Interactions"] = None
    elif interactions:
        record["Interactions"] = [
            {k: (None if i.get(k) is None else str(i.get(k))) for k in INTERACTION_TYPE.names}
            for i in interactions
        ]
    forms = raw.get("CompletedFormIds")
    if forms is not None and not isinstance(forms, list):
        problems.append("CompletedFormIds is not a list")
        record["CompletedFormIds"] = None
    elif forms:
        record["CompletedFormIds"] = [str(f) for f in forms if f is not None]
    record["_issues"] = "; ".join(problems) or None
    return record, problems


def _coerce_number(name: str, value: Any, problems: list[str], integer: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.append(f"{name} is not a number")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{name} is not a number: {str(value)[:40]!r}")
        return None
    return int(number) if integer else number


def snake_case(name: str) -> str:
    """PascalCase -> snake_case: ``TalkTimeInSeconds`` -> ``talk_time_in_seconds``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower()


# --------------------------------------------------------------------------------------------
# Page -> warehouse tables
# --------------------------------------------------------------------------------------------
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

    Every kept call also gets one tombstone row in each child table: the child tables merge
    on ``call_id`` with delete-insert, and the tombstone (a hard-delete row) makes the merge
    replace a re-read call's children even when it now has none.

    ``stored_hashes`` (call id -> ``content_hash`` in the warehouse), when given: each kept call
    gets its digest, and a call whose digest the warehouse already holds is left out (counted
    in ``unchanged_calls``). Its rows there are what this page would write again.
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
    hashes, unchanged = None, 0
    if stored_hashes is not None:
        hashes = content_hashes(items, zones, unknown)
        for row, (call_id, digest) in enumerate(zip(page.ids, hashes, strict=True)):
            if keep_mask[row] and call_id is not None and stored_hashes.get(call_id) == digest:
                keep_mask[row] = False
                unchanged += 1
    keep = pa.array(keep_mask)
    kept = items.filter(keep)
    kept_zones, kept_utc, kept_local = zones.filter(keep), utc.filter(keep), local.filter(keep)
    kept_unknown = unknown.filter(keep)
    calls = _calls_table(kept, kept_utc, kept_local, kept_zones, kept_unknown)
    if hashes is not None:
        calls = calls.append_column(CONTENT_HASH_COLUMN, pa.array(hashes).filter(keep))
    return PageTables(
        calls=calls,
        interactions=_interactions_table(kept, kept_zones, kept_utc),
        forms=_forms_table(kept),
        quarantine=quarantine,
        unknown_center_calls=pc.sum(kept_unknown.cast(pa.int64())).as_py() or 0,
        unchanged_calls=unchanged,
    )


def content_hashes(items: pa.StructArray, zones: pa.Array, unknown: pa.Array) -> list[str]:
    """One digest per record of everything its rows are derived from: the record as the API
    sent it (children included), the zone it is read in, whether its center is listed, and
    ``ROW_DERIVATION_VERSION``. Equal digests mean equal rows in every table.

    DuckDB's ``hash()`` over the Arrow columns: 18 us a call where serialising each record in
    Python took 128 us (both on a loaded machine), so a catch-up batch of 100k calls pays
    seconds less. It is 64 bits (an edit that keeps the digest: odds of 2^-64) and may change
    with DuckDB's version, which costs one rewrite of the look-back, nothing more.
    """
    records = pa.table({"record": items, "zone": zones, "is_unknown": unknown})
    with _HASHER.cursor() as cursor:
        cursor.register("page_records", records)
        digests = cursor.execute(
            f"SELECT printf('%016x', hash({ROW_DERIVATION_VERSION}, zone, is_unknown, record)) "
            "FROM page_records"
        ).fetch_arrow_table()
    return [str(d) for d in digests.column(0).to_pylist()]


def _struct_row(items: pa.StructArray, position: int) -> dict[str, Any]:
    row: dict[str, Any] = items[position].as_py()
    return row


def _quarantine_row(raw: Any, reason: str, loaded_at: datetime) -> dict[str, Any]:
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if v is not None and k != "_issues"}
    raw_json = orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS).decode()
    call_id = raw.get("Id") if isinstance(raw, dict) else None
    # The same record can arrive through overlapping (widened) requests and through either
    # parsing path, so its identity is what the vendor sent for it, not our rendering of it.
    identity = (
        [str(raw.get(k)) for k in ("Id", "StartTime", "CenterId", "ClientId", "CallerNumber")]
        if isinstance(raw, dict)
        else [raw_json]
    )
    return {
        "record_hash": hashlib.sha256(orjson.dumps(identity)).hexdigest(),
        "call_id": call_id if isinstance(call_id, str) else None,
        "reason": reason,
        "raw_record": raw_json,
        "quarantined_at": loaded_at,
    }


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
                values = pa.array([_jsonable(v) for v in values.to_pylist()], pa.string())
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


def _with_tombstones(children: dict[str, pa.Array], call_ids: pa.Array) -> pa.Table:
    """Child rows plus one tombstone per call (``seq`` -1, never stored).

    ``(call_id, seq)`` is the child tables' primary key: a load job that dlt re-runs after a
    crash copies its file into staging twice, and the merge de-duplicates on that key.
    """
    real = pa.table({**children, TOMBSTONE_COLUMN: pa.nulls(len(children["call_id"]), pa.bool_())})
    tombstone_columns = {
        name: pa.nulls(len(call_ids), column.type) for name, column in children.items()
    }
    tombstone_columns["call_id"] = call_ids
    tombstone_columns["seq"] = pa.array(np.full(len(call_ids), -1, dtype=np.int64))
    tombstones = pa.table(
        tombstone_columns | {TOMBSTONE_COLUMN: pa.array(np.ones(len(call_ids), dtype=bool))}
    )
    return _keys_not_null(pa.concat_tables([tombstones, real]), "call_id", "seq")


def _interactions_table(kept: pa.StructArray, zones: pa.Array, call_utc: pa.Array) -> pa.Table:
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
    return _with_tombstones(children, ids)


def _forms_table(kept: pa.StructArray) -> pa.Table:
    ids = kept.field("Id")
    values, parents, seq = _child_positions(kept.field("CompletedFormIds"))
    children = {
        "call_id": ids.take(pa.array(parents, pa.int64())),
        "seq": pa.array(seq, pa.int64()),
        "form_id": values,
    }
    return _with_tombstones(children, ids)
