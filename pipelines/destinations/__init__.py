"""Which warehouse the pipeline writes, read through dlt's configuration.

``DESTINATION_NAME`` (env) or ``[pipeline] destination`` (``.dlt/config.toml``) names it; DuckDB
is the default. Each destination is one module implementing ``base.Destination``: ``duckdb``
(with ``duckdb_merge`` and ``serving_copy``), ``postgres`` and ``ducklake``, listed in
``REGISTERED`` by name and imported only when a run uses it. Their credentials come from dlt's
own keys (``DESTINATION__POSTGRES__CREDENTIALS``, ...).
"""

from __future__ import annotations

import importlib
from typing import Final

import dlt

from pipelines.destinations.base import Destination
from pipelines.errors import ExitCode, RunError

DEFAULT_DESTINATION: Final = "duckdb"
# Our [pipeline] settings (see pipelines/known_settings.py).
PIPELINE_DESTINATION: Final = "pipeline.destination"
PIPELINE_SETTINGS: Final = (PIPELINE_DESTINATION,)
# name -> (module, class). The modules are imported by name, and only the one a run uses
# (issue #22): a scheduled DuckDB load imported PostgreSQL's driver and DuckLake's machinery.
REGISTERED: Final[dict[str, tuple[str, str]]] = {
    "duckdb": ("pipelines.destinations.duckdb", "DuckDb"),
    "postgres": ("pipelines.destinations.postgres", "Postgres"),
    "ducklake": ("pipelines.destinations.ducklake", "DuckLake"),
}
SUPPORTED_DESTINATIONS: Final = tuple(REGISTERED)

__all__ = [
    "REGISTERED",
    "SUPPORTED_DESTINATIONS",
    "Destination",
    "configured_destination",
    "destination_class",
    "kind_of",
]


def destination_class(name: str) -> type[Destination]:
    """The registered destination ``name`` (its module imported now, if it was not)."""
    module, class_name = REGISTERED[name]
    kind: type[Destination] = getattr(importlib.import_module(module), class_name)
    return kind


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
    if name not in REGISTERED:
        raise RunError(
            ExitCode.BAD_CONFIG,
            f"destination {name!r} is not supported; use one of: "
            f"{', '.join(SUPPORTED_DESTINATIONS)}",
        )
    return destination_class(name)(duckdb_file, serving)


def kind_of(pipeline: dlt.Pipeline) -> type[Destination]:
    """The destination class of a pipeline (``destination_type`` ends with its name)."""
    return destination_class(pipeline.destination.destination_type.rsplit(".", 1)[-1])
