"""The Arrow types of a /api/calls page and of the rows made from it."""

from __future__ import annotations

import pyarrow as pa

from .settings import CALL_BOOL_FIELDS, CALL_DOUBLE_FIELDS, CALL_INT_FIELDS, CALL_STRING_FIELDS

INTERACTION_TYPE = pa.struct(
    [("StartTime", pa.string()), ("Type", pa.string()), ("Description", pa.string())]
)

# What the API is documented to send. Used as the JSON reader's explicit schema so that the
# fast path never guesses a type; a page that does not fit goes through the per-record path.
CALL_RECORD_SCHEMA = pa.schema(
    [(name, pa.string()) for name in CALL_STRING_FIELDS]
    + [("StartTime", pa.string())]
    + [(name, pa.float64()) for name in CALL_DOUBLE_FIELDS]
    + [(name, pa.int64()) for name in CALL_INT_FIELDS]
    + [(name, pa.bool_()) for name in CALL_BOOL_FIELDS]
    + [("Interactions", pa.list_(INTERACTION_TYPE)), ("CompletedFormIds", pa.list_(pa.string()))]
)
CALLS_PAGE_SCHEMA = pa.schema(
    [
        ("Items", pa.list_(pa.struct(list(CALL_RECORD_SCHEMA)))),
        ("Page", pa.int64()),
        ("TotalCount", pa.int64()),
        ("TotalPages", pa.int64()),
    ]
)

UTC_TS = pa.timestamp("us", tz="UTC")
LOCAL_TS = pa.timestamp("us")
