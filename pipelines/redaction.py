"""Every configured secret kept out of what the product writes: output, logs, errors, dlt's trace.

At start, each secret the configuration holds is registered with the client's redaction
(``hostedsuite.client.register_secret``), which scrubs every log record of the process and the
one ``error:`` line. A secret is any value of a setting whose name says so (``password``,
``secret``, ``token``, ``*_key``, ``*hook``), and the password inside any URL or connection string
(a PostgreSQL DSN, a DuckLake catalog, a ``base_url`` with user-info). dlt pickles each run's
trace, error messages included, into the pipeline folder: ``scrub_trace`` masks them there.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import dlt

from pipelines.hostedsuite.client import register_secret, registered_secrets

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
    """Masks every registered secret in the pipeline's pickled trace, in place.

    The trace cannot be unpickled and pickled again outside dlt (its schemas need dlt's run
    context), so the bytes are masked: each secret's UTF-8 bytes become as many ``*``, which
    keeps every length a pickle records, and so the file loadable.
    """
    path = Path(pipeline.working_dir) / TRACE_FILE
    if not path.is_file():
        return
    data = path.read_bytes()
    masked = mask(data, registered_secrets())
    if masked != data:
        temp = path.with_name(f".{TRACE_FILE}.masking")
        temp.write_bytes(masked)
        os.replace(temp, path)


def mask(data: bytes, secrets: frozenset[str]) -> bytes:
    """``data`` with each secret's UTF-8 bytes replaced by as many ``*``."""
    for secret in secrets:
        encoded = secret.encode()
        data = data.replace(encoded, b"*" * len(encoded))
    return data
