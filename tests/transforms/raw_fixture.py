"""A hand-built raw ``hostedsuite`` schema: 12 calls whose every measure is worked out by hand
in ``test_marts.py``. Built with plain SQL inserts, as dlt would leave the tables (including the
``_dlt_*`` columns and the child tables' tombstone rows), so the tests need no pipeline run.

Chicago (center C1, client K1) straddles both the 2024-03-10 DST change (02:00 CST -> 03:00 CDT)
and local midnight; Kolkata (center C2, client K2, UTC+5:30, no DST) straddles local midnight UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

CHICAGO = "America/Chicago"
KOLKATA = "Asia/Kolkata"

CALL_COLUMNS = (
    "id, client_id, client_name, center_id, start_time, start_time_local, caller_name, "
    "caller_number, transfer_to_name, transfer_to_number, notes, duration_in_seconds, "
    "ring_time_in_seconds, hold_time_in_seconds, hold_count, answered_by, server, "
    "talk_time_in_seconds, transfer_time_in_seconds, screen_pop, flagged, flag_notes, type, "
    "work_time_in_seconds, time_zone_id, _dlt_load_id, _dlt_id"
)

# id, client, center, UTC start, direction, agent, caller number,
# ring, talk, hold, hold count, transfer, work, duration, flagged, transfer-to number
CALLS: list[tuple[Any, ...]] = [
    # 23:50 CST on 03-09 local (before midnight and before the DST change); repeated by c04
    ("c01", "K1", "C1", "2024-03-10 05:50:00", "Incoming", "alice", "+13125550001",
     10, 100, 0, 0, 0, 20, 110, False, None),
    # 00:05 CST, held twice; its caller calls again (c08) only after 191 h: outside 168 h
    ("c02", "K1", "C1", "2024-03-10 06:05:00", "Incoming", "alice", "+13125550002",
     25, 200, 60, 2, 0, 30, 285, False, ""),
    # 01:55 CST, short abandon (ring 3 < 5); empty AnsweredBy as the API sends it
    ("c03", "K1", "C1", "2024-03-10 07:55:00", "Incoming", "", "+13125550003",
     3, 0, 0, 0, 0, 0, 3, False, None),
    # 03:10 CDT (after the change), abandoned (ring 30 >= 5); same number as c01, other format
    ("c04", "K1", "C1", "2024-03-10 08:10:00", "Incoming", None, "+1 312-555-0001",
     30, 0, 0, 0, 0, 0, 30, False, None),
    # 10:00 CDT, transferred (TransferToNumber, transfer time and a TransferCompleted event)
    ("c05", "K1", "C1", "2024-03-10 15:00:00", "Incoming", "bob", "+13125550004",
     5, 300, 0, 0, 45, 0, 350, False, "+13125559999"),
    # 10:07 CDT, outgoing, same number as c05: outgoing calls never make a repeat
    ("c06", "K1", "C1", "2024-03-10 15:07:00", "Outgoing", "bob", "+13125550004",
     8, 120, 0, 0, 0, 10, 128, False, None),
    # 10:14 CDT, ring exactly at the 20 s threshold, held once, flagged, two forms
    ("c07", "K1", "C1", "2024-03-10 15:14:00", "Incoming", "alice", "+13125550005",
     20, 60, 15, 1, 0, 0, 95, True, None),
    # 2024-03-18 00:10 CDT: c02's caller, 191 h 5 min after c02
    ("c08", "K1", "C1", "2024-03-18 05:10:00", "Incoming", "alice", "+13125550002",
     4, 50, 0, 0, 0, 5, 54, False, None),
    # Kolkata 09:00 IST, held once, no interactions recorded
    ("k01", "K2", "C2", "2024-03-10 03:30:00", "Incoming", "chandra", "+919800000009",
     12, 240, 30, 1, 0, 60, 282, False, None),
    # 09:10 IST, abandoned (ring 6), repeated 10 min later by k03
    ("k02", "K2", "C2", "2024-03-10 03:40:00", "Incoming", None, "+919800000001",
     6, 0, 0, 0, 0, 0, 6, False, None),
    # 09:20 IST, one form
    ("k03", "K2", "C2", "2024-03-10 03:50:00", "Incoming", "chandra", "+919800000001",
     2, 90, 0, 0, 0, 15, 92, False, None),
    # 23:59 IST, short abandon (ring 1)
    ("k04", "K2", "C2", "2024-03-10 18:29:00", "Incoming", None, "+919800000002",
     1, 0, 0, 0, 0, 0, 1, False, None),
]  # fmt: skip

ZONES = {"C1": CHICAGO, "C2": KOLKATA}

# call id -> [(seconds after call start, type)]
INTERACTIONS: dict[str, list[tuple[int, str]]] = {
    "c01": [(10, "Answer"), (110, "Hangup")],
    "c02": [(25, "Answer"), (60, "Hold"), (80, "Retrieved"), (120, "Hold"), (160, "Retrieved"),
            (285, "Hangup")],
    "c05": [(5, "Answer"), (300, "TransferAttempt"), (345, "TransferCompleted"), (350, "Hangup")],
    "c07": [(20, "Answer"), (50, "Hold"), (65, "Retrieved"), (95, "Hangup")],
}  # fmt: skip

FORMS: dict[str, list[str]] = {"c07": ["f1", "f2"], "k03": ["f3"]}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _zone(center: str) -> str:
    # A call whose CenterId is empty or unknown: the pipeline reads its times in its default zone.
    return ZONES.get(center, "UTC")


def _local(instant: datetime, center: str) -> datetime:
    return instant.astimezone(ZoneInfo(_zone(center))).replace(tzinfo=None)


def create_raw_tables(conn: duckdb.DuckDBPyConnection, schema: str = "hostedsuite") -> None:
    """The raw tables as dlt creates them (column names and types), empty."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    conn.execute(
        f"""
        CREATE TABLE {schema}.calls (
            id VARCHAR NOT NULL, client_id VARCHAR, client_name VARCHAR, center_id VARCHAR,
            start_time TIMESTAMPTZ, start_time_local TIMESTAMP, caller_name VARCHAR,
            caller_number VARCHAR, transfer_to_name VARCHAR, transfer_to_number VARCHAR,
            notes VARCHAR, duration_in_seconds DOUBLE, ring_time_in_seconds DOUBLE,
            hold_time_in_seconds DOUBLE, hold_count BIGINT, answered_by VARCHAR, server VARCHAR,
            talk_time_in_seconds DOUBLE, transfer_time_in_seconds DOUBLE, screen_pop VARCHAR,
            flagged BOOLEAN, flag_notes VARCHAR, type VARCHAR, work_time_in_seconds DOUBLE,
            time_zone_id VARCHAR, _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL
        );
        CREATE TABLE {schema}.calls__interactions (
            call_id VARCHAR NOT NULL, seq BIGINT, start_time TIMESTAMPTZ,
            start_time_local TIMESTAMP, type VARCHAR, description VARCHAR, is_tombstone BOOLEAN,
            _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL
        );
        CREATE TABLE {schema}.calls__completed_form_ids (
            call_id VARCHAR NOT NULL, form_id VARCHAR, is_tombstone BOOLEAN,
            _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL
        );
        CREATE TABLE {schema}.centers (
            id VARCHAR NOT NULL, date_last_modified TIMESTAMPTZ, name VARCHAR,
            address_line1 VARCHAR, address_city VARCHAR, address_state VARCHAR,
            address_postal_code VARCHAR, address_country VARCHAR, time_zone_id VARCHAR,
            iana_time_zone VARCHAR, support_email_address VARCHAR,
            third_party_account_id VARCHAR, _dlt_load_id VARCHAR NOT NULL,
            _dlt_id VARCHAR NOT NULL
        );
        CREATE TABLE {schema}.clients (
            id VARCHAR NOT NULL, date_last_modified TIMESTAMPTZ, name VARCHAR, center_id VARCHAR,
            center_name VARCHAR, third_party_account_id VARCHAR, industry_id VARCHAR,
            industry_name VARCHAR, location VARCHAR, call_allowance_type VARCHAR,
            call_allowance_amount DOUBLE, _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL
        );
        """
    )
    conn.execute("SET TimeZone = 'UTC'")


