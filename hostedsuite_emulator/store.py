"""The emulator's data: indexes, the /api/calls query engine, JSON serialization and the truth.

Why it is shaped like this (serving 100k calls in pages of 1,000 must take well under a second):
calls are kept in two sorted orders (by UTC instant, and by center wall time for
``window_zone="local"``) so a date window is two bisections; the selected and sorted call list of
a query (everything but paging) is kept in a small LRU so that paging through it costs only a
slice; each call's JSON is serialized once per time format with orjson and cached, so a page body
is a join of ready bytes. Any change of data (advance, edit, bad-record count) bumps ``version``,
which clears the LRU; edits also drop the edited call's cached JSON.
"""

from __future__ import annotations

import gc
import math
import random
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from . import reference as ref
from .config import EmulatorSettings
from .model import Call, CallFactory, Interaction
from .timefmt import (
    EPOCH,
    RequestDate,
    format_wall,
    offset_ms,
    parse_request_date,
    read_back,
    resolve_fold0,
)

BAD_KINDS = (
    "unparseable_start",
    "missing_start",
    "null_id",
    "empty_id",
    "negative_duration",
    "string_duration",
    "interactions_wrong_type",
    "forms_wrong_type",
    "unknown_field",
    "long_string",
    "control_chars",
)
# Kinds that are odd but valid calls: a correct client loads them, so they are in truth.calls.
VALID_BAD_KINDS = frozenset({"unknown_field", "long_string", "control_chars"})
_REMOVE = object()  # patch value: drop the field from the served JSON
# CenterIds of the calls served with a center missing from /api/centers (cycled): an id the
# user cannot see (a closed center, or one outside the user's permissions), empty, null.
ORPHAN_CENTER_IDS: tuple[str | None, ...] = (ref.stable_guid("center:closed"), "", None)
_LONG_NOTES = ("Very long note. " * 6250)[:100_000]
DEFAULT_PAGE_SIZE = 50
_TICKS = 10_000_000  # .NET ticks (100 ns) per second: request bounds keep 7 fractional digits


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pauses the cyclic GC while building many long-lived objects.

    Each full collection would walk every call already built, making bulk generation quadratic-ish;
    nothing built here is cyclic garbage, so pausing loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ApiError(Exception):
    """An error answered with a ServiceStack ResponseStatus body."""

    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "ResponseStatus": {
                    "ErrorCode": self.code,
                    "Message": self.message,
                    "StackTrace": None,
                    "Errors": self.errors,
                }
            }
        )


