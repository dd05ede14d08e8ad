"""The privacy settings and what the warehouse records of them: the policy it was loaded
under, and the erasure list.

``[privacy]`` names a treatment (``keep``, ``hash``, ``drop``) per personal column
(``hostedsuite/privacy.py``); ``[privacy] hash_key`` (a secret: ``.dlt/secrets.toml`` or env
``PRIVACY__HASH_KEY``) keys the hashes. The warehouse records the policy of its first load in
``hostedsuite.privacy_policy``: a later run under another policy (or another key) is refused,
since its rows would not match the stored ones, until ``hostedsuite privacy-apply`` has
rewritten the history. The erasure list (``hostedsuite.erasure_list``) holds keyed hashes
only, of the calls, numbers and names ``hostedsuite erase`` erased; the source never lands
them again.

Every statement is the SQL subset DuckDB, PostgreSQL and a DuckLake share, with literal values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import dlt
import pendulum
from dlt.destinations.sql_client import SqlClientBase

from pipelines import sql_literals as lit
from pipelines.config import checked_setting
from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.privacy import (
    HASH,
    KEEP,
    PERSONAL_FIELDS,
    TREATMENTS,
    ErasureList,
    PrivacyPolicy,
)

KEY_SETTING: Final = "privacy.hash_key"
KEY_ENV: Final = "PRIVACY__HASH_KEY"
MIN_KEY_LENGTH: Final = 32
POLICY_TABLE: Final = "privacy_policy"
ERASURE_TABLE: Final = "erasure_list"
# erasure_list.kind
ERASED_CALL, ERASED_NUMBER, ERASED_NAME = "call", "number", "name"
KEY_HINT: Final = (
    f"set [privacy] hash_key in .dlt/secrets.toml (or env {KEY_ENV}) to a random secret of at "
    f"least {MIN_KEY_LENGTH} characters, e.g. the output of "
    "`python -c 'import secrets; print(secrets.token_hex(32))'`"
)


def configured_key(required_for: str | None = None) -> bytes | None:
    """``[privacy] hash_key``; one line when ``required_for`` needs it and it is missing."""
    value = dlt.secrets.get(KEY_SETTING, str)
    if not value:
        if required_for:
            raise RunError(ExitCode.BAD_CONFIG, f"privacy: {required_for} needs a key: {KEY_HINT}")
        return None
    if len(str(value)) < MIN_KEY_LENGTH:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"privacy: [privacy] hash_key is shorter than {MIN_KEY_LENGTH} characters: {KEY_HINT}",
        )
    return str(value).encode()


def configured_policy() -> PrivacyPolicy:
    """The ``[privacy]`` treatments and key, checked (one line naming a bad setting)."""
    treatments = {}
    for api_field, column in PERSONAL_FIELDS.items():
        value = checked_setting(
            f"privacy.{column}",
            str,
            f"must be one of {', '.join(TREATMENTS)}",
            lambda v: v.strip().lower() in TREATMENTS,
        )
        treatments[api_field] = (value or KEEP).strip().lower()
    hashed = [PERSONAL_FIELDS[f] for f, t in treatments.items() if t == HASH]
    required = f'[privacy] {", ".join(hashed)} = "hash"' if hashed else None
    return PrivacyPolicy.of(treatments, configured_key(required))


def describe(fingerprint: dict[str, Any]) -> str:
    """A policy in one line: ``caller_name=hash, caller_number=hash, ...``."""
    return ", ".join(f"{c}={fingerprint.get(c, KEEP)}" for c in PERSONAL_FIELDS.values())


def changes(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The columns whose treatment differs (``notes: keep -> hash``), and a changed key."""
    found = [
        f"{c}: {stored.get(c, KEEP)} -> {current.get(c, KEEP)}"
        for c in PERSONAL_FIELDS.values()
        if stored.get(c, KEEP) != current.get(c, KEEP)
    ]
    hashed_before = any(stored.get(c) == HASH for c in PERSONAL_FIELDS.values())
    if hashed_before and current.get("key_id") and stored.get("key_id") != current.get("key_id"):
        found.append("hash_key: another key")
    return found


# -------------------------------------------------------------------- the warehouse's record


def has_table(sql: SqlClientBase[Any], dataset: str, table: str) -> bool:
    rows = sql.execute_sql(
        "SELECT count(*) FROM information_schema.tables "
        f"WHERE table_schema = {lit.text(dataset)} AND table_name = {lit.text(table)}"
    )
    return bool(rows and int(rows[0][0]))


def table_columns(sql: SqlClientBase[Any], dataset: str, table: str) -> set[str]:
    rows = sql.execute_sql(
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = {lit.text(dataset)} AND table_name = {lit.text(table)}"
    )
    return {str(r[0]) for r in rows or []}


