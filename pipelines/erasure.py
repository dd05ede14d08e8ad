"""Erasing one caller from the raw tables: which calls are theirs, and deleting them with every
row derived from them.

A caller is found by the digits of their number (``+1 (312) 555-0001`` = ``13125550001``) or by
its hash when the number was stored hashed, and optionally by their name (trimmed; or its
hash): a call matching either is theirs. Their calls go from ``calls``, ``calls__interactions``
and ``calls__completed_form_ids``; a quarantined record goes when it belongs to one of those
calls or carries the number or the name. dlt's staging tables (the last load's rows) and the
completed load packages in the pipeline folder are emptied too: they are copies. The marts are
rebuilt from what remains, and the destination purges the old versions (``purge``).

The erasure list gets keyed hashes of the call ids, the number's digits and the name, so that no
later read lands them again. Nothing here logs or returns a plain value.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from dlt.destinations.sql_client import SqlClientBase

from pipelines import sql_literals as lit
from pipelines.hostedsuite.privacy import PrivacyPolicy, digits
from pipelines.hostedsuite.settings import (
    CALL_ID_COLUMNS,
    CALLS_TABLE,
    FORMS_TABLE,
    INTERACTIONS_TABLE,
    QUARANTINE_TABLE,
)
from pipelines.privacy import (
    ERASED_CALL,
    ERASED_NAME,
    ERASED_NUMBER,
    add_to_erasure_list,
    has_table,
    table_columns,
)

# ids per DELETE statement
CHUNK: Final = 500


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase: a phone number (any formatting), and optionally a name."""

    number: str
    name: str | None = None

    def __post_init__(self) -> None:
        if not digits(self.number):
            raise ValueError("the caller's number has no digits")


@dataclass(frozen=True)
class Erased:
    """What one erasure removed from the raw tables (counts only)."""

    calls: int
    interactions: int
    forms: int
    quarantined: int
    staging_rows: int
    listed: int


def caller_filter(request: ErasureRequest, policy: PrivacyPolicy, columns: set[str]) -> str:
    """The SQL condition on ``calls`` that selects the caller's calls, plain or hashed
    (``columns``: those the table has; dlt creates none for a field never seen non-null)."""
    number = digits(request.number)
    conditions = ["FALSE"]
    if "caller_number" in columns:
        conditions.append(
            f"regexp_replace(coalesce(caller_number, ''), '[^0-9]', '', 'g') = {lit.text(number)}"
        )
        conditions.append(f"caller_number = {lit.text(policy.hash_number(number))}")
    if "caller_name" in columns and request.name and request.name.strip():
        conditions.append(f"trim(caller_name) = {lit.text(request.name.strip())}")
        conditions.append(f"caller_name = {lit.text(policy.hash_text(request.name))}")
    return "(" + " OR ".join(conditions) + ")"


def erase_caller(
    sql: SqlClientBase[Any], dataset: str, request: ErasureRequest, policy: PrivacyPolicy
) -> Erased:
    """Deletes the caller's rows from the raw and staging tables and lists their hashes.
    ``policy`` must hold the privacy key: the list is keyed."""
    entries = [(ERASED_NUMBER, policy.hash_number(request.number) or "")]
    if request.name and request.name.strip():
        entries.append((ERASED_NAME, policy.hash_text(request.name)))
    if not has_table(sql, dataset, CALLS_TABLE):
        listed = add_to_erasure_list(sql, dataset, policy, entries)
        return Erased(0, 0, 0, 0, 0, listed)
    condition = caller_filter(request, policy, table_columns(sql, dataset, CALLS_TABLE))
    rows = sql.execute_sql(f"SELECT id FROM {dataset}.{CALLS_TABLE} WHERE {condition}")
    ids = sorted({str(r[0]) for r in rows or []})
    entries += [(ERASED_CALL, policy.hash_call_id(call_id)) for call_id in ids]
    # listed first: a run killed before the deletes re-finds the calls, never the reverse
    listed = add_to_erasure_list(sql, dataset, policy, entries)
    counts = {CALLS_TABLE: 0, INTERACTIONS_TABLE: 0, FORMS_TABLE: 0}
    for start in range(0, len(ids), CHUNK):
        chunk = ", ".join(lit.text(i) for i in ids[start : start + CHUNK])
        for table in (INTERACTIONS_TABLE, FORMS_TABLE, CALLS_TABLE):
            if has_table(sql, dataset, table):
                key = CALL_ID_COLUMNS[table]
                counts[table] += _delete(sql, f"{dataset}.{table}", f"{key} IN ({chunk})")
    quarantined = _erase_quarantined(sql, dataset, set(ids), request, policy)
    staging = empty_staging(sql, f"{dataset}_staging")
    return Erased(
        counts[CALLS_TABLE],
        counts[INTERACTIONS_TABLE],
        counts[FORMS_TABLE],
        quarantined,
        staging,
        listed,
    )


