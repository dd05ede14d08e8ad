"""Callers' personal fields treated before anything is written: ``keep``, ``hash`` or ``drop``.

The source applies the policy to every parsed page (``privacy_pages.treat_page``) before the rows
are built,
so a plain value never reaches dlt's extract files, the load package, the warehouse, the
serving copy, a lake or the report. ``hash`` is HMAC-SHA-256 under a secret key:

- a text field (a name, notes, a screen-pop URL) is hashed after trimming surrounding white
  space (Unicode NFC), written as 64 hex digits;
- a number field is reduced to its digits first, so ``+1 (312) 555-0001`` and ``13125550001``
  hash alike, and the HMAC is written as 78 decimal digits (all 256 bits). The repeat-call rule
  compares numbers "by their digits": a hashed number is all digits, so the rule gives on hashes
  exactly the answer it gives on plain numbers. A number with no digits (withheld,
  ``Anonymous``) lands NULL, as the rule already treats it.

Blank values stay as they are (they identify nobody). Each kind of value is hashed under its
own domain tag, so a name can never hash like a number or a call id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

KEEP: Final = "keep"
HASH: Final = "hash"
DROP: Final = "drop"
TREATMENTS: Final = (KEEP, HASH, DROP)
# API field -> warehouse column: the fields that carry a caller's (or a transfer target's)
# identity or free text about them.
PERSONAL_FIELDS: Final[dict[str, str]] = {
    "CallerName": "caller_name",
    "CallerNumber": "caller_number",
    "TransferToName": "transfer_to_name",
    "TransferToNumber": "transfer_to_number",
    "Notes": "notes",
    "FlagNotes": "flag_notes",
    "ScreenPop": "screen_pop",
}
NUMBER_FIELDS: Final = frozenset({"CallerNumber", "TransferToNumber"})
# 2**256 - 1 has 78 decimal digits
NUMBER_HASH_DIGITS: Final = 78
NON_DIGITS: Final = re.compile(r"[^0-9]")
# What a key is checked against (never the key itself): its identity in the stored policy.
KEY_ID_MESSAGE: Final = b"hostedsuite privacy key id"


def digits(value: str) -> str:
    """The digits of a phone number, as the repeat-call rule compares them."""
    return NON_DIGITS.sub("", value)


@dataclass(frozen=True)
class PrivacyPolicy:
    """A treatment per personal field, and the key ``hash`` needs (never printed)."""

    treatments: tuple[tuple[str, str], ...] = tuple((f, KEEP) for f in PERSONAL_FIELDS)
    key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.hashes and not self.key:
            raise ValueError("a hash treatment needs a key")

    @classmethod
    def of(cls, treatments: Mapping[str, str], key: bytes | None = None) -> PrivacyPolicy:
        """From API field -> treatment (fields not named: ``keep``)."""
        for name, treatment in treatments.items():
            if name not in PERSONAL_FIELDS or treatment not in TREATMENTS:
                raise ValueError(f"not a personal field and treatment: {name}={treatment}")
        return cls(tuple((f, treatments.get(f, KEEP)) for f in PERSONAL_FIELDS), key)

    def treatment(self, api_field: str) -> str:
        return dict(self.treatments)[api_field]

    @property
    def keeps_all(self) -> bool:
        return all(t == KEEP for _, t in self.treatments)

    @property
    def hashes(self) -> bool:
        return any(t == HASH for _, t in self.treatments)

    @property
    def key_id(self) -> str | None:
        """A digest that tells keys apart without revealing them (None without a key)."""
        if not self.key:
            return None
        return hmac.new(self.key, KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]

    def fingerprint(self) -> dict[str, Any]:
        """What the warehouse records of the policy it was loaded under (column -> treatment,
        and the key's id when something is hashed)."""
        stored: dict[str, Any] = {PERSONAL_FIELDS[f]: t for f, t in self.treatments}
        stored["key_id"] = self.key_id if self.hashes else None
        return stored

    # ---------------------------------------------------------------- hashing

    def _mac(self, domain: bytes, value: str) -> bytes:
        if not self.key:
            raise ValueError("hashing needs the privacy key")
        return hmac.new(self.key, domain + b"\x00" + value.encode(), hashlib.sha256).digest()

    def hash_text(self, value: str) -> str:
        normalised = unicodedata.normalize("NFC", value.strip())
        return self._mac(b"text", normalised).hex()

    def hash_number(self, value: str) -> str | None:
        number = digits(value)
        if not number:
            return None
        return str(int.from_bytes(self._mac(b"number", number))).zfill(NUMBER_HASH_DIGITS)

    def hash_call_id(self, call_id: str) -> str:
        return self._mac(b"call", call_id.strip()).hex()

    def treat(self, api_field: str, value: Any) -> Any:
        """One value of ``api_field`` under its treatment."""
        treatment = self.treatment(api_field)
        if treatment == KEEP or value is None:
            return value
        if treatment == DROP:
            return None
        text = value if isinstance(value, str) else str(value)
        if not text.strip():
            return value
        return self.hash_number(text) if api_field in NUMBER_FIELDS else self.hash_text(text)

    def treat_record(self, raw: Any) -> Any:
        """A record as the API sent it (quarantined), treated. A record that is not an object
        cannot be treated field by field: under any other policy than ``keep`` it is replaced
        by the hash of its text."""
        if self.keeps_all:
            return raw
        if not isinstance(raw, dict):
            return {"withheld": self.hash_text(orjson.dumps(raw, default=str).decode())}
        return {k: self.treat(k, v) if k in PERSONAL_FIELDS else v for k, v in raw.items()}


@dataclass(frozen=True)
class ErasureList:
    """What the source must never land again: keyed hashes of erased call ids, numbers
    (their digits) and names; the plain values are never stored."""

    call_ids: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.call_ids or self.numbers or self.names)

    def erased_rows(
        self, policy: PrivacyPolicy, ids: Iterable[Any], numbers: Iterable[Any], names: Any
    ) -> list[bool]:
        """Per record: whether it is an erased call, or a call of an erased number or name.
        ``numbers``, ``names``: the values as the API sent them (before treatment)."""
        flags = []
        for call_id, number, name in zip(ids, numbers, names, strict=True):
            flags.append(
                (isinstance(call_id, str) and policy.hash_call_id(call_id) in self.call_ids)
                or (isinstance(number, str) and policy.hash_number(number) in self.numbers)
                or (
                    isinstance(name, str)
                    and bool(name.strip())
                    and policy.hash_text(name) in self.names
                )
            )
        return flags
