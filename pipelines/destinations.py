"""Which dlt destination the pipeline loads into, read through dlt's configuration.

``DESTINATION_NAME`` (env) or ``[pipeline] destination`` (``.dlt/config.toml``) names it;
DuckDB is the default; ``postgres`` and ``ducklake`` (``pipelines/ducklake.py``) are the others.
Each destination is one branch of ``make_destination``: its credentials
come from dlt's usual keys (``DESTINATION__POSTGRES__CREDENTIALS``, ...), and only DuckDB gets
the DuckDB settings (file checks, memory cap, the merge corrections of ``merge_sql``).
"""

from __future__ import annotations

import logging
from importlib.metadata import version
from typing import Any, Final

import dlt
from dlt.common.destination import TLoaderFileFormat

from pipelines.hostedsuite.merge_sql import use_duckdb_merge_corrections

logger = logging.getLogger("hostedsuite")

DEFAULT_DESTINATION: Final = "duckdb"


SUPPORTED_DESTINATIONS: Final = ("duckdb", "postgres", "ducklake")


# merge_sql patches dlt's merge SQL as dlt 1.31.0 writes it; on any other dlt the patch could
# change what a merge deletes, so dlt's own SQL is used instead.
MERGE_SQL_DLT_VERSION: Final = "1.31.0"


# How the normalized rows reach each destination: DuckDB reads parquet directly; PostgreSQL
# gets INSERT statements. Its faster CSV COPY is not exact: dlt's COPY turns every empty string
# of a nullable column into NULL (FORCE_NULL), and parquet would need the ADBC driver.
LOADER_FILE_FORMATS: Final[dict[str, TLoaderFileFormat]] = {
    "duckdb": "parquet",
    "postgres": "insert_values",
    "ducklake": "parquet",
}


class UnsupportedDestination(ValueError):
    """A destination name the pipeline does not support."""


def destination_name() -> str:
    """``DESTINATION_NAME`` / ``destination_name``, else ``[pipeline] destination``, else
    DuckDB; lower case."""
    configured = dlt.config.get("destination_name", str) or dlt.config.get(
        "pipeline.destination", str
    )
    return (configured or DEFAULT_DESTINATION).strip().lower()


def make_destination(duckdb_credentials: dict[str, Any] | None) -> Any:
    """The dlt destination to load into. ``duckdb_credentials``: the DuckDB file and settings
    (only read when the destination is DuckDB)."""
    name = destination_name()
    if name == "duckdb":
        install_merge_corrections()
        if duckdb_credentials is None:
            return dlt.destinations.duckdb()
        return dlt.destinations.duckdb(credentials=duckdb_credentials)
    if name == "postgres":
        # credentials: dlt resolves destination.postgres.credentials itself (env or secrets)
        return "postgres"
    if name == "ducklake":
        # dlt's ducklake destination with the pinned extension files (imported here: it imports
        # pipelines.operations, which imports this module)
        from pipelines import ducklake

        return ducklake.destination()
    raise UnsupportedDestination(
        f"destination {name!r} is not supported; use one of: {', '.join(SUPPORTED_DESTINATIONS)}"
    )


def install_merge_corrections() -> bool:
    """Installs ``merge_sql``'s corrections (DuckDB only) when dlt is the version they were
    written against; otherwise warns and leaves dlt's own merge SQL. True when installed."""
    installed = version("dlt")
    if installed != MERGE_SQL_DLT_VERSION:
        logger.warning(
            "dlt %s is not %s: using dlt's own merge SQL (the merge corrections of merge_sql.py "
            "were written for %s; a large merge may need more memory)",
            installed,
            MERGE_SQL_DLT_VERSION,
            MERGE_SQL_DLT_VERSION,
        )
        return False
    # see merge_sql: the child tables' merge would not scale; 25-50 MB less per 100k calls
    use_duckdb_merge_corrections()
    return True


def loader_file_format(destination_type: str) -> TLoaderFileFormat:
    """The file format for a pipeline's ``destination.destination_type`` (e.g.
    ``dlt.destinations.postgres``)."""
    return LOADER_FILE_FORMATS[destination_type.rsplit(".", 1)[-1]]
