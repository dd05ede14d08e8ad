"""The API's error answers: an exception with a status and a ServiceStack ResponseStatus body."""

from __future__ import annotations

import orjson


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