def stored_policy(
    sql: SqlClientBase[Any], dataset: str, in_state: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The policy the warehouse was loaded under: its record, else ``in_state`` (what the
    pipeline state says a load wrote under, committed with that load), else ``keep``
    everywhere for a warehouse loaded before policies were recorded; None for an empty one."""
    if has_table(sql, dataset, POLICY_TABLE):
        rows = sql.execute_sql(f"SELECT policy FROM {dataset}.{POLICY_TABLE}")
        if rows:
            stored: dict[str, Any] = json.loads(rows[0][0])
            return stored
    if in_state:
        return dict(in_state)
    if has_table(sql, dataset, "calls"):
        return PrivacyPolicy().fingerprint()
    return None


def record_policy(sql: SqlClientBase[Any], dataset: str, policy: PrivacyPolicy) -> None:
    """Records ``policy`` as the one the warehouse holds (replacing any earlier record)."""
    sql.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {dataset}")
    sql.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {dataset}.{POLICY_TABLE} "
        "(policy VARCHAR, recorded_at TIMESTAMPTZ)"
    )
    sql.execute_sql(f"DELETE FROM {dataset}.{POLICY_TABLE}")
    sql.execute_sql(
        f"INSERT INTO {dataset}.{POLICY_TABLE} VALUES "
        f"({lit.text(json.dumps(policy.fingerprint(), sort_keys=True))}, "
        f"{lit.instant(pendulum.now('UTC'))})"
    )


def check_unchanged(stored: dict[str, Any] | None, policy: PrivacyPolicy) -> None:
    """Refuses a run whose policy differs from the one the warehouse was loaded under."""
    if stored is None:
        return
    changed = changes(stored, policy.fingerprint())
    if changed:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"privacy: [privacy] differs from the policy this warehouse was loaded under "
            f"({'; '.join(changed)}); rewrite the stored history with `make privacy-apply` "
            "(hostedsuite privacy-apply), or set [privacy] back",
        )


def erasure_list(
    sql: SqlClientBase[Any], dataset: str, policy: PrivacyPolicy | None = None
) -> ErasureList:
    """The erasure list; with ``policy``, refuses one made under another key (its hashes would
    match nothing: erased callers would land again) or with no key configured."""
    if not has_table(sql, dataset, ERASURE_TABLE):
        return ErasureList()
    if policy is not None:
        keys = sql.execute_sql(f"SELECT DISTINCT key_id FROM {dataset}.{ERASURE_TABLE}") or []
        if keys and (policy.key_id is None or {str(k[0]) for k in keys} != {policy.key_id}):
            raise RunError(
                ExitCode.BAD_CONFIG,
                "privacy: this warehouse has an erasure list made with a [privacy] hash_key "
                "that is not the one configured (or none is): configure that key, or erased "
                "callers would be loaded again",
            )
    rows = sql.execute_sql(f"SELECT kind, hash FROM {dataset}.{ERASURE_TABLE}") or []
    kinds: dict[str, set[str]] = {ERASED_CALL: set(), ERASED_NUMBER: set(), ERASED_NAME: set()}
    for kind, digest in rows:
        kinds.setdefault(str(kind), set()).add(str(digest))
    return ErasureList(
        frozenset(kinds[ERASED_CALL]),
        frozenset(kinds[ERASED_NUMBER]),
        frozenset(kinds[ERASED_NAME]),
    )


def add_to_erasure_list(
    sql: SqlClientBase[Any],
    dataset: str,
    policy: PrivacyPolicy,
    entries: Iterable[tuple[str, str]],
) -> int:
    """Adds (kind, hash) entries not already listed; returns how many were new."""
    sql.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {dataset}")
    sql.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {dataset}.{ERASURE_TABLE} "
        "(kind VARCHAR, hash VARCHAR, erased_at TIMESTAMPTZ, key_id VARCHAR)"
    )
    listed = erasure_list(sql, dataset, policy)
    have = {
        ERASED_CALL: listed.call_ids,
        ERASED_NUMBER: listed.numbers,
        ERASED_NAME: listed.names,
    }
    new = sorted({(k, h) for k, h in entries if h not in have[k]})
    now = lit.instant(pendulum.now("UTC"))
    for start in range(0, len(new), 500):
        values = ", ".join(
            f"({lit.text(k)}, {lit.text(h)}, {now}, {lit.text(policy.key_id)})"
            for k, h in new[start : start + 500]
        )
        sql.execute_sql(f"INSERT INTO {dataset}.{ERASURE_TABLE} VALUES {values}")
    return len(new)
