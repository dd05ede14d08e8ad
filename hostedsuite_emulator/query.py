"""The /api/calls query engine: a request's date window, filters and order, then its page.

A date window is two bisections of one of the store's sorted indexes (by UTC instant, or by
center wall time for ``window_zone="local"``). The selected and sorted call list of a query
(everything but paging) is kept in a small LRU, so that paging through it costs only a slice;
a change of the store's data (its ``version``) outdates every entry.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from .body import as_bool, as_date, as_float, as_int, as_str
from .config import EmulatorSettings
from .errors import ApiError
from .model import Call
from .shapes import served_center_id
from .store import Store
from .timefmt import EPOCH, RequestDate, resolve_fold0

DEFAULT_PAGE_SIZE = 50
_TICKS = 10_000_000  # .NET ticks (100 ns) per second: request bounds keep 7 fractional digits
_LRU_SIZE = 64


class CallQueries:
    """Answers /api/calls requests from one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lru: OrderedDict[tuple[Any, ...], list[Call]] = OrderedDict()
        self._lru_version = store.version

    def list_calls(self, body: dict[str, Any], s: EmulatorSettings) -> bytes:
        """The /api/calls response body."""
        page = as_int(body, "Page")
        size = as_int(body, "ItemsPerPage")
        disable_stats = as_bool(body, "DisableStats")
        store = self.store
        with store.lock:
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
            page_calls = calls[first : first + size]
            items = b",".join(store.call_json(c, s.time_format) for c in page_calls)
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

    def select(self, body: dict[str, Any], s: EmulatorSettings) -> list[Call]:
        """The filtered and sorted calls of a /api/calls request, before paging (LRU-cached).
        Call with the store's lock held."""
        start = as_date(body, "StartDate")
        end = as_date(body, "EndDate")
        client_id = as_str(body, "ClientId")
        center_id = as_str(body, "CenterId")
        record_id = as_str(body, "CallRecordId")
        min_talk = as_float(body, "MinCallDuration")
        max_talk = as_float(body, "MaxCallDuration")
        call_type = as_str(body, "CallType")
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
        sort_field = (as_str(body, "SortField") or "").lower()
        sort_dir = (as_str(body, "SortDir") or "Asc").lower()
        if sort_dir not in ("asc", "desc"):
            raise ApiError(400, "SerializationException", f"Requested value '{sort_dir}' not found")
        store = self.store
        store.ensure_index(s.bad_records, s.orphan_center_calls)
        if store.version != self._lru_version:  # the data changed: every selection is stale
            self._lru.clear()
            self._lru_version = store.version
        key = (
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
            s.retention_days,
            store.end_ms,
        )
        found = self._lru.get(key)
        if found is not None:
            self._lru.move_to_end(key)
            return found
        calls = _window(store, s, start, end)
        if s.retention_days is not None:
            oldest = store.end_ms - round(s.retention_days * 86_400_000)
            calls = [c for c in calls if c.start_ms >= oldest]
        if record_id is not None:
            hit = store.by_id.get(record_id)
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
                calls is not store.by_instant
                and (start or end)
                and (_window_domain(s, start, end) != "instant")
            ):
                if len(calls) * 8 > len(store.by_instant):
                    members = {id(c) for c in calls}
                    calls = [c for c in store.by_instant if id(c) in members]
                else:
                    calls = sorted(calls, key=lambda c: (c.start_ms, c.id))
        else:  # "Id", or an unknown field, which the server ignores: order by Id
            calls = sorted(calls, key=lambda c: c.id)
        if sort_dir == "desc":
            calls = calls[::-1]
        if calls is store.by_instant:
            calls = list(calls)  # the cached list must not alias the live index
        self._lru[key] = calls
        if len(self._lru) > _LRU_SIZE:
            self._lru.popitem(last=False)
        return calls


def _window(
    store: Store, s: EmulatorSettings, start: RequestDate | None, end: RequestDate | None
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
        "instant": (store.by_instant, store.instant_keys),
        "local": (store.by_local, store.local_keys),
    }
    lo = bound(start, False) if start else None
    hi = bound(end, True) if end else None
    if lo is None and hi is None:
        return store.by_instant
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


def _window_domain(s: EmulatorSettings, start: RequestDate | None, end: RequestDate | None) -> str:
    first = start or end
    assert first is not None
    if first.instant_ticks is not None or s.window_zone != "local":
        return "instant"
    return "local"
