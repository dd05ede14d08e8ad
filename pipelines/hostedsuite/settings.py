"""Constants of the HostedSuite source: routes, field names and defaults.

No PyArrow here (its types are in ``arrow_types.py``): the commands that never read a page
(``transform``, ``report``, ``sql``) import these constants, and start without PyArrow.
"""

from __future__ import annotations

from typing import Final

CALLS_ROUTE = "/api/calls"
CENTERS_ROUTE = "/api/centers"
CLIENTS_ROUTE = "/api/clients"

# Every key dlt injects from [sources.hostedsuite]: the parameters of ``source.hostedsuite`` and
# ``source.make_client``. Listed, not read from their signatures, because every command checks
# its settings first and importing the source costs PyArrow; tests/pipeline/
# test_unknown_settings.py keeps the list equal to the two signatures.
SOURCE_SETTINGS: Final = frozenset(
    {
        "backfill",
        "base_url",
        "calls_per_load",
        "center_id",
        "client_id",
        "customer_name",
        "default_timezone",
        "disable_stats",
        "erased",
        "lookback_hours",
        "max_windows",
        "page_size",
        "password",
        "privacy",
        "request_backoff_factor",
        "request_max_attempts",
        "request_max_retry_delay",
        "request_timeout",
        "start_date",
        "stored_hashes",
        "until",
        "user_name",
        "window_hours",
        "window_margin_hours",
        "workers",
    }
)

DEFAULT_LOOKBACK_HOURS = 48
DEFAULT_PAGE_SIZE = 1000
DEFAULT_WINDOW_HOURS = 168
DEFAULT_WORKERS = 4
DEFAULT_TIMEZONE = "UTC"
# A long incremental range is loaded in batches of about this many calls: each batch is one
# load package, committed with its cursor, so memory stays flat and a killed run resumes.
DEFAULT_CALLS_PER_LOAD = 100_000
# A batch has at most this many windows per worker.
BATCH_WINDOWS_PER_WORKER = 4
# Batches narrow their windows on dense data, but not below this: every request is widened by
# the centers' offset spread (see WINDOW_MARGIN_HOURS), so narrower windows mostly re-read
# their neighbours' calls.
MIN_WINDOW_HOURS = 48

# The API reads StartDate/EndDate either in each call's local wall time or in one server-wide
# zone (unconfirmed). Requests are widened by the spread of the centers' UTC offsets plus this
# margin, which also absorbs a DST change inside the window; the client then filters exactly.
WINDOW_MARGIN_HOURS = 2

# Wall-clock format sent in StartDate/EndDate. Seconds precision is all the API documents.
API_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

AUTH_FIELDS = ("CustomerName", "UserName", "Password")

# Transport statuses worth retrying; everything else 4xx fails fast.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# API field -> warehouse column, for the scalar fields of CallRecordInfo (in API order).
CALL_STRING_FIELDS = {
    "Id": "id",
    "ClientId": "client_id",
    "ClientName": "client_name",
    "CenterId": "center_id",
    "CallerName": "caller_name",
    "CallerNumber": "caller_number",
    "TransferToName": "transfer_to_name",
    "TransferToNumber": "transfer_to_number",
    "Notes": "notes",
    "AnsweredBy": "answered_by",
    "Server": "server",
    "ScreenPop": "screen_pop",
    "FlagNotes": "flag_notes",
    "Type": "type",
}
CALL_DOUBLE_FIELDS = {
    "DurationInSeconds": "duration_in_seconds",
    "RingTimeInSeconds": "ring_time_in_seconds",
    "HoldTimeInSeconds": "hold_time_in_seconds",
    "TalkTimeInSeconds": "talk_time_in_seconds",
    "TransferTimeInSeconds": "transfer_time_in_seconds",
    "WorkTimeInSeconds": "work_time_in_seconds",
}
CALL_INT_FIELDS = {"HoldCount": "hold_count"}
CALL_BOOL_FIELDS = {"Flagged": "flagged"}
KNOWN_CALL_FIELDS = frozenset(
    [
        *CALL_STRING_FIELDS,
        *CALL_DOUBLE_FIELDS,
        *CALL_INT_FIELDS,
        *CALL_BOOL_FIELDS,
        "StartTime",
        "Interactions",
        "CompletedFormIds",
    ]
)

CALLS_TABLE = "calls"
INTERACTIONS_TABLE = "calls__interactions"
FORMS_TABLE = "calls__completed_form_ids"
# The column of each raw call table that holds the call's id: the call's own row, its children
CALL_ID_COLUMNS: Final = {CALLS_TABLE: "id", INTERACTIONS_TABLE: "call_id", FORMS_TABLE: "call_id"}
QUARANTINE_TABLE = "calls_quarantine"
TOMBSTONE_COLUMN = "is_tombstone"
# A digest of what a call's rows are made from (see content_hash.content_hashes): a scheduled run
# re-reads the look-back and rewrites only the calls whose digest changed.
CONTENT_HASH_COLUMN = "content_hash"
# The key of a call on its row and on each of its child rows: its id's MD5 as two signed 64-bit
# integers (see call_keys.py). DuckDB's merge finds a re-loaded call's old rows by them.
CALL_KEY_COLUMNS: Final = ("call_key_hi", "call_key_lo")
# dlt's column of the load that wrote a row: a load writes a call's row and all of its children
LOAD_ID_COLUMN: Final = "_dlt_load_id"
# Part of every digest. Bump it when the code derives a call's rows differently from the same
# record (a new column, another rule): the next run then rewrites every call it re-reads.
ROW_DERIVATION_VERSION = 1

# CLDR's Windows->IANA table still names a few zones by their pre-rename IANA links (see IANA's
# `backward` file). Same rules, but analysts expect the current names.
CURRENT_IANA_NAMES = {
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Europe/Kiev": "Europe/Kyiv",
}