@dataclass
class Truth:
    """What a correct client must end up with, as servable under the current settings."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    completed_form_ids: list[dict[str, Any]] = field(default_factory=list)
    centers: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    bad_records: list[dict[str, Any]] = field(default_factory=list)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def interaction_ms(call: Call, offset_seconds: float) -> int:
    return call.start_ms + round(offset_seconds * 1000)


def served_center_id(call: Call) -> str | None:
    """The CenterId the API serves for ``call`` (an orphan's is not its client's center)."""
    if call.patch and "CenterId" in call.patch:
        center_id = call.patch["CenterId"]
        return None if center_id is None else str(center_id)
    return call.client.center.id


def call_dict(call: Call, time_format: str) -> dict[str, Any]:
    """The call as the API serves it (PascalCase fields, metadata order)."""
    zone = call.client.center.iana
    interactions = []
    for off, kind, desc in call.get_interactions():
        at = interaction_ms(call, off)
        zoff = offset_ms(zone, at)
        interactions.append(
            {
                "StartTime": format_wall(at + zoff, zoff, time_format),
                "Type": kind,
                "Description": desc,
            }
        )
    item: dict[str, Any] = {
        "Id": call.id,
        "ClientId": call.client.id,
        "ClientName": call.client.name,
        "CenterId": call.client.center.id,
        "StartTime": format_wall(call.local_ms, call.local_ms - call.start_ms, time_format),
        "CallerName": call.caller_name,
        "CallerNumber": call.caller_number,
        "TransferToName": call.transfer_to_name,
        "TransferToNumber": call.transfer_to_number,
        "Notes": call.notes,
        "DurationInSeconds": call.duration,
        "RingTimeInSeconds": call.ring,
        "HoldTimeInSeconds": call.hold,
        "HoldCount": call.hold_count,
        "Interactions": interactions,
        "AnsweredBy": call.answered_by,
        "Server": call.client.center.server,
        "TalkTimeInSeconds": call.talk,
        "TransferTimeInSeconds": call.transfer,
        "ScreenPop": call.screen_pop,
        "CompletedFormIds": list(call.forms),
        "Flagged": call.flagged,
        "FlagNotes": call.flag_notes,
        "Type": call.type,
        "WorkTimeInSeconds": call.work,
    }
    if call.patch:
        for key, value in call.patch.items():
            if value is _REMOVE:
                item.pop(key, None)
            else:
                item[key] = value
    return item


def center_dict(center: ref.Center, tz_style: str) -> dict[str, Any]:
    return {
        "Id": center.id,
        "DateLastModified": _utc_text(center.date_last_modified),
        "Name": center.name,
        "Address": {
            "Line1": center.line1,
            "City": center.city,
            "State": center.state,
            "PostalCode": center.postal_code,
            "Country": center.country,
        },
        "TimeZoneId": center.windows_id if tz_style == "windows" else center.iana,
        "SupportEmailAddress": center.support_email,
        "ThirdPartyAccountId": center.third_party_account_id,
    }


def client_dict(client: ref.Client) -> dict[str, Any]:
    return {
        "Id": client.id,
        "DateLastModified": _utc_text(client.date_last_modified),
        "Name": client.name,
        "CenterId": client.center.id,
        "CenterName": client.center.name,
        "ThirdPartyAccountId": client.third_party_account_id,
        "IndustryId": client.industry_id,
        "IndustryName": client.industry_name,
        "Location": client.location,
        "CallAllowanceType": client.call_allowance_type,
        "CallAllowanceAmount": client.call_allowance_amount,
    }


def _as_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, "SerializationException", f"Could not deserialize '{name}'")
    try:
        number = float(value)
        if number != int(number):
            raise ValueError
        return int(number)
    except (TypeError, ValueError):
        raise ApiError(
            400, "SerializationException", f"Could not deserialize '{name}': {value!r}"
        ) from None


def _as_float(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, "SerializationException", f"Could not deserialize '{name}'")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, "SerializationException", f"Could not deserialize '{name}': {value!r}"
        ) from None


def _as_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float):
        raise ApiError(400, "SerializationException", f"Could not deserialize '{name}'")
    return str(value)


def _as_date(body: dict[str, Any], name: str) -> RequestDate | None:
    text = _as_str(body, name)
    if text is None:
        return None
    try:
        return parse_request_date(text)
    except ValueError as exc:
        raise ApiError(400, "FormatException", f"{name}: {exc}") from None


def _as_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None or value is False or value is True:
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "SerializationException", f"Could not deserialize '{name}': {value!r}")


class Store:
    """All calls of one emulator and everything derived from them; thread-safe via ``lock``."""

    def __init__(self, seed: int, calls: int, start_ms: int, end_ms: int) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.start_ms = start_ms
        self.end_ms = end_ms  # exclusive for the initial data; advance() adds (end, new end]
        self.data_end_ms = end_ms  # bad records stay in the initial range whatever the clock
        self.factory = CallFactory(random.Random(seed), calls)
        with gc_paused():
            self.base: list[Call] = self.factory.generate(calls, start_ms, end_ms, edges=True)
        self.edit_rng = random.Random(f"{seed}:edits")
        self.bad: list[Call] = []
        self.orphans: list[Call] = []
        self.version = 0
        # The bad-record count the indexes were built for; None: rebuild (new calls arrived).
        # Edits never move a call, so they only bump ``version`` (clearing the LRU).
        self._indexed: tuple[int, int] | None = None
        self._by_instant: list[Call] = []
        self._instant_keys: list[int] = []
        self._by_local: list[Call] = []
        self._local_keys: list[int] = []
        self._by_id: dict[str, Call] = {}
        self._json: dict[str, dict[int, bytes]] = {}
        self._lru: OrderedDict[tuple[Any, ...], list[Call]] = OrderedDict()

    # ----------------------------------------------------------------- data changes

    def _make_bad(self, count: int) -> list[Call]:
        """``count`` injected records, cycling through BAD_KINDS; deterministic for the seed."""
        factory = CallFactory(random.Random(f"{self.seed}:bad"), 100)
        factory.next_n = 1 << 40  # serials apart from the regular calls
        bad = []
        for i in range(count):
            kind = BAD_KINDS[i % len(BAD_KINDS)]
            client = factory.pick_client()
            call = factory.make(client, factory.instant(self.start_ms, self.data_end_ms, client))
            call.bad_kind = kind
            # A unique marker a client can find in its quarantine (the Id may be unusable).
            call.caller_number = f"+1 000-BAD-{i:04d}"
            patches: dict[str, dict[str, object]] = {
                "unparseable_start": {"StartTime": "31/31/2024 99:99:99 XM"},
                "missing_start": {"StartTime": _REMOVE},
                "null_id": {"Id": None},
                "empty_id": {"Id": ""},
                "negative_duration": {"DurationInSeconds": -abs(call.duration) - 1.0},
                "string_duration": {"DurationInSeconds": f"{call.duration} sec"},
                "interactions_wrong_type": {"Interactions": "Answer;Hold;Hangup"},
                "forms_wrong_type": {"CompletedFormIds": {"FormId": "not-a-list"}},
                "unknown_field": {"SentimentScore": 0.7},
            }
            call.patch = patches.get(kind)
            if kind == "long_string":
                call.notes = _LONG_NOTES
            elif kind == "control_chars":
                call.caller_name = f"Bell\x07 Esc\x1b[31m Back\x08space{i}\x01"
            bad.append(call)
        return bad

    def _make_orphans(self, count: int) -> list[Call]:
        """``count`` valid calls served with a CenterId missing from /api/centers (cycling
        through ORPHAN_CENTER_IDS); their wall times are their client's center's."""
        factory = CallFactory(random.Random(f"{self.seed}:orphans"), 100)
        factory.next_n = 1 << 41  # serials apart from the regular and the bad calls
        orphans = []
        for i in range(count):
            client = factory.pick_client()
            call = factory.make(client, factory.instant(self.start_ms, self.data_end_ms, client))
            call.patch = {"CenterId": ORPHAN_CENTER_IDS[i % len(ORPHAN_CENTER_IDS)]}
            orphans.append(call)
        return orphans

    def ensure_index(self, bad_count: int, orphan_count: int = 0) -> None:
        """(Re)builds the sorted indexes when data or the bad-record or orphan count changed."""
        if self._indexed == (bad_count, orphan_count):
            return
        if len(self.bad) != bad_count:
            self.bad = self._make_bad(bad_count)
            self.version += 1
        if len(self.orphans) != orphan_count:
            self.orphans = self._make_orphans(orphan_count)
            self.version += 1
        everything = self.base + self.bad + self.orphans
        self._by_instant = sorted(everything, key=lambda c: (c.start_ms, c.id))
        self._instant_keys = [c.start_ms for c in self._by_instant]
        self._by_local = sorted(everything, key=lambda c: (c.local_ms, c.id))
        self._local_keys = [c.local_ms for c in self._by_local]
        self._by_id = {c.id: c for c in everything}
        self._lru.clear()
        self._indexed = (bad_count, orphan_count)

    def advance(self, new_end_ms: int, new_calls: int) -> list[str]:
        with self.lock:
            old_end = self.end_ms
            new = self.factory.generate(new_calls, old_end + 1, new_end_ms + 1)
            self.base.extend(new)
            self.end_ms = new_end_ms
            self.version += 1
            if self._indexed is not None:
                # A handful of new calls goes into the sorted indexes where it belongs: sorting
                # a year of calls again made the first request after every advance take seconds.
                for call in new:
                    self._insert_indexed(call)
                self._lru.clear()
            return [c.id for c in new]

    def _insert_indexed(self, call: Call) -> None:
        for calls, keys, moment in (
            (self._by_instant, self._instant_keys, call.start_ms),
            (self._by_local, self._local_keys, call.local_ms),
        ):
            # after every call of the same moment whose id sorts before it, as sorted() orders
            at = bisect_left(keys, moment)
            while at < len(keys) and keys[at] == moment and calls[at].id < call.id:
                at += 1
            calls.insert(at, call)
            keys.insert(at, moment)
        self._by_id[call.id] = call

    def add(self, client_id: str, start_ms: int, caller_number: str, call_type: str) -> str:
        """One generated call with a chosen client, start, caller number and type."""
        with self.lock:
            client = next((c for c in ref.CLIENTS if c.id == client_id), None)
            if client is None:
                raise KeyError(client_id)
            call = self.factory.make(client, start_ms)
            call.caller_number = caller_number
            call.type = call_type
            self.base.append(call)
            self.version += 1
            self._indexed = None
            return call.id

    def find(self, call_id: str) -> Call:
        hit = self._by_id.get(call_id)
        if hit is not None:
            return hit
        for call in reversed(self.base):  # calls added since the last index build are at the end
            if call.id == call_id:
                return call
        for call in self.bad + self.orphans:
            if call.id == call_id:
                return call
        raise KeyError(call_id)

    def touched(self, call: Call) -> None:
        """Drops what was derived from ``call`` after an edit."""
        for cache in self._json.values():
            cache.pop(call.n, None)
        self.version += 1

    def edit(self, call: Call, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                if value is None:
                    continue
                if name == "interactions":
                    call.interactions = tuple(
                        (float(i["offset_seconds"]), str(i["type"]), str(i["description"]))
                        for i in value
                    )
                elif name == "forms":
                    call.forms = tuple(str(f) for f in value)
                elif name in ("work",):
                    call.work = float(value)
                else:
                    setattr(call, name, value)
            self.touched(call)

    def edit_random(self, n: int) -> list[str]:
        """Seeded late edits of ``n`` recent calls, cycling through the kinds of edit.

        "Recent" means started in the last 24 hours of the clock (or, when fewer than ``n`` did,
        the latest ``n`` calls): late edits happen within hours of a call, so a client whose
        look-back window is at least a day must catch every one of them.
        """
        with self.lock:
            rng = self.edit_rng
            since = self.end_ms - 86_400_000
            recent = [c for c in self.base[-max(4 * n, 2000) :] if c.start_ms >= since]
            if len(recent) < n:
                recent = self.base[-n:]
            chosen: list[Call] = []
            ops = ["remove_forms", "remove_interaction", "add_form", "notes", "flag", "work"]
            for i in range(n):
                op = ops[i % len(ops)]
                pool = [c for c in recent if c not in chosen]
                if not pool:
                    break
                if op == "remove_forms":
                    pool = [c for c in pool if c.forms] or pool
                elif op == "add_form":
                    pool = [c for c in pool if len(c.forms) < len(c.client.form_ids)] or pool
                call = rng.choice(pool)
                chosen.append(call)
                if op == "remove_forms":
                    self.edit(call, forms=())
                elif op == "remove_interaction":
                    items = list(call.get_interactions())
                    items.pop()  # the Hangup: hold pairs stay consistent
                    call.interactions = tuple(items)
                    self.touched(call)
                elif op == "add_form":
                    missing = [f for f in call.client.form_ids if f not in call.forms]
                    if missing:
                        self.edit(call, forms=(*call.forms, rng.choice(missing)))
                    else:
                        self.edit(call, notes=f"{call.notes} (form re-sent)")
                elif op == "notes":
                    self.edit(call, notes=f"{call.notes}\nLate edit: callback done, «merci» ✔")
                elif op == "flag":
                    self.edit(call, flagged=True, flag_notes='Flagged after review, "late"')
                else:
                    self.edit(call, work=call.work + 30.25)
            return [c.id for c in chosen]

    # ----------------------------------------------------------------- queries

    def _window(
        self, s: EmulatorSettings, start: RequestDate | None, end: RequestDate | None
    ) -> list[Call]:
        """Calls whose start falls in [StartDate, EndDate) (or ] with end_inclusive)."""

        def bound(rd: RequestDate, is_end: bool) -> tuple[str, int]:
            # Returns (domain, ticks): "local" compares with each call's wall time, "instant"
            # with its UTC instant.
            extra = 0
            if is_end and rd.date_only and s.date_only_end == "end_of_day":
                extra = 86_400 * _TICKS - 1  # 23:59:59.9999999
            if rd.instant_ticks is not None:
                return "instant", rd.instant_ticks + extra
            ticks = rd.wall_ticks + extra
            if s.window_zone == "local":
                return "local", ticks
            secs, rem = divmod(ticks, _TICKS)
            moment = resolve_fold0(s.window_zone, EPOCH + timedelta(seconds=secs))
            return "instant", round(moment.timestamp()) * _TICKS + rem

        indexes = {
            "instant": (self._by_instant, self._instant_keys),
            "local": (self._by_local, self._local_keys),
        }
        lo = bound(start, False) if start else None
        hi = bound(end, True) if end else None
        if lo is None and hi is None:
            return self._by_instant
        # Millisecond keys against tick bounds: key >= ceil(S); key < ceil(E); key <= floor(E).
        domain = lo[0] if lo else hi[0]  # type: ignore[index]
        calls, keys = indexes[domain]
        i = bisect_left(keys, -(-lo[1] // 10_000)) if lo and lo[0] == domain else 0
        j = len(keys)
        if hi and hi[0] == domain:
            if s.end_inclusive:
                j = bisect_right(keys, hi[1] // 10_000)
            else:
                j = bisect_left(keys, -(-hi[1] // 10_000))
        selected = calls[i:j]
        if hi and hi[0] != domain:  # bounds in different domains: filter the other one
            attr = "local_ms" if hi[0] == "local" else "start_ms"
            if s.end_inclusive:
                limit = hi[1] // 10_000
                selected = [c for c in selected if getattr(c, attr) <= limit]
            else:
                limit = -(-hi[1] // 10_000)
                selected = [c for c in selected if getattr(c, attr) < limit]
        return selected

    def select(self, body: dict[str, Any], s: EmulatorSettings) -> list[Call]:
        """The filtered and sorted calls of a /api/calls request, before paging (LRU-cached)."""
        start = _as_date(body, "StartDate")
        end = _as_date(body, "EndDate")
        client_id = _as_str(body, "ClientId")
        center_id = _as_str(body, "CenterId")
        record_id = _as_str(body, "CallRecordId")
        min_talk = _as_float(body, "MinCallDuration")
        max_talk = _as_float(body, "MaxCallDuration")
        call_type = _as_str(body, "CallType")
        if call_type is not None:
            # An enum in .NET (ReceptionCallTypesApi): case-insensitive, anything else is a 400.
            canonical = {"incoming": "Incoming", "outgoing": "Outgoing"}.get(call_type.lower())
            if canonical is None:
                raise ApiError(
                    400,
                    "SerializationException",
                    f"Requested value '{call_type}' was not found in ReceptionCallTypesApi",
                )
            call_type = canonical
        sort_field = (_as_str(body, "SortField") or "").lower()
        sort_dir = (_as_str(body, "SortDir") or "Asc").lower()
        if sort_dir not in ("asc", "desc"):
            raise ApiError(400, "SerializationException", f"Requested value '{sort_dir}' not found")
        self.ensure_index(s.bad_records, s.orphan_center_calls)
        key = (
            self.version,
            s.bad_records,
            s.orphan_center_calls,
            s.window_zone,
            s.end_inclusive,
            s.date_only_end,
            start.key() if start else None,
            end.key() if end else None,
            client_id,
            center_id,
            record_id,
            min_talk,
            max_talk,
            call_type,
            sort_field,
            sort_dir,
        )
        found = self._lru.get(key)
        if found is not None:
            self._lru.move_to_end(key)
            return found
        calls = self._window(s, start, end)
        if record_id is not None:
            hit = self._by_id.get(record_id)
            calls = [c for c in calls if c is hit]
        if client_id is not None:
            calls = [c for c in calls if c.client.id == client_id]
        if center_id is not None:
            calls = [c for c in calls if served_center_id(c) == center_id]
        if call_type is not None:
            # CallType filters the Type field exactly: "Transfer" calls match neither value.
            calls = [c for c in calls if c.type == call_type]
        if min_talk:  # 0 and null both mean "no minimum"
            calls = [c for c in calls if c.talk >= min_talk]
        if max_talk:  # 0 means "not set" (a non-nullable .NET double), as in the sample request
            calls = [c for c in calls if c.talk <= max_talk]
        if sort_field == "starttime":
            # Window slices of the instant index are already in (instant, id) order; a slice of
            # the wall-time index is not. For a big slice a linear pass over the instant index
            # is much cheaper than sorting it.
            if (
                calls is not self._by_instant
                and (start or end)
                and (self._window_domain(s, start, end) != "instant")
            ):
                if len(calls) * 8 > len(self._by_instant):
                    members = {id(c) for c in calls}
                    calls = [c for c in self._by_instant if id(c) in members]
                else:
                    calls = sorted(calls, key=lambda c: (c.start_ms, c.id))
        else:  # "Id", or an unknown field, which the server ignores: order by Id
            calls = sorted(calls, key=lambda c: c.id)
        if sort_dir == "desc":
            calls = calls[::-1]
        if calls is self._by_instant:
            calls = list(calls)  # the cached list must not alias the live index
        self._lru[key] = calls
        if len(self._lru) > 64:
            self._lru.popitem(last=False)
        return calls

    @staticmethod
    def _window_domain(
        s: EmulatorSettings, start: RequestDate | None, end: RequestDate | None
    ) -> str:
        first = start or end
        assert first is not None
        if first.instant_ticks is not None or s.window_zone != "local":
            return "instant"
        return "local"

    def call_json(self, call: Call, time_format: str) -> bytes:
        cache = self._json.setdefault(time_format, {})
        found = cache.get(call.n)
        if found is None:
            found = cache[call.n] = orjson.dumps(call_dict(call, time_format))
        return found

    def warm(self, time_format: str) -> None:
        """Serializes every call once, so the first paging pass is as fast as later ones."""
        with self.lock, gc_paused():
            for call in self.base:
                self.call_json(call, time_format)

    def list_calls(self, body: dict[str, Any], s: EmulatorSettings) -> bytes:
        """The /api/calls response body."""
        page = _as_int(body, "Page")
        size = _as_int(body, "ItemsPerPage")
        disable_stats = _as_bool(body, "DisableStats")
        with self.lock:
            calls = self.select(body, s)
            size = size if size and size > 0 else DEFAULT_PAGE_SIZE
            if s.max_page_size is not None:
                size = min(size, s.max_page_size)  # the silent cap
            if s.page_base == 1:
                page = max(page or 1, 1)
                first = (page - 1) * size
            else:
                page = max(page or 0, 0)
                first = page * size
            items = b",".join(self.call_json(c, s.time_format) for c in calls[first : first + size])
        total = len(calls)
        pages = math.ceil(total / size)
        if disable_stats and s.disable_stats_zeroes:
            total = pages = 0
        return b'{"Items":[%b],"Page":%d,"TotalCount":%d,"TotalPages":%d}' % (
            items,
            page,
            total,
            pages,
        )

    # ----------------------------------------------------------------- truth

    def truth(self, s: EmulatorSettings, default_zone: str = "UTC") -> Truth:
        """What a correct client stores. ``default_zone``: the zone the client reads calls of
        a center it does not know in (its ``default_timezone``)."""
        with self.lock:
            self.ensure_index(s.bad_records, s.orphan_center_calls)
            truth = Truth()
            fmt = s.time_format
            for call in self._by_instant:
                if call.bad_kind is not None:
                    raw = orjson.loads(self.call_json(call, fmt))
                    truth.bad_records.append({"raw": raw, "kind": call.bad_kind})
                    if call.bad_kind not in VALID_BAD_KINDS:
                        continue
                self._truth_call(truth, call, fmt, default_zone)
            truth.centers = [self._truth_center(c, s.tz_style) for c in ref.CENTERS]
            truth.clients = [self._truth_client(c) for c in ref.CLIENTS]
            return truth

    @staticmethod
    def _truth_call(truth: Truth, call: Call, fmt: str, default_zone: str) -> None:
        zone = call.client.center.iana
        center_id = served_center_id(call)
        # A call of a center the client does not know is read in the client's default zone.
        read_zone = zone if center_id == call.client.center.id else default_zone
        utc, local = read_back(call.start_ms, zone, read_zone, fmt, None)
        truth.calls.append(
            {
                "id": call.id,
                "client_id": call.client.id,
                "client_name": call.client.name,
                "center_id": center_id,
                "start_time": utc,
                "start_time_local": local,
                "caller_name": call.caller_name,
                "caller_number": call.caller_number,
                "transfer_to_name": call.transfer_to_name,
                "transfer_to_number": call.transfer_to_number,
                "notes": call.notes,
                "duration_in_seconds": call.duration,
                "ring_time_in_seconds": call.ring,
                "hold_time_in_seconds": call.hold,
                "hold_count": call.hold_count,
                "answered_by": call.answered_by,
                "server": call.client.center.server,
                "talk_time_in_seconds": call.talk,
                "transfer_time_in_seconds": call.transfer,
                "screen_pop": call.screen_pop,
                "flagged": call.flagged,
                "flag_notes": call.flag_notes,
                "type": call.type,
                "work_time_in_seconds": call.work,
            }
        )
        items: tuple[Interaction, ...] = call.get_interactions()
        for seq, (off, kind, desc) in enumerate(items):
            # an event is read relative to its call's start (see read_back)
            i_utc, i_local = read_back(interaction_ms(call, off), zone, read_zone, fmt, utc)
            truth.interactions.append(
                {
                    "call_id": call.id,
                    "seq": seq,
                    "start_time": i_utc,
                    "start_time_local": i_local,
                    "type": kind,
                    "description": desc,
                }
            )
        for form_id in call.forms:
            truth.completed_form_ids.append({"call_id": call.id, "form_id": form_id})

    @staticmethod
    def _truth_center(center: ref.Center, tz_style: str) -> dict[str, Any]:
        return {
            "id": center.id,
            "date_last_modified": center.date_last_modified,
            "name": center.name,
            "address_line1": center.line1,
            "city": center.city,
            "state": center.state,
            "postal_code": center.postal_code,
            "country": center.country,
            "time_zone_id": center.windows_id if tz_style == "windows" else center.iana,
            "iana_time_zone": center.iana,
            "support_email_address": center.support_email,
            "third_party_account_id": center.third_party_account_id,
        }

    @staticmethod
    def _truth_client(client: ref.Client) -> dict[str, Any]:
        return {
            "id": client.id,
            "date_last_modified": client.date_last_modified,
            "name": client.name,
            "center_id": client.center.id,
            "center_name": client.center.name,
            "third_party_account_id": client.third_party_account_id,
            "industry_id": client.industry_id,
            "industry_name": client.industry_name,
            "location": client.location,
            "call_allowance_type": client.call_allowance_type,
            "call_allowance_amount": client.call_allowance_amount,
        }
