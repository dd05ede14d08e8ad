"""The HTTP front: a ThreadingHTTPServer speaking HTTP/1.1 keep-alive, ServiceStack-style errors.

It serves whatever offers :class:`Service` (the ``Emulator`` does): the server knows the routes
and the transport, the service the data.

Each response is written with a single ``sendall`` (headers and body together) and the socket has
TCP_NODELAY: with separate small writes, Nagle's algorithm and delayed ACKs would add ~40 ms per
keep-alive request, which alone would break the paging performance target.
"""

from __future__ import annotations

import contextlib
import math
import socket
import struct
import threading
import time
from dataclasses import fields
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson

from .config import EmulatorSettings, Faults
from .errors import ApiError

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
AUTH_FIELDS = ("CustomerName", "UserName", "Password")


class Service(Protocol):
    """What the server needs of the emulator it serves."""

    # Read on every request: a test may change them between two requests.
    settings: EmulatorSettings
    faults: Faults

    @property
    def now(self) -> datetime: ...

    @property
    def credentials(self) -> dict[str, str]: ...

    def log_request(self, body: dict[str, Any]) -> None: ...

    def calls_page(self, body: dict[str, Any]) -> bytes:
        """The /api/calls response body, or ApiError."""
        ...

    def centers_json(self, tz_style: str) -> list[dict[str, Any]]: ...

    def clients_json(self, body: dict[str, Any]) -> list[dict[str, Any]]: ...

    def truth_json(self) -> bytes: ...

    def advance(self, minutes: float = 60, new_calls: int = 50) -> list[str]: ...


