"""Call records: a compact in-memory form and a seeded, deterministic generator.

A call is one ``__slots__`` object with pooled strings. Durations are multiples of a quarter
second: such doubles add up exactly in binary floating point, so the invariant
``DurationInSeconds == Ring + Talk + Hold + Transfer`` holds with ``==`` and never needs a
tolerance. Interactions are not stored: they are derived on demand from the call's durations and
a per-call seed (``iseed``), which saves a few hundred bytes per call at a million calls. An edit
that sets interactions stores them explicitly instead.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Any

from . import reference as ref
from .reference import Client
from .timefmt import offset_ms

Interaction = tuple[float, str, str]  # (offset in seconds from the call start, type, description)

CALL_TYPES = ("Incoming", "Outgoing", "Transfer")
# One call in this many (by serial), if answered, is served with an empty AnsweredBy.
ANSWERED_WITHOUT_AGENT_EVERY = 40
# A call spanning a fall-back change starts this long before it at most (ms).
SPAN_LEAD_MS = 10 * 60_000
# EmulatorSettings.odd_text: text a loader's file format could garble (an empty string against
# a null, CSV's delimiter, quote and line breaks, PostgreSQL's NULL marker and end-of-data line),
# cycled through these text fields and the interactions' descriptions of every Nth call.
ODD_TEXTS: tuple[str | None, ...] = (
    "", None, "comma, inside", 'a "quoted" word', "two\nlines", "back\\slash", "\\N", "\\.",
    "\r\n", '"', "\t",
)  # fmt: skip
ODD_TEXT_FIELDS = ("caller_name", "notes", "flag_notes", "screen_pop", "transfer_to_name")
ODD_TEXT_EVERY = 5


class Call:
    """One call record (internal form). ``n`` is a unique serial used as the cache key."""

    __slots__ = (
        "answered_by",
        "bad_kind",
        "caller_name",
        "caller_number",
        "client",
        "duration",
        "flag_notes",
        "flagged",
        "forms",
        "hold",
        "hold_count",
        "id",
        "interactions",
        "iseed",
        "local_ms",
        "n",
        "notes",
        "patch",
        "ring",
        "screen_pop",
        "start_ms",
        "talk",
        "transfer",
        "transfer_to_name",
        "transfer_to_number",
        "type",
        "work",
    )

    n: int
    id: str
    client: Client
    start_ms: int  # UTC epoch milliseconds
    local_ms: int  # the center's wall time, as naive epoch milliseconds
    caller_name: str
    caller_number: str
    transfer_to_name: str
    transfer_to_number: str
    notes: str
    duration: float
    ring: float
    hold: float
    hold_count: int
    answered_by: str
    talk: float
    transfer: float
    screen_pop: str
    flagged: bool
    flag_notes: str
    type: str
    work: float
    forms: tuple[str, ...]
    interactions: tuple[Interaction, ...] | None  # None: derive from iseed
    iseed: int
    bad_kind: str | None  # set on injected bad records
    patch: dict[str, object] | None  # fields overridden (or removed) in the served JSON

    def get_interactions(self) -> tuple[Interaction, ...]:
        if self.interactions is not None:
            return self.interactions
        return derive_interactions(self)


_NO_RNG = random.Random(0)  # never drawn from: _split with one part draws nothing


def _split(rng: random.Random, total: int, parts: int, minimum: int) -> list[int]:
    """Splits integer ``total`` into ``parts`` integers each >= ``minimum``."""
    spare = total - parts * minimum
    cuts = sorted(rng.randint(0, spare) for _ in range(parts - 1))
    bounds = [0, *cuts, spare]
    return [bounds[i + 1] - bounds[i] + minimum for i in range(parts)]


def derive_interactions(call: Call) -> tuple[Interaction, ...]:
    """Interactions consistent with the durations; integer quarter seconds keep sums exact."""
    ring = round(call.ring * 4)
    if not call.answered_by and call.talk <= 0:  # abandoned: the caller hangs up while it rings
        return ((ring / 4, "Hangup", "Caller abandoned before answer"),)
    answered = f"Answered by {call.answered_by}" if call.answered_by else "Answered"
    items: list[Interaction] = [(ring / 4, "Answer", answered)]
    t = ring
    # Seeding a Random costs more than the rest of this function: only calls with holds or a
    # stopped transfer need random numbers, so most calls skip it.
    needs_rng = call.hold_count or (call.transfer and not call.transfer_to_name)
    rng = random.Random(call.iseed) if needs_rng else _NO_RNG
    talk_parts = _split(rng, round(call.talk * 4), call.hold_count + 1, 0)
    holds = _split(rng, round(call.hold * 4), call.hold_count, 1) if call.hold_count else []
    for talk_q, hold_q in zip(talk_parts, holds, strict=False):
        t += talk_q
        items.append((t / 4, "Hold", "Caller placed on hold"))
        t += hold_q
        items.append((t / 4, "Retrieved", "Caller retrieved from hold"))
    t += talk_parts[-1]
    if call.transfer:
        if call.transfer_to_name:
            name, number = call.transfer_to_name, call.transfer_to_number
        else:
            name, number = rng.choice(ref.TRANSFER_TARGETS)
        items.append((t / 4, "TransferAttempt", f"Transferring to {name} ({number})"))
        t += round(call.transfer * 4)
        if call.transfer_to_name:
            items.append((t / 4, "TransferCompleted", f"Transferred to {name}"))
        else:
            items.append((t / 4, "TransferStopped", f"{name} did not answer; caller retrieved"))
    items.append((t / 4, "Hangup", "Call ended"))
    return tuple(items)


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def _q(rng: random.Random, low: float, high: float) -> float:
    """A random multiple of 0.25 s in [low, high]."""
    return rng.randint(int(low * 4), int(high * 4)) / 4


# Share of calls per local hour of day: busy office hours, quiet nights (but never empty, so
# that DST fall-back hours in the small hours also see a few calls).
_HOUR_WEIGHT = [0.12] * 6 + [0.35] * 2 + [1.0] * 10 + [0.35] * 4 + [0.12] * 2


class CallFactory:
    """Makes calls from one seeded RNG stream; caller pools give repeat callers per client."""

    def __init__(self, rng: random.Random, expected_calls: int) -> None:
        self.rng = rng
        self.next_n = 0
        # The clients (and through them the centers and agents) calls are made for; see
        # ``use_reference``. The same ids and weights whatever their names.
        self.clients: list[Client] = ref.CLIENTS
        self.cum_weights = list(accumulate(c.weight for c in ref.CLIENTS))
        pool_size = max(15, expected_calls // (len(ref.CLIENTS) * 3))
        self.pools: dict[str, list[tuple[str, str]]] = {
            c.id: [self._caller(c) for _ in range(pool_size)] for c in ref.CLIENTS
        }

    def use_reference(self, clients: list[Client], calls: Iterable[Call] = ()) -> None:
        """Makes calls from now on for ``clients`` (the reference clients renamed, e.g.
        ``ref.hostile_reference()``), and moves ``calls`` already made onto them: each call to
        the client of the same id, its agent to the one in the same place of that center's
        list. Draws no random number, so the data stay those of the seed."""
        by_id = {c.id: c for c in clients}
        if sorted(by_id) != sorted(c.id for c in self.clients):
            raise ValueError("use_reference wants the reference clients, renamed")
        self.clients = clients
        for call in calls:
            old, new = call.client, by_id[call.client.id]
            if call.answered_by in old.center.agents:
                call.answered_by = new.center.agents[old.center.agents.index(call.answered_by)]
            call.client = new

    def _caller(self, client: Client) -> tuple[str, str]:
        rng = self.rng
        if rng.random() < 0.08:
            name = rng.choice(ref.SPECIAL_CALLERS)
        else:
            name = f"{rng.choice(ref.FIRST_NAMES)} {rng.choice(ref.LAST_NAMES)}"
        country = client.center.country
        if country == "US":
            number = f"+1 {rng.randint(201, 989)}-555-{rng.randint(0, 9999):04d}"
        elif country == "GB":
            number = f"+44 7{rng.randint(100, 999)} {rng.randint(0, 999999):06d}"
        elif country == "AU":
            number = (
                f"+61 4{rng.randint(10, 99)} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}"
            )
        else:
            number = f"+91 9{rng.randint(0, 99999):05d} {rng.randint(0, 99999):05d}"
        return name, number

    def instant(self, low_ms: int, high_ms: int, client: Client) -> int:
        """A start instant in [low_ms, high_ms) shaped by the center's local hour of day."""
        rng = self.rng
        zone = client.center.iana
        for _ in range(30):
            t = rng.randrange(low_ms, high_ms)
            hour = ((t + offset_ms(zone, t)) // 3_600_000) % 24
            if rng.random() < _HOUR_WEIGHT[hour]:
                return t
        return t

    def pick_client(self) -> Client:
        rng = self.rng
        index = bisect_left(self.cum_weights, rng.random() * self.cum_weights[-1])
        return self.clients[min(index, len(self.clients) - 1)]

    def make(self, client: Client, start_ms: int) -> Call:
        rng = self.rng
        call = Call()
        call.n = self.next_n
        self.next_n += 1
        call.id = _guid(rng)
        call.client = client
        call.start_ms = start_ms
        call.local_ms = start_ms + offset_ms(client.center.iana, start_ms)
        call.caller_name, call.caller_number = rng.choice(self.pools[client.id])
        draw = rng.random()
        kind = "Incoming" if draw < 0.7 else "Outgoing" if draw < 0.9 else "Transfer"
        call.type = kind
        agents = client.center.agents
        abandoned = kind == "Incoming" and rng.random() < 0.12
        call.transfer_to_name = call.transfer_to_number = ""
        call.hold_count = 0
        call.hold = call.talk = call.transfer = call.work = 0.0
        if abandoned:
            # 40% of abandons are short (< 5 s): the ones service levels usually exclude.
            call.ring = _q(rng, 0.5, 4.75) if rng.random() < 0.4 else _q(rng, 5, 90)
            call.answered_by = ""
        else:
            call.ring = _q(rng, 1, 30) if kind != "Outgoing" else _q(rng, 2, 20)
            call.answered_by = rng.choice(agents)
            if call.n % ANSWERED_WITHOUT_AGENT_EVERY == 1:
                # A share of answered calls arrive without AnsweredBy (talk > 0 tells them
                # answered): the metrics' fallback. By serial, so no random draw shifts.
                call.answered_by = ""
            call.talk = min(round(rng.expovariate(1 / 150) * 4) / 4 + 5.0, 1800.0)
            hold_draw = rng.random()
            call.hold_count = (
                0 if hold_draw < 0.7 else 1 if hold_draw < 0.9 else 2 if (hold_draw < 0.98) else 3
            )
            if call.hold_count:
                call.hold = sum(_q(rng, 5, 120) for _ in range(call.hold_count))
            transfer_share = {"Incoming": 0.1, "Outgoing": 0.03, "Transfer": 1.0}[kind]
            if rng.random() < transfer_share:
                call.transfer = _q(rng, 5, 60)
                if rng.random() < 0.75:
                    call.transfer_to_name, call.transfer_to_number = rng.choice(
                        ref.TRANSFER_TARGETS
                    )
            call.work = 0.0 if rng.random() < 0.5 else _q(rng, 5, 180)
        call.duration = call.ring + call.talk + call.hold + call.transfer
        if rng.random() < 0.4:
            call.notes = ""
        else:
            call.notes = rng.choice(ref.NOTES)
            if rng.random() < 0.1:
                call.notes = f"{call.notes}\nCaller: {call.caller_name}, {call.caller_number}"
        call.screen_pop = (
            f"https://crm.example.com/pop?caller={call.caller_number.replace(' ', '')}"
            if rng.random() < 0.3
            else ""
        )
        call.flagged = rng.random() < 0.06
        call.flag_notes = rng.choice(ref.FLAG_NOTES) if call.flagged else ""
        form_draw = rng.random()
        k = 0 if form_draw < 0.55 else 1 if form_draw < 0.85 else 2 if form_draw < 0.95 else 3
        call.forms = tuple(rng.sample(client.form_ids, min(k, len(client.form_ids))))
        call.interactions = None
        call.iseed = rng.getrandbits(48)
        call.bad_kind = None
        call.patch = None
        return call

    def dst_edges(self, low_ms: int, high_ms: int) -> list[tuple[Client, int, int]]:
        """Calls around each DST change of each center in range: one in the hour before, one
        in the hour after, and at a fall-back change a third that starts just before it and
        ends after it, so that every dataset of a few hundred calls or more has calls in a
        repeated hour read twice (first and second occurrence), around a spring-forward gap,
        and a call whose later events fall in the repeated hour.

        Each edge is (client, start, end): ``end`` > 0 asks for an answered call lasting at
        least until that instant.
        """
        edges = []
        for center in dict.fromkeys(c.center for c in self.clients):
            clients = [c for c in self.clients if c.center is center]
            hour = low_ms // 3_600_000 + 1
            while hour * 3_600_000 < high_ms:
                at = hour * 3_600_000
                before, after = offset_ms(center.iana, at - 1), offset_ms(center.iana, at)
                if before != after:
                    starts = [
                        (at - self.rng.randint(1, 3_599_999), 0),
                        (at + self.rng.randrange(3_600_000), 0),
                    ]
                    if after < before:  # fall-back: the hour after repeats the hour before
                        starts.append(
                            (at - self.rng.randint(60_000, SPAN_LEAD_MS), at + SPAN_LEAD_MS)
                        )
                    for start, end in starts:
                        if low_ms <= start < high_ms:
                            edges.append((self.rng.choice(clients), start, end))
                hour += 1
        return edges

    def make_spanning(self, client: Client, start_ms: int, end_ms: int) -> Call:
        """An answered call starting at ``start_ms`` that lasts at least until ``end_ms``."""
        call = self.make(client, start_ms)
        if not call.answered_by:
            call.answered_by = self.rng.choice(client.center.agents)
        missing = (end_ms - start_ms) / 1000 - (call.ring + call.hold + call.transfer)
        call.talk = max(call.talk, math.ceil(missing * 4) / 4)
        call.duration = call.ring + call.talk + call.hold + call.transfer
        return call

    def generate(self, count: int, low_ms: int, high_ms: int, edges: bool = False) -> list[Call]:
        """``count`` calls starting in [low_ms, high_ms), sorted by (start, id)."""
        calls = []
        if edges and count >= 200:
            for client, start, end in self.dst_edges(low_ms, high_ms)[: count // 20]:
                if end:
                    calls.append(self.make_spanning(client, start, end))
                else:
                    calls.append(self.make(client, start))
        for _ in range(count - len(calls)):
            client = self.pick_client()
            calls.append(self.make(client, self.instant(low_ms, high_ms, client)))
        calls.sort(key=lambda c: (c.start_ms, c.id))
        return calls


def give_odd_text(calls: Sequence[Call]) -> None:
    """Every ``ODD_TEXT_EVERY``-th call: each text field and each interaction's description one
    of ``ODD_TEXTS``, shifted from call to call so every field gets every value."""
    for k, call in enumerate(calls[::ODD_TEXT_EVERY]):
        for j, name in enumerate(ODD_TEXT_FIELDS):
            setattr(call, name, ODD_TEXTS[(k + j) % len(ODD_TEXTS)])
        odd: list[Any] = [
            (offset, kind, ODD_TEXTS[(k + i) % len(ODD_TEXTS)])
            for i, (offset, kind, _) in enumerate(call.get_interactions())
        ]
        call.interactions = tuple(odd)