def insert_call(conn: duckdb.DuckDBPyConnection, row: tuple[Any, ...], schema: str) -> None:
    """One raw call row from a ``CALLS``-shaped tuple."""
    (call_id, client, center, start, direction, agent, caller, ring, talk, hold, hold_count,
     transfer, work, duration, flagged, transfer_to) = row  # fmt: skip
    start_utc = _utc(start)
    conn.execute(
        f"INSERT INTO {schema}.calls ({CALL_COLUMNS}) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            call_id, client, f"Client {client}", center, start_utc, _local(start_utc, center),
            f"Caller {caller}", caller, None, transfer_to, "", duration, ring, hold, hold_count,
            agent, "srv1", talk, transfer, "", flagged, "check" if flagged else None, direction,
            work, _zone(center), "load1", f"dlt-{call_id}-{start}",
        ],
    )  # fmt: skip


def insert_interactions(
    conn: duckdb.DuckDBPyConnection,
    row: tuple[Any, ...],
    events: list[tuple[int, str]],
    schema: str = "hostedsuite",
) -> None:
    """The interactions of the call ``row`` (a ``CALLS``-shaped tuple): (seconds after the call
    start, type) in list order, ``seq`` 0, 1, ..."""
    call_id, center, start = row[0], row[2], _utc(row[3])
    for seq, (offset, kind) in enumerate(events):
        instant = datetime.fromtimestamp(start.timestamp() + offset, UTC)
        conn.execute(
            f"INSERT INTO {schema}.calls__interactions VALUES (?, ?, ?, ?, ?, ?, NULL, "
            "'load1', ?)",
            [call_id, seq, instant, _local(instant, center), kind, f"{kind} event",
             f"i-{call_id}-{seq}"],
        )  # fmt: skip


