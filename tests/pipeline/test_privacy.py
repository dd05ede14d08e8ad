"""The privacy policy: hashes worked out independently, the same repeat calls under ``hash`` as
under ``keep``, no plain caller value in anything a hashed run leaves, ``drop``, the key's
absence as one error, the key redacted, and a policy change refused and then applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
import pytest

from pipelines.hostedsuite.client import redact
from pipelines.hostedsuite.privacy import PrivacyPolicy
from pipelines.redaction import register_configured_secrets
from tests.artefacts import files_under, holding
from tests.privacy_cases import KEY, digits, policy_env, reserved_names

from .loader import Loader
from .warehouse import rows

EMULATOR: dict[str, Any] = {"calls": 1200, "seed": 8, "start": "2024-03-04", "days": 14}
# One caller number written two ways: by its digits they are the same caller.
REPEAT_FIRST, REPEAT_SECOND = "+1 (312) 555-0001", "13125550001"


def test_hashes_equal_values_worked_out_with_openssl() -> None:
    """HMAC-SHA-256 under KEY of ``<domain> NUL <value>``, computed with the openssl CLI:
    printf 'text\\x00Olga Brown' | openssl dgst -sha256 -hmac "$KEY", and for the number
    printf 'number\\x0013125550001' | openssl ... then the hex digest in decimal with bc."""
    policy = PrivacyPolicy.of({"CallerName": "hash", "CallerNumber": "hash"}, KEY.encode())
    assert policy.hash_text("  Olga Brown ") == (
        "aeb46b0aad5093d5cdd1a9a7313ce6a8ef9b997fc1807a0f81382cd12c4d05a2"
    )
    expected = "111042709158881121945080315906884413998218253794772412589256050749071293721560"
    assert policy.treat("CallerNumber", REPEAT_FIRST) == expected
    assert policy.treat("CallerNumber", REPEAT_SECOND) == expected
    assert policy.treat("CallerNumber", "Anonymous") is None  # no digits: withheld
    assert policy.treat("CallerName", "") == ""  # a blank identifies nobody
    dropped = PrivacyPolicy.of({"Notes": "drop"})
    assert dropped.treat("Notes", "Caller: Olga Brown") is None


def _add_repeat_pair(loader: Loader) -> tuple[str, str]:
    client = loader.emulator.truth().clients[0]["id"]
    first = pendulum.instance(loader.emulator.now).subtract(days=3)
    one = loader.emulator.add_call(client, first, REPEAT_FIRST)
    two = loader.emulator.add_call(client, first.add(hours=5), REPEAT_SECOND)
    return one, two


def _repeat_flags(path: Path) -> dict[str, bool]:
    found = rows(path, "SELECT call_id, is_repeat_call FROM analytics.fct_calls")
    return {str(call_id): bool(flag) for call_id, flag in found}


def test_hash_keeps_repeat_calls_and_leaves_no_plain_caller_value(loader_factory: Any) -> None:
    kept, hashed = loader_factory(**EMULATOR), loader_factory(**EMULATOR)
    pairs = [_add_repeat_pair(kept), _add_repeat_pair(hashed)]
    assert pairs[0] == pairs[1]  # the same data twice
    report = {"REPORT__AFTER_LOAD": "true", "RUNTIME__LOG_LEVEL": "DEBUG"}
    runs = [
        kept.cli(*kept.load_until_now(), env={"PRIVACY__HASH_KEY": KEY, **report}),
        hashed.cli(*hashed.load_until_now(), env={**policy_env("hash"), **report}),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]

    flags = [_repeat_flags(kept.duckdb_path), _repeat_flags(hashed.duckdb_path)]
    assert flags[0] == flags[1]
    assert sum(flags[0].values()) > 20
    first, second = pairs[0]
    assert flags[1][first] and not flags[1][second]

    truth = kept.emulator.truth()
    numbers = {c["caller_number"] for c in truth.calls} - {REPEAT_FIRST, REPEAT_SECOND}
    reserved = reserved_names()
    names = {c["caller_name"] for c in truth.calls if c["caller_name"] not in reserved}
    plain = [*numbers, *(n for n in names if len(n) >= 8)]
    # the search sees every number as sent and every name where they are kept...
    in_kept = holding(files_under(kept.duckdb_path.parent), plain)
    assert len(in_kept) == len(set(plain))
    # ...and finds none of them (nor a number's digits, nor the key) where a hashed run wrote
    needles = [*plain, *(digits(n) for n in numbers)]
    everything = files_under(hashed.duckdb_path.parent)
    assert any(p.name == "report.html" for p in everything)
    assert holding(everything, [*needles, KEY]) == {}
    output = runs[1].stdout + runs[1].stderr
    assert not [n for n in [*needles, KEY] if n in output]
    stored = rows(hashed.duckdb_path, "SELECT caller_number FROM hostedsuite.calls")
    assert all(n is None or (len(n) == 78 and n.isdigit()) for (n,) in stored)


def test_drop_lands_null(loader_factory: Any) -> None:
    loader = loader_factory(calls=200, seed=9, start="2024-03-04", days=4)
    run = loader.cli(*loader.load_until_now(), env=policy_env("drop", key=None))
    assert run.returncode == 0, run.stderr[-3000:]
    for column in ("caller_name", "caller_number", "transfer_to_name", "notes", "screen_pop"):
        found = rows(loader.duckdb_path, f"SELECT count({column}) FROM hostedsuite.calls")
        assert found[0][0] == 0, column
    assert rows(loader.duckdb_path, "SELECT count(*) FROM analytics.fct_calls")[0][0] == 200


def test_hash_without_a_key_is_one_clear_error(loader_factory: Any) -> None:
    loader = loader_factory(calls=50, seed=3, start="2024-03-04", days=2)
    run = loader.cli(*loader.load_until_now(), env={"PRIVACY__CALLER_NUMBER": "hash"})
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        'error: privacy: [privacy] caller_number = "hash" needs a key: set [privacy] hash_key '
        "in .dlt/secrets.toml (or env PRIVACY__HASH_KEY) to a random secret of at least 32 "
        "characters, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_hex(32))'`"
    ]
    assert not loader.duckdb_path.exists()


def test_the_key_is_a_redacted_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVACY__HASH_KEY", KEY)
    in_file = "another-privacy-key-from-secrets-toml-0123"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[privacy]\nhash_key = "{in_file}"\n')
    register_configured_secrets(secrets)
    assert redact(f"key {KEY} and {in_file}") == "key *** and ***"


def test_a_policy_change_is_refused_then_applied(loader_factory: Any) -> None:
    loader = loader_factory(**EMULATOR)
    env = {"PRIVACY__HASH_KEY": KEY}
    assert loader.cli(*loader.load_until_now(), env=env).returncode == 0
    before = _repeat_flags(loader.duckdb_path)

    refused = loader.cli(*loader.load_until_now(), env=policy_env("hash"))
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "caller_number: keep -> hash" in line and "make privacy-apply" in line

    applied = loader.cli("privacy-apply", env=policy_env("hash"))
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert "caller_number -> hash" in applied.stdout
    truth = loader.emulator.truth()
    numbers = {c["caller_number"] for c in truth.calls}
    reserved = reserved_names()
    names = {c["caller_name"] for c in truth.calls if c["caller_name"] not in reserved}
    needles = [*numbers, *(digits(n) for n in numbers), *(n for n in names if len(n) >= 8)]
    assert holding(files_under(loader.duckdb_path.parent), needles) == {}
    assert _repeat_flags(loader.duckdb_path) == before

    loader.emulator.advance(minutes=60, new_calls=15)
    again = loader.cli(*loader.load_until_now(), env=policy_env("hash"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert holding(files_under(loader.duckdb_path.parent), needles) == {}

    back = loader.cli("privacy-apply", env={"PRIVACY__HASH_KEY": KEY})
    assert back.returncode == 2
    [line] = back.stderr.strip().splitlines()
    assert "caller_number: hash -> keep" in line
    assert "needs values this warehouse does not hold" in line
