"""The public ``Emulator``: generated data, a live HTTP server, a clock, edits and the truth."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import orjson
import pendulum

from . import reference as ref
from .config import EmulatorSettings, Faults
from .model import give_odd_text
from .query import CallQueries
from .server import EmulatorServer
from .shapes import center_dict, client_dict
from .store import Store
from .truth import Truth, truth

# Above this many calls, start() does not pre-serialize every call: memory over first-page speed.
_WARM_LIMIT = 300_000


def _to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def account_source_config(url: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """An emulator account (served at ``url``) as the pipeline source's settings
    (``sources.hostedsuite.*``): the one place that turns an emulator into pipeline
    configuration, for one in this process (``Emulator.source_config``) or in its own."""
    return {"base_url": url, **credentials}


def source_config_env(source_config: Mapping[str, str]) -> dict[str, str]:
    """Source settings as the environment variables a scheduler would set."""
    return {f"SOURCES__HOSTEDSUITE__{k.upper()}": v for k, v in source_config.items()}


class Emulator:
    """HostedSuite on 127.0.0.1; data is deterministic for (seed, calls, start, days)."""

    def __init__(
        self,
        calls: int = 2000,
        seed: int = 1,
        start: str | date = "2024-03-01",
        days: int = 45,
        settings: EmulatorSettings | None = None,
        faults: Faults | None = None,
        customer_name: str = "democorp",
        user_name: str = "etl",
        password: str = "emu-secret-pw",
    ) -> None:
        first = date.fromisoformat(start) if isinstance(start, str) else start
        begin = datetime(first.year, first.month, first.day, tzinfo=UTC)
        self._now = pendulum.instance(begin).add(days=days)
        self.settings = settings if settings is not None else EmulatorSettings()
        self.faults = faults if faults is not None else Faults()
        self._credentials = {
            "customer_name": customer_name,
            "user_name": user_name,
            "password": password,
        }
        self.store = Store(seed, calls, _to_ms(begin), _to_ms(self._now))
        self.queries = CallQueries(self.store)
        if self.settings.odd_text:
            give_odd_text(self.store.base)
        # The reference data served: the default names, or hostile ones (same ids and data).
        self.centers, self.clients = ref.CENTERS, ref.CLIENTS
        if self.settings.hostile_names:
            self.centers, self.clients = ref.hostile_reference()
            self.store.factory.use_reference(self.clients, self.store.base)
        self.requests: list[dict[str, Any]] = []
        self._requests_lock = threading.Lock()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> Emulator:
        """Binds 127.0.0.1:``port`` (0 = any free port) and serves in a daemon thread."""
        if self._server is not None:
            return self
        with self.store.lock:
            # Build the sorted indexes now rather than on the first request.
            self.store.ensure_index(self.settings.bad_records, self.settings.orphan_center_calls)
            if self.settings.hostile_names:
                self.store.factory.use_reference(self.clients, self.store.bad + self.store.orphans)
        if len(self.store.base) <= _WARM_LIMIT:
            self.store.warm(self.settings.time_format)
        self._server = EmulatorServer(("127.0.0.1", port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="hostedsuite-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def credentials(self) -> dict[str, str]:
        return dict(self._credentials)

    def source_config(self) -> dict[str, str]:
        """This account as the pipeline source's settings (``sources.hostedsuite.*``): what the
        demo, the tests and the bench give the pipeline."""
        return account_source_config(self.url, self._credentials)

    def config_env(self) -> dict[str, str]:
        """``source_config`` as the environment variables a scheduler would set."""
        return source_config_env(self.source_config())

    @property
    def now(self) -> pendulum.DateTime:
        """The emulator clock: the end of the generated data (exclusive for the initial data)."""
        return self._now

    def log_request(self, body: dict[str, Any]) -> None:
        with self._requests_lock:
            self.requests.append(body)

    # ------------------------------------------------------------------ data

    def truth(self, default_zone: str = "UTC") -> Truth:
        """What a correct client stores; ``default_zone`` is the client's ``default_timezone``,
        the zone it reads the calls of a center missing from /api/centers in."""
        return truth(self.store, self.settings, default_zone, self.centers, self.clients)

    def truth_json(self) -> bytes:
        return orjson.dumps(asdict(self.truth()), option=orjson.OPT_NON_STR_KEYS)

    def calls_page(self, body: dict[str, Any]) -> bytes:
        """The /api/calls response body for a request body (ApiError on a bad request)."""
        return self.queries.list_calls(body, self.settings)

    def centers_json(self, tz_style: str) -> list[dict[str, Any]]:
        return [center_dict(c, tz_style) for c in self.centers]

    def clients_json(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Clients, filtered by ClientId and CenterId (exact) and Name (case-insensitive part)."""
        client_id, center_id, name = body.get("ClientId"), body.get("CenterId"), body.get("Name")
        return [
            client_dict(c)
            for c in self.clients
            if (not client_id or c.id == client_id)
            and (not center_id or c.center.id == center_id)
            and (not name or str(name).lower() in c.name.lower())
        ]

    def advance(self, minutes: float = 60, new_calls: int = 50) -> list[str]:
        """Moves the clock by ``minutes``; adds ``new_calls`` calls starting in (old, new now]."""
        new_now = self._now.add(seconds=minutes * 60)
        ids = self.store.advance(_to_ms(new_now), new_calls)
        self._now = new_now
        return ids

    def add_call(
        self,
        client_id: str,
        start: datetime,
        caller_number: str,
        call_type: str = "Incoming",
    ) -> str:
        """Adds one call at ``start`` (not after ``now``) from ``caller_number`` to ``client_id``,
        e.g. a repeat caller; the rest is generated. Returns its id; KeyError for an unknown
        client."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if start > self._now:
            raise ValueError(f"start {start.isoformat()} is after the clock ({self._now})")
        call_id = self.store.add(client_id, _to_ms(start), caller_number, call_type)
        if self.settings.hostile_names:
            self.store.factory.use_reference(self.clients, [self.store.find(call_id)])
        return call_id

    def edit_call(
        self,
        call_id: str,
        *,
        notes: str | None = None,
        flagged: bool | None = None,
        flag_notes: str | None = None,
        completed_form_ids: list[str] | None = None,
        work_time_in_seconds: float | None = None,
        interactions: list[dict[str, Any]] | None = None,
    ) -> None:
        """A late edit of one call (None = unchanged). Raises KeyError for an unknown id."""
        call = self.store.find(call_id)
        self.store.edit(
            call,
            notes=notes,
            flagged=flagged,
            flag_notes=flag_notes,
            forms=completed_form_ids,
            work=work_time_in_seconds,
            interactions=interactions,
        )

    def move_call(self, call_id: str, seconds: float) -> None:
        """A start time corrected at the source: the call starts ``seconds`` later (earlier when
        negative), its interactions with it. Raises KeyError for an unknown id."""
        self.store.move(call_id, seconds)

    def delete_calls(self, call_ids: list[str]) -> None:
        """Deletes calls at the source (test calls, records erased by the vendor): they are no
        longer served, nor in ``truth()``. KeyError for an unknown id."""
        self.store.delete(call_ids)

    def restore_calls(self, call_ids: list[str]) -> None:
        """Serves deleted calls again, unchanged (a call that reappears)."""
        self.store.restore(call_ids)

    def edit_random(self, n: int) -> list[str]:
        """Seeded late edits of ``n`` recent calls; returns their ids."""
        return self.store.edit_random(n)
