"""HTTP, paging, time-zone and page-to-Arrow helpers for the HostedSuite source.

Everything here is plain Python (no dlt decorators) so it can be tested and reused by the
backfill and verify commands. The rules it implements are in ``shared/hostedsuite-api.md``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import re
import threading
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import orjson
import pendulum
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from tzlocal.windows_tz import win_tz

from .settings import (
    API_DATETIME_FORMAT,
    BATCH_WINDOWS_PER_WORKER,
    CALL_BOOL_FIELDS,
    CALL_DOUBLE_FIELDS,
    CALL_INT_FIELDS,
    CALL_RECORD_SCHEMA,
    CALL_STRING_FIELDS,
    CALLS_PAGE_SCHEMA,
    CALLS_ROUTE,
    CURRENT_IANA_NAMES,
    INTERACTION_TYPE,
    KNOWN_CALL_FIELDS,
    LOCAL_TS,
    MIN_WINDOW_HOURS,
    RETRY_STATUSES,
    TOMBSTONE_COLUMN,
    UTC_TS,
    WINDOW_MARGIN_HOURS,
)

logger = logging.getLogger("hostedsuite")


# --------------------------------------------------------------------------------------------
# Errors. Messages are built from redacted text only, so they are safe to print and to store
# in dlt's trace.
# --------------------------------------------------------------------------------------------
class HostedSuiteError(Exception):
    """Base class of errors with a one-line, password-free message."""


class ConfigError(HostedSuiteError):
    """Bad or missing configuration."""


class AuthError(HostedSuiteError):
    """HostedSuite refused the credentials (401, or ErrorCode Unauthorized on any status)."""


class ApiError(HostedSuiteError):
    """A request failed for good: a non-retryable status, or retries exhausted."""


class TransientError(HostedSuiteError):
    """A failure worth retrying: 429/5xx, reset, timeout or an invalid (truncated) body."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------
# Secrets: HostedSuite error bodies may echo the request, password included.
# --------------------------------------------------------------------------------------------
_PASSWORD_JSON = re.compile(r'("?Password"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)', re.I)
_SECRETS: set[str] = set()
_factory_lock = threading.Lock()
_factory_installed = False


