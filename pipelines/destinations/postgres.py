"""PostgreSQL: dlt's own destination, with credentials from ``destination.postgres.credentials``.

Loads use INSERT statements: dlt's faster CSV ``COPY`` is not exact, since it turns every empty
string of a nullable column into NULL (FORCE_NULL), and parquet would need the ADBC driver.
Analysts query the server itself: there is nothing to publish.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dlt
from dlt.common.destination import TLoaderFileFormat

from pipelines.destinations.base import Destination
from pipelines.destinations.purging import ANALYTICS_SCHEMAS, vacuum_postgres


class Postgres(Destination):
    name: ClassVar[str] = "postgres"
    loader_file_format: ClassVar[TLoaderFileFormat] = "insert_values"

    def dlt_destination(self) -> Any:
        # dlt resolves destination.postgres.credentials itself (env or secrets)
        return "postgres"

    def publish(
        self, pipeline: dlt.Pipeline, health: dict[str, Any], now: bool = False
    ) -> list[str]:
        return ["serving copy: skipped (the warehouse is a postgres server: query it there)"]

    def purge(self, pipeline: dlt.Pipeline) -> list[str]:
        with pipeline.sql_client() as sql:
            dsn = sql.credentials.to_native_representation()
        dataset = pipeline.dataset_name
        notes = vacuum_postgres(dsn, (dataset, f"{dataset}_staging", *ANALYTICS_SCHEMAS))
        return ["purge: every table rewritten (VACUUM FULL, ANALYZE)", *notes]

    def location(self) -> str:
        return "postgres (destination.postgres.credentials)"
