"""Which warehouse the pipeline writes, read through dlt's configuration.

``DESTINATION_NAME`` (env) or ``[pipeline] destination`` (``.dlt/config.toml``) names it; DuckDB
is the default. Each destination is one module implementing ``base.Destination``: ``duckdb``
(with ``duckdb_merge`` and ``serving_copy``), ``postgres`` and ``ducklake``. Their credentials
come from dlt's own keys (``DESTINATION__POSTGRES__CREDENTIALS``, ...).
"""

from __future__ import annotations

from typing import Final

import dlt

from pipelines.destinations.base import Destination
from pipelines.destinations.duckdb import DuckDb
from pipelines.destinations.ducklake import DuckLake
from pipelines.destinations.postgres import Postgres
from pipelines.errors import ExitCode, RunError

DEFAULT_DESTINATION: Final = "duckdb"
# Our [pipeline] settings (see pipelines/known_settings.py).
PIPELINE_DESTINATION: Final = "pipeline.destination"
PIPELINE_SETTINGS: Final = (PIPELINE_DESTINATION,)
REGISTERED: Final[dict[str, type[Destination]]] = {
    kind.name: kind for kind in (DuckDb, Postgres, DuckLake)
}
SUPPORTED_DESTINATIONS: Final = tuple(REGISTERED)

__all__ = [
    "REGISTERED",
    "SUPPORTED_DESTINATIONS",
    "Destination",
    "configured_destination",
    "kind_of",
]


def destination_name() -> str:
    """``DESTINATION_NAME`` / ``destination_name``, else ``[pipeline] destination``, else
    DuckDB; lower case."""
    configured = dlt.config.get("destination_name", str) or dlt.config.get(
        PIPELINE_DESTINATION, str
    )
    return (configured or DEFAULT_DESTINATION).strip().lower()


def configured_destination(
    duckdb_file: str | None = None, serving: str | None = None
) -> Destination:
    """The configured destination; ``duckdb_file``, ``serving``: ``--duckdb`` and
    ``--serving`` (DuckDB only)."""
    name = destination_name()
    kind = REGISTERED.get(name)
    if kind is None:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"destination {name!r} is not supported; use one of: "
            f"{', '.join(SUPPORTED_DESTINATIONS)}",
        )
    return kind(duckdb_file, serving)


def kind_of(pipeline: dlt.Pipeline) -> type[Destination]:
    """The destination class of a pipeline (``destination_type`` ends with its name)."""
    return REGISTERED[pipeline.destination.destination_type.rsplit(".", 1)[-1]]
