"""dlt's PostgreSQL destination, loading by ``COPY`` and exactly: an empty string stays an empty
string and NULL stays NULL.

dlt's own CSV ``COPY`` adds ``FORCE_NULL`` on every nullable column because its row writer
writes both values the same way, so every empty string would land as NULL. The calls and their
child tables reach the loader as Arrow tables, and Arrow's CSV writer (dlt's, quoting as
needed) quotes every string, the empty one as ``""``, and leaves a NULL unquoted and empty; in
PostgreSQL's CSV format with ``NULL ''`` that is exactly the difference, so the copy here is
dlt's without ``FORCE_NULL``. The tables that arrive as Python rows (centers, clients, dlt's
own) keep INSERT statements, which are exact: the capabilities offer only ``insert_values``
(preferred) and ``csv``, and dlt writes each item format with its native writer, Arrow to CSV
and rows to INSERTs. Everything after the copy (staging tables, dlt's merge on ``id``, its
state) is dlt's, unchanged.

The password is optional: without one, libpq finds it as it always does (``PGPASSWORD``,
``~/.pgpass`` or ``PGPASSFILE``), or the server needs none (``trust``, ``peer`` on a socket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Optional

from dlt.common.configuration import configspec
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.destination.client import LoadJob
from dlt.common.destination.typing import PreparedTableSchema
from dlt.common.schema.typing import TTableSchema
from dlt.common.storages.file_storage import FileStorage
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.common.typing import TLoaderFileFormat, TSecretStrValue
from dlt.destinations import postgres as dlt_postgres
from dlt.destinations.impl.postgres.configuration import (
    PostgresClientConfiguration,
    PostgresCredentials,
)
from dlt.destinations.impl.postgres.postgres import PostgresClient, PostgresCsvCopyJob

# psycopg2 sends the file to the server in pieces of this size (dlt's is 8 KiB).
COPY_CHUNK_BYTES: Final = 1 << 20


@configspec(init=False)
class LibpqCredentials(PostgresCredentials):
    """dlt's credentials with the password optional: libpq finds it, or the server needs none."""

    password: Optional[TSecretStrValue] = None  # type: ignore[assignment]  # noqa: UP045


@configspec
class ExactPostgresConfiguration(PostgresClientConfiguration):
    credentials: LibpqCredentials = None  # type: ignore[assignment]  # dlt resolves it


def _same_formats(
    preferred: TLoaderFileFormat,
    supported: Sequence[TLoaderFileFormat],
    /,
    *,
    table_schema: TTableSchema,
) -> tuple[TLoaderFileFormat, Sequence[TLoaderFileFormat]]:
    """Every table the same formats (dlt's selector would offer parquet through ADBC)."""
    return preferred, supported


class ExactCsvCopyJob(PostgresCsvCopyJob):
    """``COPY`` of a CSV file written from Arrow: a quoted empty field is an empty string, an
    unquoted empty field is NULL (no ``FORCE_NULL``)."""

    def run(self) -> None:
        sql_client = self._job_client.sql_client
        with FileStorage.open_zipsafe_ro(self._file_path, "rb") as f:
            header = f.readline().decode("utf-8").rstrip("\r\n")
            columns = ",".join(
                sql_client.escape_column_name(name.strip('"'), quote=True)
                for name in header.split(",")
            )
            table = sql_client.make_qualified_table_name(self.load_table_name)
            copy_sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT CSV, NULL '')"
            with sql_client.begin_transaction(), sql_client.native_connection.cursor() as cursor:
                cursor.copy_expert(copy_sql, f, size=COPY_CHUNK_BYTES)


class ExactCopyClient(PostgresClient):
    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        if ParsedLoadJobFileName.parse(file_path).file_format == "csv":
            return ExactCsvCopyJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)


class postgres(dlt_postgres):  # dlt names a destination by its class: "postgres"
    """dlt's ``postgres`` destination, loading Arrow tables by exact ``COPY``."""

    spec = ExactPostgresConfiguration  # type: ignore[assignment]  # a subclass of dlt's spec

    def _raw_capabilities(self) -> DestinationCapabilitiesContext:
        caps = super()._raw_capabilities()
        caps.preferred_loader_file_format = "insert_values"
        caps.supported_loader_file_formats = ["insert_values", "csv"]
        caps.loader_file_format_selector = _same_formats
        return caps

    @property
    def client_class(self) -> Any:
        return ExactCopyClient
