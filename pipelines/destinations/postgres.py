"""PostgreSQL: dlt's own destination, with credentials from ``destination.postgres.credentials``.

Arrow tables (the calls and their child tables) load by an exact ``COPY``, rows (centers,
clients, dlt's own tables) by INSERT statements (``postgres_copy.py``); the password may come
from libpq (``PGPASSWORD``, ``~/.pgpass``). Analysts query the server itself: there is nothing
to publish.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dlt
from dlt.common.destination import TLoaderFileFormat

from pipelines.destinations.base import Destination
from pipelines.destinations.postgres_copy import postgres
from pipelines.destinations.purging import ANALYTICS_SCHEMAS, vacuum_postgres


class Postgres(Destination):
    name: ClassVar[str] = "postgres"
    # none forced: dlt writes each item format natively, Arrow as CSV and rows as INSERTs
    loader_file_format: ClassVar[TLoaderFileFormat | None] = None

    def dlt_destination(self) -> Any:
        # dlt resolves destination.postgres.credentials itself (env or secrets); a reference by
        # import path, as for dlt's own destinations, so dlt may name it when it restores state
        return f"{postgres.__module__}.{postgres.__qualname__}"

    def publish(
        self, pipeline: dlt.Pipeline, health: dict[str, Any], now: bool = False
    ) -> list[str]:
        return ["serving copy: skipped (the warehouse is a postgres server: query it there)"]

    def purge(self, pipeline: dlt.Pipeline) -> list[str]:
        with pipeline.sql_client() as sql:
            dsn = sql.credentials.to_native_representation()
        dataset = pipeline.dataset_name
        # dlt's staging tables keep the last load's rows (as they were sent) until the next
        # load empties them: emptied now, or their rows and their statistics would keep them
        notes = vacuum_postgres(
            dsn, (dataset, f"{dataset}_staging", *ANALYTICS_SCHEMAS), (f"{dataset}_staging",)
        )
        return ["purge: every table rewritten (VACUUM FULL, ANALYZE)", *notes]

    def location(self) -> str:
        return "postgres (destination.postgres.credentials)"