def _delete(sql: SqlClientBase[Any], table: str, condition: str) -> int:
    before = _count(sql, table, condition)
    if before:
        sql.execute_sql(f"DELETE FROM {table} WHERE {condition}")
    return before


def _count(sql: SqlClientBase[Any], table: str, condition: str = "TRUE") -> int:
    rows = sql.execute_sql(f"SELECT count(*) FROM {table} WHERE {condition}")
    return int(rows[0][0]) if rows else 0


def _erase_quarantined(
    sql: SqlClientBase[Any],
    dataset: str,
    ids: set[str],
    request: ErasureRequest,
    policy: PrivacyPolicy,
) -> int:
    """Quarantined records of the erased calls, or carrying the number or the name (as sent,
    or hashed), whatever call they belong to."""
    if not has_table(sql, dataset, QUARANTINE_TABLE):
        return 0
    number = digits(request.number)
    numbers = {number, policy.hash_number(number)}
    name = (request.name or "").strip()
    names = {name, policy.hash_text(name)} if name else set()
    doomed = []
    table = f"{dataset}.{QUARANTINE_TABLE}"
    for record_hash, call_id, raw in (
        sql.execute_sql(f"SELECT record_hash, call_id, raw_record FROM {table}") or []
    ):
        if call_id in ids or _mentions(raw, numbers, names):
            doomed.append(str(record_hash))
    for start in range(0, len(doomed), CHUNK):
        chunk = ", ".join(lit.text(h) for h in doomed[start : start + CHUNK])
        sql.execute_sql(f"DELETE FROM {table} WHERE record_hash IN ({chunk})")
    return len(doomed)


def _mentions(raw: Any, numbers: set[str | None], names: set[str]) -> bool:
    try:
        record = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return False
    number, name = record.get("CallerNumber"), record.get("CallerName")
    return (isinstance(number, str) and (digits(number) in numbers or number in numbers)) or (
        isinstance(name, str) and name.strip() in names
    )


def empty_staging(sql: SqlClientBase[Any], staging_schema: str) -> int:
    """Deletes every row of dlt's staging tables (copies of the last load); returns how many."""
    rows = sql.execute_sql(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = {lit.text(staging_schema)} AND table_type = 'BASE TABLE'"
    )
    removed = 0
    for (table,) in rows or []:
        name = f"{staging_schema}.{table}"
        removed += _delete(sql, name, "TRUE")
    return removed


def delete_completed_packages(pipelines_dir: Path, pipeline_name: str) -> int:
    """Deletes the completed load packages dlt keeps in the pipeline folder (copies of the rows
    loaded); returns how many. Pending packages are never touched."""
    loaded = pipelines_dir / pipeline_name / "load" / "loaded"
    if not loaded.is_dir():
        return 0
    packages = [p for p in loaded.iterdir() if p.is_dir()]
    for package in packages:
        shutil.rmtree(package)
    return len(packages)