class _Reset(Exception):
    """Raised to drop the connection without answering (the 'reset' fault)."""


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Concurrent ETL workers open many keep-alive connections at once; the default backlog of 5
    # makes the kernel drop SYNs under bursts (which looks like a 1 s+ connect stall).
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], emulator: Service) -> None:
        self.emulator = emulator
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def close_open_connections(self) -> None:
        """Ends keep-alive connections too: after stop(), nothing is served any more."""
        with self.connections_lock:
            for conn in list(self.open_connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.open_connections.clear()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer
    server_version = "ServiceStack-Emulator/1.0"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: a request log line per page would dominate the timings (and stderr)."""

    # ------------------------------------------------------------------ plumbing

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        head.append("Content-Type: application/json; charset=utf-8")
        head.append(f"Content-Length: {len(body)}")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _send_error(self, err: ApiError, headers: dict[str, str] | None = None) -> None:
        self._send(err.status, err.body(), headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN: the client sees
        # a connection reset with no response at all.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        raise _Reset

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _Reset:
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    # ------------------------------------------------------------------ routes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        emu = self.server.emulator
        self._read_body()
        if path == "/_emulator/truth":
            self._send(200, emu.truth_json())
        elif path.startswith("/api/"):
            self._send_error(ApiError(405, "NotSupported", f"GET {path} is not supported"))
        else:
            self._send_error(ApiError(404, "NotFound", f"Handler for Request not found: {path}"))

    def do_POST(self) -> None:
        raw = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith(".json"):
            path = path[: -len(".json")]
        if path.startswith("/_emulator/"):
            self._control(path, raw)
        elif path in ("/api/calls", "/api/centers", "/api/clients"):
            self._api(path, raw)
        else:
            self._send_error(ApiError(404, "NotFound", f"Handler for Request not found: {path}"))

    def _control(self, path: str, raw: bytes) -> None:
        """Unauthenticated control routes for standalone use (tests use the Python API)."""
        emu = self.server.emulator
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            self._send_error(ApiError(400, "SerializationException", "invalid JSON"))
            return
        if path == "/_emulator/truth":
            self._send(200, emu.truth_json())
        elif path == "/_emulator/advance":
            ids = emu.advance(
                minutes=float(body.get("minutes", 60)), new_calls=int(body.get("new_calls", 0))
            )
            self._send(200, orjson.dumps({"new_ids": ids, "now": emu.now.isoformat()}))
        elif path == "/_emulator/settings":
            names = {f.name for f in fields(emu.settings)}
            fault_names = {f.name for f in fields(emu.faults)}
            for key, value in body.items():
                if key in names:
                    setattr(emu.settings, key, value)
                elif key in fault_names:
                    setattr(emu.faults, key, value)
                else:
                    self._send_error(ApiError(400, "ArgumentException", f"unknown setting {key}"))
                    return
            emu.settings.validate()
            payload = {"settings": emu.settings.as_dict(), "faults": emu.faults.as_dict()}
            self._send(200, orjson.dumps(payload))
        else:
            self._send_error(ApiError(404, "NotFound", f"Handler for Request not found: {path}"))

    def _api(self, path: str, raw: bytes) -> None:
        emu = self.server.emulator
        settings = emu.settings
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            body = None
        if path == "/api/calls" and isinstance(body, dict):
            logged = dict(body)
            if "Password" in logged:
                logged["Password"] = "***"
            emu.log_request(logged)
        faults = emu.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        fault = faults.next_fault(scripted=path == "/api/calls")
        if fault in ("500", "503"):
            status = int(fault)
            code = "InternalServerError" if status == 500 else "ServiceUnavailable"
            self._send_error(ApiError(status, code, f"Emulated {status}"))
            return
        if fault == "429":
            err = ApiError(429, "TooManyRequests", "Rate limit exceeded. Retry after 1 second.")
            self._send_error(err, {"Retry-After": "1"})
            return
        if fault == "reset":
            self._reset()
        if fault == "slow":
            time.sleep(faults.slow_seconds)
        try:
            if not isinstance(body, dict):
                raise ApiError(400, "SerializationException", "Request body is not a JSON object")
            self._authenticate(body, raw)
            if path == "/api/calls":
                payload = emu.calls_page(body)
            elif path == "/api/centers":
                payload = orjson.dumps(emu.centers_json(settings.tz_style))
            else:
                payload = orjson.dumps(emu.clients_json(body))
        except ApiError as err:
            self._send_error(err)
            return
        except Exception as exc:  # a bug or a bad setting: answer like the service would
            self._send_error(ApiError(500, type(exc).__name__, str(exc)))
            return
        if path == "/api/calls" and faults.empties_pages:
            payload = _maybe_emptied(payload, faults)
        if path in faults.wrong_shape:
            payload = orjson.dumps(faults.wrong_shape[path])
        if fault == "truncate":
            cut = payload[: max(1, math.floor(len(payload) * 0.6))]
            self._send(200, cut)
            return
        self._send(200, payload)

    def _authenticate(self, body: dict[str, Any], raw: bytes) -> None:
        emu = self.server.emulator
        missing = [name for name in AUTH_FIELDS if not body.get(name)]
        if missing:
            errors = [
                {
                    "ErrorCode": "NotEmpty",
                    "FieldName": name,
                    "Message": f"'{name}' should not be empty.",
                }
                for name in missing
            ]
            raise ApiError(400, "NotEmpty", errors[0]["Message"], errors)
        creds = emu.credentials
        if (body["CustomerName"], body["UserName"], body["Password"]) != (
            creds["customer_name"],
            creds["user_name"],
            creds["password"],
        ):
            # The real service may echo the request, password included: the client must redact.
            echoed = raw.decode("utf-8", "replace")
            raise ApiError(
                emu.settings.auth_error_status,
                "Unauthorized",
                f"Invalid UserName or Password. Request: {echoed}",
            )


def _maybe_emptied(payload: bytes, faults: Faults) -> bytes:
    """The page with its items removed if the empty-page fault applies (totals unchanged)."""
    page = orjson.loads(payload)
    if not page["Items"] or not faults.empty_page(int(page["Page"])):
        return payload
    return orjson.dumps({**page, "Items": []})
