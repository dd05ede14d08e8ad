"""Switches for the behaviours of the HostedSuite API that are not confirmed, and transport faults.

Each unconfirmed behaviour listed in ``/work/shared/hostedsuite-api.md`` has exactly one switch in
:class:`EmulatorSettings`, so that a test can prove the client correct under every plausible
answer. Both dataclasses are mutable on purpose: the server reads them on every request, so a test
may flip a switch (or queue a fault) between two requests of a running emulator.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

TIME_FORMATS = ("iso", "iso_fraction", "offset", "us")
TZ_STYLES = ("windows", "iana")
DATE_ONLY_ENDS = ("midnight", "end_of_day")
FAULT_KINDS = ("500", "503", "429", "reset", "truncate", "slow")
API_ROUTES = ("/api/calls", "/api/centers", "/api/clients")


@dataclass
class EmulatorSettings:
    """One switch per unconfirmed API behaviour; the defaults are the most likely answers."""

    # 0: Page p returns items [p*n, (p+1)*n); 1: 1-based, Page 0 treated as 1.
    page_base: int = 0
    # Silent server-side cap on ItemsPerPage (None = no cap).
    max_page_size: int | None = None
    # DisableStats=true zeroes TotalCount/TotalPages (False: DisableStats is ignored).
    disable_stats_zeroes: bool = True
    # Format of StartTime in responses: "iso", "iso_fraction", "offset" or "us".
    time_format: str = "iso"
    # Center TimeZoneId as a Windows id ("windows") or an IANA id ("iana").
    tz_style: str = "windows"
    # How StartDate/EndDate are read: "local" (each call's center wall time) or an IANA zone.
    window_zone: str = "local"
    # EndDate compared with <= (True) or < (False).
    end_inclusive: bool = False
    # A date-only EndDate means 00:00 of that day ("midnight") or 23:59:59.9999999 ("end_of_day").
    date_only_end: str = "midnight"
    # Status of authentication failures (the vendor's CLI also sees 400 + "Unauthorized").
    auth_error_status: int = 401
    # Number of malformed / unusual call records injected into the served data.
    bad_records: int = 0
    # Number of valid calls served with a CenterId that /api/centers does not list (an unknown
    # id, empty, null): is a client without the center's TimeZoneId robust to them?
    orphan_center_calls: int = 0
    # Hostile names (markup, script tags, event handlers, template syntax, quotes) for some
    # centers, clients and agents, with the same ids and calls: does every consumer show a
    # name as text? Read when the Emulator is built (the calls are made then).
    hostile_names: bool = False
    # Some calls' text fields and interaction descriptions "", null, or holding a delimiter, a
    # quote, a line break, a backslash or a literal \N (``model.ODD_TEXTS``): does every
    # destination store them exactly? Read when the Emulator is built.
    odd_text: bool = False
    # The vendor's retention: calls that started more than this many days before the clock are
    # no longer served (None: every call is). ``truth()`` is not affected: it is what a client
    # that read the calls while they were served holds.
    retention_days: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises ValueError on a value the server could not play (checked at construction)."""
        if self.page_base not in (0, 1):
            raise ValueError(f"page_base must be 0 or 1, not {self.page_base!r}")
        if self.max_page_size is not None and self.max_page_size < 1:
            raise ValueError("max_page_size must be None or >= 1")
        if self.time_format not in TIME_FORMATS:
            raise ValueError(f"time_format must be one of {TIME_FORMATS}")
        if self.tz_style not in TZ_STYLES:
            raise ValueError(f"tz_style must be one of {TZ_STYLES}")
        if self.date_only_end not in DATE_ONLY_ENDS:
            raise ValueError(f"date_only_end must be one of {DATE_ONLY_ENDS}")
        if self.window_zone != "local":
            ZoneInfo(self.window_zone)  # raises on an unknown zone
        if self.bad_records < 0:
            raise ValueError("bad_records must be >= 0")
        if self.orphan_center_calls < 0:
            raise ValueError("orphan_center_calls must be >= 0")
        if self.retention_days is not None and not self.retention_days >= 0:
            raise ValueError("retention_days must be None or >= 0")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Faults:
    """Transport faults on /api/* routes: random ones (seeded) and a deterministic script."""

    latency_ms: float = 0.0
    error_rate: float = 0.0  # answered 500 or 503 with a ServiceStack body
    rate_limit_rate: float = 0.0  # 429 with Retry-After: 1
    reset_rate: float = 0.0  # connection closed with no response (RST)
    truncate_rate: float = 0.0  # 200 whose body is cut short (Content-Length matches the cut)
    slow_rate: float = 0.0  # answered only after slow_seconds
    slow_seconds: float = 2.0
    fault_seed: int = 0
    # Consumed one per /api/calls request before random faults apply.
    script: list[str] = field(default_factory=list)
    # An empty page before TotalCount is reached (a server that briefly loses its result set):
    # the Nth /api/calls answer that would carry items (1-based; 0 = never) comes back with
    # "Items": [] once, totals unchanged...
    empty_page_nth: int = 0
    # ...or every answer for this served Page number that would carry items (None = never).
    empty_page_number: int | None = None
    # Route -> a JSON value answered with HTTP 200 instead of the real body (a wrong shape,
    # e.g. {"/api/centers": "OK"}), for every request to that route.
    wrong_shape: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Private state, not dataclass fields: asdict()/replace() see only the configuration.
        self._rng = random.Random(self.fault_seed)
        self._lock = threading.Lock()
        self._answers_with_items = 0
        for kind in self.script:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown scripted fault {kind!r}; use one of {FAULT_KINDS}")
        if self.empty_page_nth < 0:
            raise ValueError("empty_page_nth must be >= 0")
        for route in self.wrong_shape:
            if route not in API_ROUTES:
                raise ValueError(f"wrong_shape route {route!r} is not one of {API_ROUTES}")

    @property
    def empties_pages(self) -> bool:
        """Whether ``empty_page`` may answer True (the server then inspects each page)."""
        return bool(self.empty_page_nth) or self.empty_page_number is not None

    def empty_page(self, page: int) -> bool:
        """Whether this /api/calls answer, served as ``page`` and carrying items, goes empty."""
        with self._lock:
            self._answers_with_items += 1
            if self.empty_page_nth and self._answers_with_items == self.empty_page_nth:
                return True
            return self.empty_page_number is not None and page == self.empty_page_number

    def next_fault(self, scripted: bool) -> str | None:
        """The fault for this request, or None. ``scripted``: may consume the script queue."""
        with self._lock:
            if scripted and self.script:
                return self.script.pop(0)
            draw = self._rng.random()
            # Cumulative bands so that the rates are independent shares of all requests.
            for kind, rate in (
                ("error", self.error_rate),
                ("429", self.rate_limit_rate),
                ("reset", self.reset_rate),
                ("truncate", self.truncate_rate),
                ("slow", self.slow_rate),
            ):
                if draw < rate:
                    if kind == "error":
                        return "500" if self._rng.random() < 0.5 else "503"
                    return kind
                draw -= rate
            return None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
