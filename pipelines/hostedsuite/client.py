"""The HostedSuite HTTP client: auth fields in every body, bounded retries, errors that
never carry the password.

HostedSuite error bodies may echo the request, password included, so every message is built
from redacted text. The rules implemented here are in ``shared/hostedsuite-api.md`` (rule 5).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import pendulum
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from .settings import (
    RETRY_STATUSES,
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


class UnexpectedResponse(ApiError):
    """HTTP 200 with a body of the wrong shape: the API changed, or something else answered.
    Not retried (it will not heal) and not a configuration problem."""

    def __init__(self, route: str, detail: str) -> None:
        super().__init__(f"HostedSuite answered something unexpected on {route}: {detail}")


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


def registered_secrets() -> frozenset[str]:
    """The secrets registered so far (for redacting what is not text, such as a pickle)."""
    return frozenset(_SECRETS)


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
    """Returns the URL without a trailing slash; refuses plain http except to loopback.

    The URL is a scheme and a host, with an optional port: the client appends the routes
    (``/api/calls``) itself, so a path or a query string would end in a 404, and user-info
    would put a password where error messages and dlt's trace show the URL.
    """
    parts = urlsplit(base_url or "")
    shown = _without_userinfo(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url must look like https://<customer>.hostedsuite.com, got {shown!r}"
        )
    extra = [
        name
        for name, present in (
            ("user-info (user:password@)", parts.username is not None or "@" in parts.netloc),
            ("a path", parts.path not in ("", "/")),
            ("a query string", bool(parts.query) or base_url.rstrip("/").endswith("?")),
            ("a fragment", bool(parts.fragment) or "#" in base_url),
        )
        if present
    ]
    if extra:
        raise ConfigError(
            f"base_url must be a scheme and a host (and a port), e.g. "
            f"https://<customer>.hostedsuite.com; {shown!r} has {' and '.join(extra)}"
        )
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ConfigError(f"base_url has an invalid port: {shown!r}") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// to {parts.hostname}: credentials travel in the request body; "
            "use https:// (http is allowed only to loopback, e.g. the emulator)"
        )
    return base_url.rstrip("/")


def _without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, for messages."""
    return re.sub(r"(?<=//)[^/?#]*@", "***@", url)


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
        except requests.exceptions.SSLError as exc:
            # A certificate that does not verify, or TLS spoken to something that does not
            # speak it: neither heals by retrying, and retrying hid it for half a minute.
            raise ApiError(f"TLS with {self.base_url} failed: {_tls_reason(exc)}") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            reason = _unreachable_reason(exc)
            if reason:
                raise ApiError(f"cannot reach {self.base_url}: {reason}") from None
            raise TransientError(f"{type(exc).__name__} on {what}") from None
        except requests.RequestException as exc:
            raise TransientError(f"{type(exc).__name__} on {what}") from None
        if response.status_code == 200:
            return response.content
        raise _status_error(response, what)


# What requests/urllib3 say when the host does not exist or nothing listens on the port. Neither
# heals by retrying within this run, so the run stops at once with one line (exit 4) instead of
# backing off through every attempt.
_UNREACHABLE_MARKERS = {
    "Name or service not known": "unknown host",
    "nodename nor servname": "unknown host",
    "Failed to resolve": "unknown host",
    "Connection refused": "connection refused",
    "actively refused": "connection refused",  # Windows: WinError 10061
}


def _unreachable_reason(exc: requests.RequestException) -> str | None:
    """The reason (unknown host, connection refused) if ``exc`` will not heal, else None."""
    text = str(exc)
    for marker, reason in _UNREACHABLE_MARKERS.items():
        if marker in text:
            return reason
    return None


_TLS_REASON = re.compile(r"\[SSL(?:: [A-Z_]+)?\] [^'\")(]+|certificate verify failed[^'\")(]*")


def _tls_reason(exc: requests.RequestException) -> str:
    """OpenSSL's reason, e.g. "[SSL: WRONG_VERSION_NUMBER] wrong version number" (is the
    server plain http?) or "certificate verify failed: ..."."""
    found = _TLS_REASON.search(str(exc))
    reason = found.group(0).strip() if found else type(exc).__name__
    if "WRONG_VERSION_NUMBER" in reason or "record layer" in reason:
        reason += " (does the server speak plain http?)"
    return reason


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


def parse_json(content: bytes) -> Any:
    """A JSON response body. Invalid JSON after HTTP 200 is a body cut off in transit, so it
    is a transient error: ``post`` fetches it again."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        raise TransientError("invalid JSON in response body (truncated?)") from None


def json_kind(value: Any) -> str:
    """How an error message names a JSON value's kind."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else "an object"
