"""Applying a stricter privacy policy to the history a warehouse already holds.

Only a policy that hides more can be applied in place: ``keep -> hash``, ``keep -> drop`` and
``hash -> drop``. Any other change needs plain values the warehouse no longer holds (``hash ->
keep``, ``drop -> hash``, another key for hashed columns): it is refused with one line that says
to load a new warehouse. The raw calls and the quarantined records are rewritten value by value
(the plain values never go into a table of their own), ``content_hash`` is cleared (it was a
digest of the plain record; the next re-read stores the treated one), dlt's staging rows are
emptied, and the caller (``steps/privacy_apply.py``) rebuilds the marts and purges.
"""

from __future__ import annotations

import json
from typing import Any, Final

from dlt.destinations.sql_client import SqlClientBase

from pipelines import sql_literals as lit
from pipelines.erasure import empty_staging
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.privacy import DROP, HASH, KEEP, PERSONAL_FIELDS, PrivacyPolicy
from pipelines.hostedsuite.records import quarantine_identity, quarantine_json
from pipelines.hostedsuite.settings import CALLS_TABLE, CONTENT_HASH_COLUMN, QUARANTINE_TABLE
from pipelines.privacy import has_table, table_columns

IN_PLACE: Final = frozenset({(KEEP, HASH), (KEEP, DROP), (HASH, DROP)})
# values per UPDATE statement
CHUNK: Final = 200


def delta_policy(stored: dict[str, Any], policy: PrivacyPolicy) -> PrivacyPolicy:
    """The treatments that turn the stored history into ``policy``'s: the changed columns'
    new treatment, ``keep`` for the rest (a hashed value is never hashed again). Refuses a
    change that cannot be made in place."""
    current = policy.fingerprint()
    refused = []
    treatments = {}
    for api_field, column in PERSONAL_FIELDS.items():
        old, new = stored.get(column, KEEP), current[column]
        if old == new:
            continue
        if (old, new) not in IN_PLACE:
            refused.append(f"{column}: {old} -> {new}")
        treatments[api_field] = new
    hashed = [c for c in PERSONAL_FIELDS.values() if stored.get(c) == HASH and current[c] == HASH]
    if hashed and stored.get("key_id") != current.get("key_id"):
        refused.append("another hash_key for " + ", ".join(hashed))
    if refused:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"privacy-apply: {'; '.join(refused)} needs values this warehouse does not hold; "
            "load the history into a new warehouse under the new policy instead",
        )
    return PrivacyPolicy.of(treatments, policy.key)


def rewrite_history(
    sql: SqlClientBase[Any], dataset: str, stored: dict[str, Any], policy: PrivacyPolicy
) -> list[str]:
    """Rewrites the raw calls and quarantined records under ``policy``; returns summary lines."""
    delta = delta_policy(stored, policy)
    if delta.keeps_all:
        return ["privacy-apply: the stored history already follows [privacy]; nothing to rewrite"]
    lines = []
    calls = f"{dataset}.{CALLS_TABLE}"
    columns = table_columns(sql, dataset, CALLS_TABLE)
    for api_field, treatment in delta.treatments:
        column = PERSONAL_FIELDS[api_field]
        if treatment == KEEP:
            continue
        if column not in columns:
            lines.append(f"privacy-apply: {column} -> {treatment}: no such column (never loaded)")
            continue
        if treatment == DROP:
            rows = sql.execute_sql(f"SELECT count(*) FROM {calls} WHERE {column} IS NOT NULL")
            sql.execute_sql(f"UPDATE {calls} SET {column} = NULL WHERE {column} IS NOT NULL")
            changed = int(rows[0][0]) if rows else 0
        else:
            changed = _hash_column(sql, calls, column, api_field, delta)
        lines.append(f"privacy-apply: {column} -> {treatment}: {changed:,} values rewritten")
    if CONTENT_HASH_COLUMN in columns:
        sql.execute_sql(f"UPDATE {calls} SET {CONTENT_HASH_COLUMN} = NULL")
    quarantined = _rewrite_quarantine(sql, dataset, delta)
    staging = empty_staging(sql, f"{dataset}_staging")
    lines.append(
        f"privacy-apply: {quarantined:,} quarantined records rewritten, "
        f"{staging:,} dlt staging rows removed"
    )
    return lines


def _hash_column(
    sql: SqlClientBase[Any], table: str, column: str, api_field: str, delta: PrivacyPolicy
) -> int:
    rows = sql.execute_sql(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")
    values = [str(r[0]) for r in rows or []]
    changed = 0
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        cases = " ".join(
            f"WHEN {lit.text(v)} THEN {_nullable(delta.treat(api_field, v))}" for v in chunk
        )
        listed = ", ".join(lit.text(v) for v in chunk)
        counted = sql.execute_sql(f"SELECT count(*) FROM {table} WHERE {column} IN ({listed})")
        changed += int(counted[0][0]) if counted else 0
        sql.execute_sql(
            f"UPDATE {table} SET {column} = CASE {column} {cases} END WHERE {column} IN ({listed})"
        )
    return changed


def _nullable(value: Any) -> str:
    return "CAST(NULL AS VARCHAR)" if value is None else lit.text(value)


def _rewrite_quarantine(sql: SqlClientBase[Any], dataset: str, delta: PrivacyPolicy) -> int:
    if not has_table(sql, dataset, QUARANTINE_TABLE):
        return 0
    table = f"{dataset}.{QUARANTINE_TABLE}"
    rewritten = 0
    for record_hash, raw in sql.execute_sql(f"SELECT record_hash, raw_record FROM {table}") or []:
        try:
            record = json.loads(raw)
        except (TypeError, ValueError):
            record = raw
        treated = delta.treat_record(record)
        if isinstance(treated, dict):
            treated = {k: v for k, v in treated.items() if v is not None}
        raw_json = quarantine_json(treated)
        if raw_json == raw:
            continue
        sql.execute_sql(
            f"UPDATE {table} SET raw_record = {lit.text(raw_json)}, "
            f"record_hash = {lit.text(quarantine_identity(treated, raw_json))} "
            f"WHERE record_hash = {lit.text(record_hash)}"
        )
        rewritten += 1
    return rewritten
