"""Any error of a run as one ``RunError``: its root cause found inside dlt's wrappers, mapped to
an exit code and one line (a missing setting named by its real section and key).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigurationException,
    LookupTraces,
)

from pipelines.errors import ExitCode, RunError
from pipelines.hostedsuite.client import ApiError, AuthError, ConfigError, HostedSuiteError

# What DuckDB's postgres extension says when a lake's catalog refuses or cannot be reached
# (dlt may wrap it in an error of its own).
CATALOG_UNREACHABLE = ("Unable to connect to Postgres", "password authentication failed")


def describe_failure(
    exc: BaseException, step: str | None = None, committed: Sequence[Any] = ()
) -> RunError:
    """The ``RunError`` for any failure: the first cause in the chain we know, else FAILED.

    ``step``: the step that failed, named in messages that depend on it (memory).
    """
    committed = [*committed, *(exc.committed if isinstance(exc, RunError) else [])]
    chain = list(_cause_chain(exc))
    for current in chain:
        known = _known(current, step, bool(committed))
        if known is not None:
            return RunError(known[0], known[1], committed)
    root = chain[-1]
    text = str(root).strip().splitlines()
    return RunError(ExitCode.FAILED, f"{type(root).__name__}: {text[0] if text else ''}", committed)


def _known(
    current: BaseException, step: str | None, after_commit: bool = False
) -> tuple[ExitCode, str] | None:
    if isinstance(current, RunError):
        return current.code, str(current)
    if isinstance(current, AuthError):
        return ExitCode.AUTH, str(current)
    if isinstance(current, ConfigError):
        return ExitCode.BAD_CONFIG, str(current)
    if isinstance(current, ApiError | HostedSuiteError):
        return ExitCode.API, str(current)
    if isinstance(current, ConfigurationException):
        return ExitCode.BAD_CONFIG, config_message(current)
    if "Out of Memory" in str(current):
        return ExitCode.DESTINATION, memory_message(step, after_commit)
    if type(current).__name__ == "OperationalError" and "psycopg2" in type(current).__module__:
        first = str(current).strip().splitlines()[0] if str(current).strip() else ""
        return ExitCode.DESTINATION, f"cannot reach the PostgreSQL warehouse: {first}"
    said = [line.strip() for line in str(current).splitlines() if line.strip()]
    refused = [line for line in said if any(sign in line for sign in CATALOG_UNREACHABLE)]
    if refused:
        # the line that says why, wherever dlt's wrapper put it
        return ExitCode.DESTINATION, f"cannot reach the DuckLake catalog (PostgreSQL): {refused[0]}"
    if "duckdb" in type(current).__module__ and type(current).__name__ == "HTTPException":
        # the lake's data path in a bucket: missing, refused, unreachable
        first = str(current).strip().splitlines()[0]
        return ExitCode.DESTINATION, f"cannot write the lake's data path: {first}"
    if "duckdb" in type(current).__module__ and "lock" in str(current).lower():
        return ExitCode.DESTINATION, (
            "the DuckDB file is locked by another process (an open analyst session?); "
            "close it or retry later"
        )
    return None


def memory_message(step: str | None, after_commit: bool) -> str:
    """The one line for DuckDB's "Out of Memory": the step, the setting to raise, and what is
    already safe (a load keeps its package; the steps before a later step committed)."""
    if step == "load":
        kept = " (the load package is kept; the next run finishes it)"
    elif after_commit:
        kept = " (the steps before it committed)"
    else:
        kept = ""
    return (
        f"DuckDB ran out of its memory cap in the {step or 'run'} step; raise "
        f"[destination.duckdb] memory_limit and rerun{kept}"
    )


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors under it: dlt's ``PipelineStepFailed.exception``, then causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = getattr(current, "exception", None)
        if isinstance(nested, BaseException):
            current = nested
        elif current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__


def config_message(exc: ConfigurationException) -> str:
    """Missing settings named by their real section and keys, and where they can be set.

    dlt records, per missing field, every lookup it tried; the most specific section is the
    one a user writes (``[destination.postgres.credentials]``, ``[sources.hostedsuite]``).
    """
    if not isinstance(exc, ConfigFieldMissingException):
        return str(exc).strip().splitlines()[0]
    by_section: dict[tuple[str, ...], list[str]] = {}
    for field, traces in _missing(exc.traces):
        by_section.setdefault(_section(traces), []).append(field)
    parts = []
    for section, fields in by_section.items():
        name = ".".join(section)
        keys = ", ".join(f"{name}.{field}" if name else field for field in fields)
        env = ", ".join("__".join([*(s.upper() for s in section), f.upper()]) for f in fields)
        parts.append(f"{keys} (.dlt/secrets.toml or .dlt/config.toml [{name}], or env {env})")
    return "missing configuration: " + "; ".join(parts)


def _missing(traces: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    for field, field_traces in traces.items():
        nested = [t for t in field_traces if isinstance(t, LookupTraces)]
        if nested:
            for inner in nested:
                yield from _missing(inner.traces)
        else:
            yield field, list(field_traces)


def _section(traces: Sequence[Any]) -> tuple[str, ...]:
    """The most specific section looked up; a source named like its section
    (``sources.hostedsuite.hostedsuite``) is written once."""
    best: tuple[str, ...] = ()
    for trace in traces:
        sections = [s for i, s in enumerate(trace.sections) if i == 0 or s != trace.sections[i - 1]]
        if len(sections) > len(best):
            best = tuple(sections)
    return best