def build_raw(conn: duckdb.DuckDBPyConnection, schema: str = "hostedsuite") -> None:
    """Creates and fills the raw schema with the 12 documented calls."""
    create_raw_tables(conn, schema)
    for row in CALLS:
        insert_call(conn, row, schema)
    by_id = {row[0]: row for row in CALLS}
    for call_id, row in by_id.items():
        # The pipeline writes a tombstone per call in each child table (hard-delete rows that
        # may survive in a destination without hard deletes); they must never become events.
        conn.execute(
            f"INSERT INTO {schema}.calls__interactions (call_id, seq, type, is_tombstone, "
            "_dlt_load_id, _dlt_id) VALUES (?, NULL, 'Hold', true, 'load1', ?)",
            [call_id, f"tomb-i-{call_id}"],
        )
        conn.execute(
            f"INSERT INTO {schema}.calls__completed_form_ids (call_id, form_id, is_tombstone, "
            "_dlt_load_id, _dlt_id) VALUES (?, 'tombstone-form', true, 'load1', ?)",
            [call_id, f"tomb-f-{call_id}"],
        )
        insert_interactions(conn, row, INTERACTIONS.get(call_id, []), schema)
        for form in FORMS.get(call_id, []):
            conn.execute(
                f"INSERT INTO {schema}.calls__completed_form_ids VALUES (?, ?, false, 'load1', ?)",
                [call_id, form, f"f-{call_id}-{form}"],
            )
    conn.execute(
        f"""
        INSERT INTO {schema}.centers VALUES
            ('C1', '2024-01-01 00:00:00+00', 'Chicago Center', '1 Main St', 'Chicago', 'IL',
             '60601', 'US', 'Central Standard Time', 'America/Chicago', 'chi@example.com',
             'tp-1', 'load1', 'ce1'),
            ('C2', '2024-01-01 00:00:00+00', 'Kolkata Center', '2 Park St', 'Kolkata', 'WB',
             '700016', 'IN', 'Asia/Kolkata', 'Asia/Kolkata', 'kol@example.com', 'tp-2', 'load1',
             'ce2');
        INSERT INTO {schema}.clients VALUES
            ('K1', '2024-01-01 00:00:00+00', 'Windy HVAC', 'C1', 'Chicago Center', 'tp-k1',
             'I1', 'HVAC', 'Chicago', 'Calls', 500, 'load1', 'cl1'),
            ('K2', '2024-01-01 00:00:00+00', 'Bengal Tea', 'C2', 'Kolkata Center', 'tp-k2',
             'I2', 'Retail', 'Kolkata', 'Minutes', 1000, 'load1', 'cl2');
        """
    )


def stamp_load(
    conn: duckdb.DuckDBPyConnection, load_id: str, call_ids: list[str], schema: str = "hostedsuite"
) -> None:
    """Marks ``call_ids`` as re-merged by the load ``load_id``, as dlt writes such a load: the
    call row and every child row of it carry the load's id (transforms/README.md: a call's
    children are never older than its row)."""
    for table, key in (
        ("calls", "id"),
        ("calls__interactions", "call_id"),
        ("calls__completed_form_ids", "call_id"),
    ):
        conn.execute(
            f"UPDATE {schema}.{table} SET _dlt_load_id = ? WHERE {key} IN ?", [load_id, call_ids]
        )