def redact(text: str) -> str:
    """Removes every registered secret and any ``"Password": ...`` pair from ``text``."""
    text = _PASSWORD_JSON.sub(r'\1"***"', text)
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def register_secret(secret: str) -> None:
    """Redacts ``secret`` from every log record of this process from now on.

    A log-record factory is used rather than a handler filter because it also covers records
    of third-party loggers (dlt, urllib3) whatever handlers they propagate to.
    """
    global _factory_installed
    if not secret:
        return
    _SECRETS.add(secret)
    with _factory_lock:
        if _factory_installed:
            return
        base_factory = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = base_factory(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logger's problem, not ours
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(redacting_factory)
        _factory_installed = True


def validate_base_url(base_url: str) -> str:
    """Returns the URL without a trailing slash; refuses plain http except to loopback."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url must look like https://<customer>.hostedsuite.com, got {base_url!r}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: credentials travel in the request body; "
            "use https:// (http is allowed only to loopback, e.g. the emulator)"
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff; ``Retry-After`` wins when the server sends it."""

    max_attempts: int = 6
    backoff_factor: float = 1.0
    max_delay: float = 60.0
    timeout: float = 60.0


class HostedSuiteClient:
    """POSTs JSON bodies with the auth fields added, retrying transient failures.

    One ``requests.Session`` per thread: sessions are not thread-safe, and keep-alive per
    worker is what makes paging fast.
    """

    def __init__(
        self,
        base_url: str,
        customer_name: str,
        user_name: str,
        password: str,
        policy: RetryPolicy | None = None,
    ) -> None:
        for name, value in (("customer_name", customer_name), ("user_name", user_name)):
            if not value:
                raise ConfigError(f"missing sources.hostedsuite.{name}")
        if not password:
            raise ConfigError(
                "missing sources.hostedsuite.password "
                "(set it in .dlt/secrets.toml or SOURCES__HOSTEDSUITE__PASSWORD)"
            )
        register_secret(password)
        self.base_url = validate_base_url(base_url)
        self._auth = {"CustomerName": customer_name, "UserName": user_name, "Password": password}
        self.policy = policy or RetryPolicy()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(
                {"Content-Type": "application/json", "Accept": "application/json"}
            )
            self._local.session = session
        return session

    def post(
        self, route: str, body: dict[str, Any], what: str, parse: Callable[[bytes], Any]
    ) -> Any:
        """POSTs ``body`` (a fresh dict is built per attempt) and returns ``parse(content)``.

        ``parse`` runs inside the retry so that a truncated 200 body is fetched again.
        ``what`` names the request in errors, e.g. "calls 2024-03-01..2024-03-08 page 3".
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            before_sleep=lambda state: logger.warning(
                "retrying %s after: %s", what, state.outcome.exception() if state.outcome else ""
            ),
        )
        try:
            for attempt in retrying:
                with attempt:
                    return parse(self._post_once(route, body, what))
        except TransientError as exc:
            raise ApiError(
                f"{what}: gave up after {self.policy.max_attempts} attempts: {exc}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.policy.max_delay)
        backoff = wait_exponential(multiplier=self.policy.backoff_factor, max=self.policy.max_delay)
        return float(backoff(state))

    def _post_once(self, route: str, body: dict[str, Any], what: str) -> bytes:
        payload = orjson.dumps({**body, **self._auth})
        try:
            response = self._session().post(
                self.base_url + route, data=payload, timeout=self.policy.timeout
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            if _is_unreachable(exc):
                raise ApiError(f"cannot reach {self.base_url}: {type(exc).__name__}") from None
            raise TransientError(f"{type(exc).__name__} on {what}") from None
        except requests.RequestException as exc:
            raise TransientError(f"{type(exc).__name__} on {what}") from None
        if response.status_code == 200:
            return response.content
        raise _status_error(response, what)


def _is_unreachable(exc: requests.RequestException) -> bool:
    """A refused connection or unknown host will not heal by retrying within this run."""
    text = str(exc)
    return any(
        marker in text
        for marker in ("Name or service not known", "nodename nor servname", "Failed to resolve")
    )


def _status_error(response: requests.Response, what: str) -> HostedSuiteError:
    status = response.status_code
    error_code, message = _response_status(response.content)
    if status == 401 or error_code == "Unauthorized":
        code = f", {error_code}" if error_code else ""
        return AuthError(
            f"HostedSuite refused the credentials (HTTP {status}{code}): "
            "check customer_name, user_name and password"
        )
    if status in RETRY_STATUSES:
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        return TransientError(f"HTTP {status} on {what}", retry_after)
    detail = f": {error_code}: {message}" if error_code or message else ""
    return ApiError(redact(f"{what}: HTTP {status}{detail}")[:500])


def _response_status(content: bytes) -> tuple[str, str]:
    try:
        status = orjson.loads(content).get("ResponseStatus") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return "", ""
    # The message may echo the request; keep only what precedes the echo, then redact anyway.
    message = str(status.get("Message") or "").split("Request:", 1)[0].strip()
    return str(status.get("ErrorCode") or ""), redact(message)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = pendulum.from_format(value, "ddd, DD MMM YYYY HH:mm:ss z")
        except ValueError:
            return None
        return max(0.0, (when - pendulum.now("UTC")).total_seconds())


# --------------------------------------------------------------------------------------------
# Time zones
# --------------------------------------------------------------------------------------------
def to_iana(time_zone_id: str | None, default: str) -> str:
    """Maps a center's ``TimeZoneId`` (IANA or Windows id) to an IANA zone name.

    Windows ids are mapped with the CLDR table shipped in ``tzlocal`` (kept in step with
    Unicode's windowsZones.xml), not a hand-written list.
    """
    candidate = (time_zone_id or "").strip()
    if not candidate:
        return default
    candidate = win_tz.get(candidate, candidate)
    try:
        zoneinfo.ZoneInfo(candidate)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown TimeZoneId %r, using default %s", candidate, default)
        return default
    return CURRENT_IANA_NAMES.get(candidate, candidate)


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end) of call start times."""

    start: pendulum.DateTime
    end: pendulum.DateTime

    @property
    def label(self) -> str:
        return f"{self.start.to_iso8601_string()}..{self.end.to_iso8601_string()}"


def split_windows(start: pendulum.DateTime, end: pendulum.DateTime, hours: float) -> list[Window]:
    """Splits [start, end) into consecutive windows of at most ``hours``."""
    windows: list[Window] = []
    step = timedelta(hours=hours)
    cursor = start
    while cursor < end:
        upper = min(cursor + step, end)
        windows.append(Window(cursor, upper))
        cursor = upper
    return windows


@dataclass(frozen=True)
class BatchPlan:
    """How the next load of a long incremental range is cut into windows."""

    window_hours: float
    max_windows: int


def plan_batch(
    calls_per_hour: float | None, window_hours: float, workers: int, calls_per_load: int
) -> BatchPlan:
    """Windows narrow enough that one load holds about ``calls_per_load`` calls (as many
    windows as fit), never narrower than ``MIN_WINDOW_HOURS`` (on very dense data a batch then
    has fewer windows than workers). Without a density estimate, one round of the narrowest
    windows; with no calls seen, ``BATCH_WINDOWS_PER_WORKER`` windows per worker."""
    narrowest = min(window_hours, MIN_WINDOW_HOURS)
    most = workers * BATCH_WINDOWS_PER_WORKER
    if calls_per_hour is None:
        return BatchPlan(narrowest, workers)
    if calls_per_hour <= 0:
        return BatchPlan(window_hours, most)
    width = max(narrowest, min(window_hours, calls_per_load / workers / calls_per_hour))
    fitting = int(calls_per_load // (calls_per_hour * width))
    return BatchPlan(width, max(1, fitting))


def request_bounds(window: Window, zones: Iterable[str]) -> tuple[str, str]:
    """The StartDate/EndDate strings that cover ``window`` whatever zone the server reads.

    The server may compare against each call's local wall time or against one server-wide
    zone (UTC, or a center's). Widening by the smallest and largest offset of those zones,
    plus a margin for a DST change inside the window, covers every reading; the client then
    keeps exactly the calls whose UTC start lies in the window.
    """
    offsets = [0.0]
    for zone in set(zones):
        for instant in (window.start, window.end):
            offset = instant.in_timezone(zone).utcoffset()
            offsets.append(offset.total_seconds() if offset else 0.0)
    margin = WINDOW_MARGIN_HOURS * 3600
    lower = window.start.naive() + timedelta(seconds=min(offsets) - margin)
    upper = window.end.naive() + timedelta(seconds=max(offsets) + margin)
    return lower.strftime(API_DATETIME_FORMAT), upper.strftime(API_DATETIME_FORMAT)


# --------------------------------------------------------------------------------------------
# Parsing StartTime strings, vectorised
# --------------------------------------------------------------------------------------------
_OFFSET_RE = r"(Z|[+-]\d{2}:?\d{2})$"
_ISO_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$"
_US_RE = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AaPp][Mm]$"
_NULL_STR = pa.scalar(None, pa.string())


def parse_start_times(texts: pa.Array, zones: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Parses API time strings into (UTC instant, local wall time) arrays.

    Offset-less strings are local wall time in the row's zone; ambiguous and non-existent
    local times resolve to the earliest instant, deterministically. Unparseable strings give
    nulls (the caller quarantines those records).
    """
    texts = pc.utf8_trim_whitespace(texts.cast(pa.string()))
    has_offset = pc.fill_null(pc.match_substring_regex(texts, _OFFSET_RE), False)
    is_iso = pc.fill_null(pc.match_substring_regex(texts, _ISO_RE), False)
    is_us = pc.fill_null(pc.match_substring_regex(texts, _US_RE), False)

    naive = pc.coalesce(
        _cast_or_parse(pc.if_else(is_iso, texts, _NULL_STR), pa.timestamp("ns")),
        pc.strptime(
            pc.if_else(is_us, texts, _NULL_STR),
            format="%m/%d/%Y %I:%M:%S %p",
            unit="ns",
            error_is_null=True,
        ),
    )
    utc_given = _cast_or_parse(pc.if_else(has_offset, texts, _NULL_STR), pa.timestamp("ns", "UTC"))
    utc_from_local = pa.nulls(len(texts), pa.timestamp("ns", "UTC"))
    local_from_utc = pa.nulls(len(texts), pa.timestamp("ns"))
    for zone in pc.unique(zones).to_pylist():
        in_zone = pc.equal(zones, zone)
        as_utc = pc.assume_timezone(
            naive, timezone=zone, ambiguous="earliest", nonexistent="earliest"
        ).cast(pa.timestamp("ns", "UTC"))
        utc_from_local = pc.if_else(in_zone, as_utc, utc_from_local)
        wall = pc.local_timestamp(utc_given.cast(pa.timestamp("ns", zone)))
        local_from_utc = pc.if_else(in_zone, wall, local_from_utc)
    utc = pc.coalesce(utc_given, utc_from_local)
    local = pc.if_else(has_offset, local_from_utc, naive)
    return pc.cast(utc, UTC_TS, safe=False), pc.cast(local, LOCAL_TS, safe=False)


def _cast_or_parse(texts: pa.Array, type_: pa.DataType) -> pa.Array:
    """Vectorised cast; on a value Arrow rejects (e.g. 2024-02-30) parse one by one to nulls."""
    try:
        return texts.cast(type_)
    except pa.ArrowInvalid:
        return pa.array([_cast_one(text, type_) for text in texts.to_pylist()], type_)


def _cast_one(text: str | None, type_: pa.DataType) -> Any:
    if text is None:
        return None
    try:
        return pa.scalar(text).cast(type_).as_py()
    except pa.ArrowInvalid:
        return None


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------
@dataclass
class CallsPage:
    """One parsed page: the items as a StructArray plus the paging fields."""

    items: pa.StructArray
    page: int
    total_count: int
    rejected: list[tuple[dict[str, Any] | Any, str]] = field(default_factory=list)

    @cached_property
    def ids(self) -> list[str | None]:
        """The items' ids as Python strings, built once: the paging and the per-window dedupe
        both keep sets of them, and sharing the string objects halves that memory."""
        ids: list[str | None] = self.items.field("Id").to_pylist()
        return ids


def parse_calls_page(content: bytes) -> CallsPage:
    """Parses a /api/calls response body.

    Fast path: Arrow's JSON reader with the documented schema (C speed, no Python objects
    per record). If a record does not fit the schema (a vendor bug, a new type), the page
    goes through the per-record path, which keeps good records and reports bad ones.
    Invalid JSON (e.g. a truncated body) raises TransientError so the request is retried.
    """
    try:
        table = pa_json.read_json(
            pa.py_buffer(content),
            read_options=pa_json.ReadOptions(block_size=max(len(content) + 1, 1 << 20)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=CALLS_PAGE_SCHEMA,
                unexpected_field_behavior="infer",
                newlines_in_values=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _parse_calls_page_per_record(content)
    if table.num_rows != 1:
        raise TransientError("response body is not one JSON object")
    items = table.column("Items").combine_chunks()
    structs = pc.list_flatten(items) if len(items) else pa.array([], items.type.value_type)
    return CallsPage(
        items=structs,
        page=int(table.column("Page")[0].as_py() or 0),
        total_count=int(table.column("TotalCount")[0].as_py() or 0),
    )


def parse_json(content: bytes) -> Any:
    """A JSON response body. Invalid JSON after HTTP 200 is a body cut off in transit, so it
    is a transient error: ``post`` fetches it again."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise TransientError("invalid JSON in response body (truncated?)") from None


def _parse_calls_page_per_record(content: bytes) -> CallsPage:
    body = parse_json(content)
    if not isinstance(body, dict) or not isinstance(body.get("Items", []), list):
        raise TransientError("response body is not a calls page")
    good: list[dict[str, Any]] = []
    rejected: list[tuple[dict[str, Any] | Any, str]] = []
    for raw in body.get("Items") or []:
        record, problems = coerce_call_record(raw)
        if record is None:
            rejected.append((raw, "; ".join(problems)))
            continue
        good.append(record)
        if problems:
            # Kept with a flag (dq_issues); the raw record is quarantined too, so nothing the
            # vendor sent is lost even where a field had to be dropped.
            rejected.append((raw, "kept with issues: " + "; ".join(problems)))
    extra = sorted({k for r in good for k in r if k not in KNOWN_CALL_FIELDS and k != "_issues"})
    schema = pa.struct([*CALL_RECORD_SCHEMA, pa.field("_issues", pa.string())])
    items = pa.array([{k: r.get(k) for k in schema.names} for r in good], schema)
    for name in extra:
        column = pa.array([_jsonable(r.get(name)) for r in good])
        items = pa.StructArray.from_arrays(
            [*items.flatten(), column], names=[*items.type.names, name]
        )
    return CallsPage(
        items=items,
        page=int(body.get("Page") or 0),
        total_count=int(body.get("TotalCount") or 0),
        rejected=rejected,
    )


def _jsonable(value: Any) -> Any:
    """Nested unknown values are kept as JSON text so their column type stays stable."""
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def coerce_call_record(raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Validates one call record. Returns (record or None if unloadable, problems)."""
    if not isinstance(raw, dict):
        return None, ["record is not an object"]
    problems: list[str] = []
    record: dict[str, Any] = dict(raw)
    if not isinstance(raw.get("Id"), str) or not raw["Id"].strip():
        return None, ["missing or empty Id"]
    if not isinstance(raw.get("StartTime"), str) or not raw["StartTime"].strip():
        return None, ["missing StartTime"]
    for name in CALL_STRING_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            record[name] = str(value)
    for name in (*CALL_DOUBLE_FIELDS, *CALL_INT_FIELDS):
        record[name] = _coerce_number(name, raw.get(name), problems, name in CALL_INT_FIELDS)
    for name in CALL_BOOL_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, bool):
            problems.append(f"{name} is not a boolean")
            record[name] = None
    interactions = raw.get("Interactions")
    if interactions is not None and not (
        isinstance(interactions, list) and all(isinstance(i, dict) for i in interactions)
    ):
        problems.append("Interactions is not a list of objects")
        record["Interactions"] = None
    elif interactions:
        record["Interactions"] = [
            {k: (None if i.get(k) is None else str(i.get(k))) for k in INTERACTION_TYPE.names}
            for i in interactions
        ]
    forms = raw.get("CompletedFormIds")
    if forms is not None and not isinstance(forms, list):
        problems.append("CompletedFormIds is not a list")
        record["CompletedFormIds"] = None
    elif forms:
        record["CompletedFormIds"] = [str(f) for f in forms if f is not None]
    record["_issues"] = "; ".join(problems) or None
    return record, problems


def _coerce_number(name: str, value: Any, problems: list[str], integer: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.append(f"{name} is not a number")
        return None
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{name} is not a number: {str(value)[:40]!r}")
        return None
    return int(number) if integer else number


def snake_case(name: str) -> str:
    """PascalCase -> snake_case: ``TalkTimeInSeconds`` -> ``talk_time_in_seconds``."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower()


# --------------------------------------------------------------------------------------------
# Page -> warehouse tables
# --------------------------------------------------------------------------------------------
@dataclass
class PageTables:
    """The rows one page contributes to each table."""

    calls: pa.Table
    interactions: pa.Table
    forms: pa.Table
    quarantine: list[dict[str, Any]]


def page_to_tables(
    page: CallsPage,
    zone_of_center: Callable[[str | None], str],
    window: Window,
    seen_ids: set[str],
    loaded_at: datetime,
) -> PageTables:
    """Builds the calls, interactions and form-id tables for the records of ``page`` that
    start inside ``window`` and were not already seen in this window.

    Every kept call also gets one tombstone row in each child table: the child tables merge
    on ``call_id`` with delete-insert, and the tombstone (a hard-delete row) makes the merge
    replace a re-read call's children even when it now has none.
    """
    items = page.items
    ids = items.field("Id")
    zones = pa.array([zone_of_center(c) for c in items.field("CenterId").to_pylist()], pa.string())
    utc, local = parse_start_times(items.field("StartTime"), zones)

    quarantine = [_quarantine_row(raw, reason, loaded_at) for raw, reason in page.rejected]
    bad_time = pc.is_null(utc)
    for position in np.flatnonzero(bad_time.to_numpy(zero_copy_only=False)):
        raw = _struct_row(items, int(position))
        quarantine.append(_quarantine_row(raw, "unparseable StartTime", loaded_at))
    bad_id = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    for position in np.flatnonzero(bad_id.to_numpy(zero_copy_only=False)):
        quarantine.append(
            _quarantine_row(_struct_row(items, int(position)), "missing or empty Id", loaded_at)
        )

    in_window = pc.and_(
        pc.greater_equal(utc, pa.scalar(window.start, UTC_TS)),
        pc.less(utc, pa.scalar(window.end, UTC_TS)),
    )
    keep_mask = pc.fill_null(pc.and_(in_window, pc.invert(bad_id)), False).to_numpy(
        zero_copy_only=False
    )
    # Dedupe within the window: a capped or shifting page may repeat records.
    for row, call_id in enumerate(page.ids):
        if keep_mask[row] and call_id is not None:  # a null id is never kept (bad_id)
            if call_id in seen_ids:
                keep_mask[row] = False
            else:
                seen_ids.add(call_id)
    keep = pa.array(keep_mask)
    kept = items.filter(keep)
    kept_zones, kept_utc, kept_local = zones.filter(keep), utc.filter(keep), local.filter(keep)
    calls = _calls_table(kept, kept_utc, kept_local, kept_zones)
    return PageTables(
        calls=calls,
        interactions=_interactions_table(kept, kept_zones),
        forms=_forms_table(kept),
        quarantine=quarantine,
    )


def _struct_row(items: pa.StructArray, position: int) -> dict[str, Any]:
    row: dict[str, Any] = items[position].as_py()
    return row


def _quarantine_row(raw: Any, reason: str, loaded_at: datetime) -> dict[str, Any]:
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if v is not None and k != "_issues"}
    raw_json = orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS).decode()
    call_id = raw.get("Id") if isinstance(raw, dict) else None
    # The same record can arrive through overlapping (widened) requests and through either
    # parsing path, so its identity is what the vendor sent for it, not our rendering of it.
    identity = (
        [str(raw.get(k)) for k in ("Id", "StartTime", "CenterId", "ClientId", "CallerNumber")]
        if isinstance(raw, dict)
        else [raw_json]
    )
    return {
        "record_hash": hashlib.sha256(orjson.dumps(identity)).hexdigest(),
        "call_id": call_id if isinstance(call_id, str) else None,
        "reason": reason,
        "raw_record": raw_json,
        "quarantined_at": loaded_at,
    }


def _calls_table(kept: pa.StructArray, utc: pa.Array, local: pa.Array, zones: pa.Array) -> pa.Table:
    columns: dict[str, pa.Array] = {"id": kept.field("Id")}
    for api_name, column in CALL_STRING_FIELDS.items():
        if api_name != "Id":
            columns[column] = kept.field(api_name)
    columns["start_time"] = utc
    columns["start_time_local"] = local
    for fields in (CALL_DOUBLE_FIELDS, CALL_INT_FIELDS, CALL_BOOL_FIELDS):
        for api_name, column in fields.items():
            columns[column] = kept.field(api_name)
    columns["time_zone_id"] = zones
    columns["dq_issues"] = _dq_issues(kept)
    # Fields the API added after this code was written: kept, as new columns (dlt evolves
    # the schema); nested values arrive as JSON text.
    for api_name in kept.type.names:
        if api_name not in KNOWN_CALL_FIELDS and api_name != "_issues":
            values = kept.field(api_name)
            if pa.types.is_nested(values.type):
                values = pa.array([_jsonable(v) for v in values.to_pylist()], pa.string())
            columns[snake_case(api_name)] = values
    return _keys_not_null(pa.table(columns), "id")


def _keys_not_null(table: pa.Table, *keys: str) -> pa.Table:
    """Declares key columns non-nullable, matching the primary/merge keys' dlt hints."""
    schema = table.schema
    for key in keys:
        index = schema.get_field_index(key)
        schema = schema.set(index, schema.field(key).with_nullable(False))
    return table.cast(schema)


def _dq_issues(kept: pa.StructArray) -> pa.Array:
    """Per-call data problems that do not stop the call from loading (e.g. a negative time)."""
    issues: list[str | None] = (
        kept.field("_issues").to_pylist() if "_issues" in kept.type.names else [None] * len(kept)
    )
    for api_name, column in CALL_DOUBLE_FIELDS.items():
        negative = pc.fill_null(pc.less(kept.field(api_name), 0), False).to_numpy(
            zero_copy_only=False
        )
        for position in np.flatnonzero(negative):
            note = f"negative {column}"
            issues[position] = f"{issues[position]}; {note}" if issues[position] else note
    return pa.array(issues, pa.string())


def _child_positions(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Flattened values, their parent row and their 0-based position within the parent."""
    values = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    seq = np.arange(len(parents), dtype=np.int64) - starts
    return values, parents, seq


def _with_tombstones(children: dict[str, pa.Array], call_ids: pa.Array) -> pa.Table:
    """Child rows plus one tombstone per call (``seq`` -1, never stored).

    ``(call_id, seq)`` is the child tables' primary key: a load job that dlt re-runs after a
    crash copies its file into staging twice, and the merge de-duplicates on that key.
    """
    real = pa.table({**children, TOMBSTONE_COLUMN: pa.nulls(len(children["call_id"]), pa.bool_())})
    tombstone_columns = {
        name: pa.nulls(len(call_ids), column.type) for name, column in children.items()
    }
    tombstone_columns["call_id"] = call_ids
    tombstone_columns["seq"] = pa.array(np.full(len(call_ids), -1, dtype=np.int64))
    tombstones = pa.table(
        tombstone_columns | {TOMBSTONE_COLUMN: pa.array(np.ones(len(call_ids), dtype=bool))}
    )
    return _keys_not_null(pa.concat_tables([tombstones, real]), "call_id", "seq")


def _interactions_table(kept: pa.StructArray, zones: pa.Array) -> pa.Table:
    ids = kept.field("Id")
    values, parents, seq = _child_positions(kept.field("Interactions"))
    parent_idx = pa.array(parents, pa.int64())
    utc, local = parse_start_times(values.field("StartTime"), zones.take(parent_idx))
    children = {
        "call_id": ids.take(parent_idx),
        "seq": pa.array(seq, pa.int64()),
        "start_time": utc,
        "start_time_local": local,
        "type": values.field("Type"),
        "description": values.field("Description"),
    }
    return _with_tombstones(children, ids)


def _forms_table(kept: pa.StructArray) -> pa.Table:
    ids = kept.field("Id")
    values, parents, seq = _child_positions(kept.field("CompletedFormIds"))
    children = {
        "call_id": ids.take(pa.array(parents, pa.int64())),
        "seq": pa.array(seq, pa.int64()),
        "form_id": values,
    }
    return _with_tombstones(children, ids)


# --------------------------------------------------------------------------------------------
# Paging one window
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallsQuery:
    """Filters applied to every calls request of a run (backfill options)."""

    page_size: int
    client_id: str | None = None
    center_id: str | None = None
    # The server may answer TotalCount/TotalPages = 0 then; paging still ends on an empty page.
    disable_stats: bool = False

    def body(self, start_date: str, end_date: str, page: int) -> dict[str, Any]:
        # A fresh dict per request: nothing downstream may mutate a shared body.
        body: dict[str, Any] = {
            "StartDate": start_date,
            "EndDate": end_date,
            "SortField": "StartTime",
            "SortDir": "Asc",
            "Page": page,
            "ItemsPerPage": self.page_size,
        }
        if self.disable_stats:
            body["DisableStats"] = True
        if self.client_id:
            body["ClientId"] = self.client_id
        if self.center_id:
            body["CenterId"] = self.center_id
        return body


def count_calls(
    client: HostedSuiteClient, query: CallsQuery, window: Window, zones: Sequence[str]
) -> int:
    """The server's TotalCount for ``window`` (widened like a read), asking for one record.

    Only an estimate to plan batches with: the widening counts neighbours' calls, and a
    server that does not count answers 0.
    """
    start_date, end_date = request_bounds(window, zones)
    body = replace(query, page_size=1, disable_stats=False).body(start_date, end_date, 0)
    page = client.post(CALLS_ROUTE, body, f"count {window.label}", parse_calls_page)
    return int(page.total_count)


def iter_window_pages(
    client: HostedSuiteClient, query: CallsQuery, window: Window, zones: Sequence[str]
) -> Iterator[CallsPage]:
    """Yields every page of one window, following the API doc's paging rules.

    - The next page is the one after the page the server says it returned, so a 1-based
      server that reads Page=0 as 1 is followed correctly.
    - Stop on an empty page, or once every record counted by a non-zero TotalCount was seen.
      A short page is not the end: the server may cap ItemsPerPage silently.
    """
    start_date, end_date = request_bounds(window, zones)
    page_number = 0
    seen: set[str] = set()
    while True:
        what = f"calls {window.label} page {page_number}"
        page = client.post(
            CALLS_ROUTE, query.body(start_date, end_date, page_number), what, parse_calls_page
        )
        raw_count = len(page.items) + len(page.rejected)
        if raw_count == 0:
            return
        page_ids = {i for i in page.ids if i}
        page_ids |= {
            str(raw.get("Id"))
            for raw, _ in page.rejected
            if isinstance(raw, dict) and raw.get("Id")
        }
        new_ids = page_ids - seen
        if not new_ids and page_ids:
            raise ApiError(f"{what}: the server returned a page already read; paging is broken")
        seen |= page_ids
        yield page
        if page.total_count and len(seen) >= page.total_count:
            return
        page_number = page.page + 1


# --------------------------------------------------------------------------------------------
# Concurrent windows
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowDone:
    """Marks that every page of ``window`` was delivered."""

    window: Window
    calls: int


_STOP = object()


T = TypeVar("T")


def fetch_concurrently(
    windows: Sequence[Window],
    fetch: Callable[[Window], Iterator[T]],
    workers: int,
    count: Callable[[T], int] = lambda tables: tables.calls.num_rows,  # type: ignore[attr-defined]
) -> Iterator[T | WindowDone]:
    """Runs ``fetch`` per window on ``workers`` threads and yields results as they arrive.

    A bounded queue keeps memory flat: workers block while the consumer (dlt's extract)
    writes pages out. The first error stops the other workers and is re-raised here.
    """
    results: queue.Queue[Any] = queue.Queue(maxsize=max(2, workers * 2))
    stop = threading.Event()

    def put(item: Any) -> bool:
        """Blocks while the queue is full, but gives up once the consumer has stopped."""
        while not stop.is_set():
            try:
                results.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(window: Window) -> None:
        if stop.is_set():
            return
        try:
            calls = 0
            for item in fetch(window):
                calls += count(item)
                if not put(item):
                    return
            put(WindowDone(window, calls))
        except BaseException as exc:
            put(exc)
            stop.set()

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="hostedsuite")
    futures = [pool.submit(run, window) for window in windows]
    # The end marker is posted from its own thread so that it does not occupy a worker.
    threading.Thread(
        target=lambda: ([f.result() for f in futures], put(_STOP)), daemon=True
    ).start()
    try:
        while True:
            item = results.get()
            if item is _STOP:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
