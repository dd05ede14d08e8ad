"""The emulator's data: its calls, their sorted indexes, their served JSON, and changes to them.

Why it is shaped like this (serving 100k calls in pages of 1,000 must take well under a second):
calls are kept in two sorted orders (by UTC instant, and by center wall time for
``window_zone="local"``) so that a date window is two bisections (``query.py``); each call's JSON
is serialized once per time format with orjson and cached, so a page body is a join of ready
bytes. Any change of data (advance, add, edit, bad-record or orphan count) bumps ``version``,
which outdates every selection cached by the query engine; edits also drop the edited call's
cached JSON.
"""

from __future__ import annotations

import gc
import random
import threading
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from . import reference as ref
from .injected import make_bad, make_orphans
from .model import Call, CallFactory
from .shapes import call_dict
from .timefmt import offset_ms


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


class Store:
    """All calls of one emulator and their indexes; thread-safe via ``lock``.

    ``by_instant`` (with its keys ``instant_keys``, UTC epoch ms), ``by_local`` (``local_keys``,
    wall-time ms) and ``by_id`` are valid after ``ensure_index`` under ``lock``.
    """

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
        # The bad-record and orphan counts the indexes were built for; None: rebuild (a call
        # was added or moved). Other edits never move a call, so they only bump ``version``.
        self._indexed: tuple[int, int] | None = None
        self.by_instant: list[Call] = []
        self.instant_keys: list[int] = []
        self.by_local: list[Call] = []
        self.local_keys: list[int] = []
        self.by_id: dict[str, Call] = {}
        self._json: dict[str, dict[int, bytes]] = {}
        # Calls deleted at the source (no longer served, nor in the truth), by id: restorable.
        self.deleted: dict[str, Call] = {}

    # ----------------------------------------------------------------- indexes

    def ensure_index(self, bad_count: int, orphan_count: int = 0) -> None:
        """(Re)builds the sorted indexes when data or the bad-record or orphan count changed."""
        if self._indexed == (bad_count, orphan_count):
            return
        if len(self.bad) != bad_count:
            self.bad = make_bad(self.seed, bad_count, self.start_ms, self.data_end_ms)
            self.version += 1
        if len(self.orphans) != orphan_count:
            self.orphans = make_orphans(self.seed, orphan_count, self.start_ms, self.data_end_ms)
            self.version += 1
        everything = self.base + self.bad + self.orphans
        self.by_instant = sorted(everything, key=lambda c: (c.start_ms, c.id))
        self.instant_keys = [c.start_ms for c in self.by_instant]
        self.by_local = sorted(everything, key=lambda c: (c.local_ms, c.id))
        self.local_keys = [c.local_ms for c in self.by_local]
        self.by_id = {c.id: c for c in everything}
        self._indexed = (bad_count, orphan_count)

    def _insert_indexed(self, call: Call) -> None:
        for calls, keys, moment in (
            (self.by_instant, self.instant_keys, call.start_ms),
            (self.by_local, self.local_keys, call.local_ms),
        ):
            # after every call of the same moment whose id sorts before it, as sorted() orders
            at = bisect_left(keys, moment)
            while at < len(keys) and keys[at] == moment and calls[at].id < call.id:
                at += 1
            calls.insert(at, call)
            keys.insert(at, moment)
        self.by_id[call.id] = call

    # ----------------------------------------------------------------- served JSON

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

    # ----------------------------------------------------------------- data changes

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
            return [c.id for c in new]

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

    def delete(self, call_ids: list[str]) -> None:
        """Deletes calls at the source: they are no longer served (KeyError: unknown id)."""
        with self.lock:
            doomed = {call_id: self.find(call_id) for call_id in call_ids}
            self.base = [c for c in self.base if c.id not in doomed]
            self.deleted.update(doomed)
            self.version += 1
            self._indexed = None

    def restore(self, call_ids: list[str]) -> None:
        """Serves deleted calls again, as they were (KeyError: not deleted)."""
        with self.lock:
            self.base.extend(self.deleted.pop(call_id) for call_id in call_ids)
            self.version += 1
            self._indexed = None

    def move(self, call_id: str, seconds: float) -> None:
        """Moves a call's start by ``seconds`` (a vendor correcting a start time): its wall time
        follows in its center's zone (KeyError: unknown id)."""
        with self.lock:
            call = self.find(call_id)
            call.start_ms += round(seconds * 1000)
            call.local_ms = call.start_ms + offset_ms(call.client.center.iana, call.start_ms)
            self.touched(call)
            self._indexed = None

    def find(self, call_id: str) -> Call:
        hit = self.by_id.get(call_id)
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
