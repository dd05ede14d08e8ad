"""Reading the fields of a request body as the .NET service deserializes them.

Each reader returns None for an absent, null or empty field and raises the service's 400
(:class:`ApiError`) for a value its type cannot take.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .timefmt import RequestDate, parse_request_date


def as_int(body: dict[str, Any], name: str) -> int | None:
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


def as_float(body: dict[str, Any], name: str) -> float | None:
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


def as_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float):
        raise ApiError(400, "SerializationException", f"Could not deserialize '{name}'")
    return str(value)


def as_date(body: dict[str, Any], name: str) -> RequestDate | None:
    text = as_str(body, name)
    if text is None:
        return None
    try:
        return parse_request_date(text)
    except ValueError as exc:
        raise ApiError(400, "FormatException", f"{name}: {exc}") from None


def as_bool(body: dict[str, Any], name: str) -> bool:
    """False when absent or null; true/false as JSON booleans or as text in any case."""
    value = body.get(name)
    if value is None or value is False or value is True:
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, "SerializationException", f"Could not deserialize '{name}': {value!r}")
