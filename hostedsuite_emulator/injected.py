"""The unusual records an emulator can serve besides its regular calls: malformed records
(``EmulatorSettings.bad_records``) and calls of a center missing from /api/centers
(``EmulatorSettings.orphan_center_calls``). Both are deterministic for the seed."""

from __future__ import annotations

import random

from . import reference as ref
from .model import Call, CallFactory
from .shapes import REMOVE

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
# CenterIds of the calls served with a center missing from /api/centers (cycled): an id the
# user cannot see (a closed center, or one outside the user's permissions), empty, null.
ORPHAN_CENTER_IDS: tuple[str | None, ...] = (ref.stable_guid("center:closed"), "", None)
_LONG_NOTES = ("Very long note. " * 6250)[:100_000]


def make_bad(seed: int, count: int, start_ms: int, end_ms: int) -> list[Call]:
    """``count`` injected records starting in [start_ms, end_ms), cycling through BAD_KINDS."""
    factory = CallFactory(random.Random(f"{seed}:bad"), 100)
    factory.next_n = 1 << 40  # serials apart from the regular calls
    bad = []
    for i in range(count):
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        client = factory.pick_client()
        call = factory.make(client, factory.instant(start_ms, end_ms, client))
        call.bad_kind = kind
        # A unique marker a client can find in its quarantine (the Id may be unusable).
        call.caller_number = f"+1 000-BAD-{i:04d}"
        patches: dict[str, dict[str, object]] = {
            "unparseable_start": {"StartTime": "31/31/2024 99:99:99 XM"},
            "missing_start": {"StartTime": REMOVE},
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


def make_orphans(seed: int, count: int, start_ms: int, end_ms: int) -> list[Call]:
    """``count`` valid calls served with a CenterId missing from /api/centers (cycling through
    ORPHAN_CENTER_IDS); their wall times are their client's center's."""
    factory = CallFactory(random.Random(f"{seed}:orphans"), 100)
    factory.next_n = 1 << 41  # serials apart from the regular and the bad calls
    orphans = []
    for i in range(count):
        client = factory.pick_client()
        call = factory.make(client, factory.instant(start_ms, end_ms, client))
        call.patch = {"CenterId": ORPHAN_CENTER_IDS[i % len(ORPHAN_CENTER_IDS)]}
        orphans.append(call)
    return orphans
