"""Every configured secret kept out of what the product writes: output, logs, errors, dlt's trace.

At start, each secret the configuration holds is registered with the client's redaction
(``hostedsuite.client.register_secret``), which scrubs every log record of the process and the
one ``error:`` line. A secret is any value of a setting whose name says so (``password``,
``secret``, ``token``, ``*_key``, ``*hook``), and the password inside any URL or connection string
(a PostgreSQL DSN, a DuckLake catalog, a ``base_url`` with user-info). dlt pickles each run's
trace, error messages included, into the pipeline folder: ``scrub_trace`` rewrites it.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import tomllib
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import dlt

from pipelines.hostedsuite.client import redact, register_secret

SECRET_NAME: Final = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|HOOK$|^KEY$)", re.IGNORECASE)
# Settings that hold a URL or a connection string: only the password in them is secret.
CONNECTION_NAME: Final = re.compile(r"(CREDENTIALS|CATALOG|BASE_URL|DSN|_URL$)$", re.IGNORECASE)
LIBPQ_PASSWORD: Final = re.compile(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
# Shorter values are not redacted: "***" in place of every "1" or "on" would garble messages.
MIN_SECRET_LENGTH: Final = 4
TRACE_FILE: Final = "trace.pickle"


def register_configured_secrets(secrets_toml: Path = Path(".dlt/secrets.toml")) -> int:
    """Registers every secret of the environment and of ``secrets_toml``; returns how many."""
    found: set[str] = set()
    for name, value in os.environ.items():
        found |= secrets_of(name.rsplit("__", 1)[-1], value)
    if secrets_toml.is_file():
        try:
            document = tomllib.loads(secrets_toml.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            document = {}  # dlt reports a broken file itself
        for name, value in _leaves(document):
            found |= secrets_of(name, value)
    for secret in found:
        register_secret(secret)
    return len(found)


def secrets_of(name: str, value: object) -> set[str]:
    """The secret strings in one setting ``name = value``."""
    if not isinstance(value, str) or not value:
        return set()
    found = set(_connection_passwords(value))
    if SECRET_NAME.search(name) and not CONNECTION_NAME.search(name):
        found.add(value)
    return {secret for secret in found if len(secret) >= MIN_SECRET_LENGTH}


def _connection_passwords(value: str) -> list[str]:
    passwords = []
    if "://" in value:
        try:
            password = urlsplit(value.strip()).password
        except ValueError:
            password = None
        if password:
            passwords += [password, unquote(password)]
    for match in LIBPQ_PASSWORD.finditer(value):
        passwords.append(match.group(1).strip("'"))
    return passwords


def _leaves(document: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    leaves: list[tuple[str, Any]] = []
    for key, value in document.items():
        if isinstance(value, dict):
            leaves += _leaves(value, f"{prefix}{key}.")
        else:
            leaves.append((key, value))
    return leaves


def scrub_trace(pipeline: dlt.Pipeline) -> None:
    """Rewrites the pipeline's pickled trace with every registered secret redacted."""
    path = Path(pipeline.working_dir) / TRACE_FILE
    if not path.is_file():
        return
    try:
        trace = pickle.loads(path.read_bytes())
    except Exception:  # an unreadable trace is useless to dlt too: never keep it
        path.unlink(missing_ok=True)
        return
    cleaned = scrub(trace)
    temp = path.with_name(f".{TRACE_FILE}.scrubbing")
    temp.write_bytes(pickle.dumps(cleaned))
    os.replace(temp, path)


def scrub(value: Any) -> Any:
    """``value`` with every string in it redacted: named tuples, dataclasses, containers."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return value._replace(**{f: scrub(getattr(value, f)) for f in value._fields})  # type: ignore[attr-defined]
    if isinstance(value, list | tuple | set):
        return type(value)(scrub(item) for item in value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: scrub(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, BaseException):
        value.args = tuple(scrub(arg) for arg in value.args)
    return value
