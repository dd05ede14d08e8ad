"""The callers the privacy and erasure tests look for, chosen from the emulator's truth.

A caller's values are searched for in files, so each must be distinctive: a name no agent,
transfer target or other field carries, a number no transfer target has. The expected erased
calls are worked out here from the truth alone, by the rule the README states: a call is the
caller's when its number has the same digits, or (a name given) its trimmed name is the name.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from hostedsuite_emulator import reference as ref

PERSONAL_COLUMNS = (
    "caller_name",
    "caller_number",
    "transfer_to_name",
    "transfer_to_number",
    "notes",
    "flag_notes",
    "screen_pop",
)
KEY = "a-test-privacy-key-of-forty-characters!!"


def digits(number: str) -> str:
    return re.sub(r"[^0-9]", "", number)


def policy_env(treatment: str, key: str | None = KEY) -> dict[str, str]:
    """Every personal column under ``treatment`` (env vars, as an operator would set them)."""
    env = {f"PRIVACY__{column.upper()}": treatment for column in PERSONAL_COLUMNS}
    if key:
        env["PRIVACY__HASH_KEY"] = key
    return env


def reserved_names() -> set[str]:
    """Names that occur outside a caller's own fields (agents, transfer targets, specials)."""
    names = {agent for center in ref.CENTERS for agent in center.agents}
    names |= {name for name, _ in ref.TRANSFER_TARGETS} | set(ref.SPECIAL_CALLERS)
    return names


@dataclass(frozen=True)
class Caller:
    number: str  # as the API sends it
    name: str
    call_ids: frozenset[str]  # every call that is theirs by number or by name

    @property
    def needles(self) -> list[str]:
        """What must not be found after an erasure: the number as sent, its digits, its
        screen-pop form, and the name."""
        return [self.number, digits(self.number), "+" + digits(self.number), self.name]


def distinctive_callers(calls: list[dict[str, Any]], count: int) -> list[Caller]:
    """The ``count`` callers with the most calls whose name and number are distinctive."""
    reserved = reserved_names()
    target_numbers = {digits(n) for _, n in ref.TRANSFER_TARGETS}
    by_number = Counter(digits(c["caller_number"]) for c in calls)
    chosen: list[Caller] = []
    for number_digits, _ in by_number.most_common():
        mine = [c for c in calls if digits(c["caller_number"]) == number_digits]
        names = {c["caller_name"] for c in mine}
        if len(names) != 1 or number_digits in target_numbers:
            continue
        name = names.pop()
        if name in reserved or len(name) < 8:
            continue
        ids = {c["id"] for c in calls if digits(c["caller_number"]) == number_digits}
        ids |= {c["id"] for c in calls if c["caller_name"].strip() == name}
        chosen.append(Caller(mine[0]["caller_number"], name, frozenset(ids)))
        if len(chosen) == count:
            break
    return chosen
