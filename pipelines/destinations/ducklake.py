"""The DuckLake destination: Parquet files in a folder or a bucket, their catalog in PostgreSQL.

One DuckDB file has one writer process; a lake has as many readers as there are analysts, on
any machine that reaches the catalog and the files, while loads keep committing snapshots.
``DuckLake`` is dlt's own ``ducklake`` destination, chosen with ``DESTINATION_NAME=ducklake``
(or ``destination_name = "ducklake"`` in ``.dlt/config.toml``); the catalog and the data path
are dlt's own keys, ``[destination.ducklake.credentials] catalog`` and ``storage.bucket_url``.

DuckDB's extensions (``ducklake``, ``postgres_scanner``, ``httpfs``) come from pinned PyPI
wheels (``duckdb-ext-*``, see requirements.lock). Each wheel holds only the extension file, laid
out as DuckDB's own extension folder (``duckdb_ext/extensions/v<duckdb>/<platform>/``); this
module finds it in the wheel's file list and has dlt ``LOAD`` it by path on every connection,
with DuckDB's automatic install and load switched off: nothing is downloaded at run time.

Readers attach the lake at the snapshot each run publishes (``publish_snapshot``); the reader
side, ``python -m pipelines.ducklake``, is ``pipelines/ducklake.py``.
"""

from __future__ import annotations

import importlib.metadata
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ClassVar, Final

import dlt
import duckdb
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import CustomLoaderDocProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.destination import TLoaderFileFormat
from dlt.destinations.sql_client import SqlClientBase

from pipelines import load_health
from pipelines.destinations.base import Destination
from pipelines.destinations.purging import compact_lake
from pipelines.errors import ExitCode, RunError

DESTINATION: Final = "ducklake"
# The catalog's PostgreSQL schema and the attach name; dlt's default, spelled out for readers.
DEFAULT_LAKE_NAME: Final = "ducklake"
PROVIDER_NAME: Final = "hostedsuite ducklake extensions"
# The commit message of the snapshots readers query (see publish_snapshot).
PUBLISHED: Final = "published"
# (wheel, extension): postgres_scanner reads the catalog, httpfs the s3:// and gs:// data paths.
EXTENSIONS: Final = (
    ("duckdb-ext-postgres", "postgres_scanner"),
    ("duckdb-ext-ducklake", "ducklake"),
    ("duckdb-ext-httpfs", "httpfs"),
)
# Set on every connection after the pinned files are loaded: an extension missing from the list
# above then fails with DuckDB's "not loaded" error instead of a download attempt.
OFFLINE_SETTINGS: Final[dict[str, Any]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# What the provider below hands dlt; set by the last ``destination()`` of this process.
_PROVIDED: dict[str, Any] = {}


def extension_file(wheel: str, extension: str) -> Path:
    """The ``<extension>.duckdb_extension`` file that ``wheel`` installed for this duckdb."""
    try:
        distribution = importlib.metadata.distribution(wheel)
    except importlib.metadata.PackageNotFoundError:
        raise RunError(
            ExitCode.BAD_CONFIG, f"{wheel} is not installed: run `make venv` (requirements.lock)"
        ) from None
    wanted = f"{extension}.duckdb_extension"
    for file in distribution.files or []:
        if file.name == wanted and f"v{duckdb.__version__}" in file.parts:
            return Path(str(distribution.locate_file(file)))
    raise RunError(
        ExitCode.BAD_CONFIG,
        f"{wheel} {distribution.version} has no {wanted} for duckdb {duckdb.__version__}",
    )


def load_statements(remote_storage: bool = True) -> list[str]:
    """``LOAD '<file>'`` for each pinned extension, in dependency order; httpfs only for data in
    a bucket (DuckDB checks each file's signature on every connection: ~0.3 s apiece)."""
    wanted = [(w, n) for w, n in EXTENSIONS if remote_storage or n != "httpfs"]
    paths = [str(extension_file(wheel, name)) for wheel, name in wanted]
    return ["LOAD '" + path.replace("'", "''") + "'" for path in paths]


def use_pinned_extensions(remote_storage: bool) -> None:
    """Registers, behind every other config provider (idempotent), the pinned extension files
    and the offline settings as dlt's ``[destination.ducklake.credentials]`` ``extensions`` and
    ``global_config``: every connection dlt opens to the lake loads them first."""
    # dlt runs "LOAD <item>" for each item, so an item may be a quoted path
    files = [statement.removeprefix("LOAD ") for statement in load_statements(remote_storage)]
    credentials = {"extensions": files, "global_config": dict(OFFLINE_SETTINGS)}
    _PROVIDED.clear()
    _PROVIDED.update({"destination": {DESTINATION: {"credentials": credentials}}})
    providers = Container()[PluggableRunContext].providers
    if PROVIDER_NAME not in providers:
        # supports_secrets: the values sit in the credentials section, read as secret by dlt
        providers.add_provider(CustomLoaderDocProvider(PROVIDER_NAME, lambda: _PROVIDED, True))


class DuckLake(Destination):
    """Parquet files and a PostgreSQL catalog; readers attach the snapshot each run publishes."""

    name: ClassVar[str] = DESTINATION
    loader_file_format: ClassVar[TLoaderFileFormat] = "parquet"
    # no constraints in a lake; verify's DELETE keeps its key unique
    verify_primary_key: ClassVar[bool] = False

    def dlt_destination(self) -> Any:
        """dlt's ducklake destination from dlt's config, with the pinned extensions; one clear
        line when the catalog or the data path is missing (dlt would quietly make local ones)."""
        section = f"destination.{DESTINATION}.credentials"
        if not dlt.secrets.get(f"{section}.catalog"):
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"DuckLake needs a catalog: set [{section}] catalog = "
                '"postgres://user:password@host:5432/database" (env DESTINATION__DUCKLAKE__'
                "CREDENTIALS__CATALOG)",
            )
        bucket_url = str(dlt.secrets.get(f"{section}.storage.bucket_url") or "")
        if not bucket_url:
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"DuckLake needs a data path: set [{section}.storage] bucket_url = a folder, "
                '"s3://bucket/path" or "gs://bucket/path" (env DESTINATION__DUCKLAKE__'
                "CREDENTIALS__STORAGE__BUCKET_URL)",
            )
        remote = "://" in bucket_url and not bucket_url.startswith("file:")
        if bucket_url.startswith("s3://"):
            _require_s3_keys(f"{section}.storage.credentials")
        use_pinned_extensions(remote_storage=remote)
        return DESTINATION

    @classmethod
    def verify_writes(cls, sql: SqlClientBase[Any]) -> AbstractContextManager[Any]:
        # each statement outside a transaction would be a snapshot of its own
        return sql.begin_transaction()

    def publish(
        self, pipeline: dlt.Pipeline, health: dict[str, Any], now: bool = False
    ) -> list[str]:
        return publish_snapshot(pipeline, health)

    def purge(self, pipeline: dlt.Pipeline) -> list[str]:
        catalog = str(dlt.secrets.get(f"destination.{DESTINATION}.credentials.catalog"))
        with pipeline.sql_client() as sql:
            notes = compact_lake(sql, catalog, DEFAULT_LAKE_NAME)
        return [
            "purge: data files with deletions rewritten, older snapshots expired, their files "
            "deleted, the catalog vacuumed",
            *notes,
        ]

    def location(self) -> str:
        return "ducklake (destination.ducklake.credentials)"


def publish_snapshot(pipeline: dlt.Pipeline, health: dict[str, Any]) -> list[str]:
    """Marks the lake's state after this run as the one readers query (under the run lock).

    dlt merges each raw table in a transaction of its own and the transforms commit after the
    load, so the newest snapshot may be mid-run: new calls without their interactions, raw
    tables ahead of analytics. The snapshot this commits (``analytics.lake_publication``, with
    the commit message ``published``) follows a whole run; readers attach at the newest such
    snapshot (``pipelines.ducklake.reader_sql``), as DuckDB readers open the serving copy.
    """
    with pipeline.sql_client() as sql, sql.begin_transaction():
        # dlt's client has made the lake the current database, under its configured name
        lake = str(sql.execute_sql("SELECT current_database()")[0][0])  # type: ignore[index]
        sql.execute_sql(
            f"CALL {lake}.set_commit_message('{pipeline.pipeline_name}', '{PUBLISHED}')"
        )
        load_health.record_lake_publication(sql.execute_sql, health)
    with pipeline.sql_client() as sql:
        version = published_version(sql, lake)
    return [
        f"serving: none for a DuckLake; readers attach the lake at snapshot {version}, "
        "published by this run (python -m pipelines.ducklake)"
    ]


def _require_s3_keys(section: str) -> None:
    """Explicit S3 keys from dlt's config: without them dlt hands DuckDB the AWS credential chain
    (AWS_* variables, profiles, instance roles), which needs DuckDB's ``aws`` extension; it is
    not pinned, so the run would fail at the first connection. One line names the key."""
    env = "DESTINATION__DUCKLAKE__CREDENTIALS__STORAGE__CREDENTIALS__"
    for key in ("aws_access_key_id", "aws_secret_access_key"):
        if not dlt.secrets.get(f"{section}.{key}"):
            raise RunError(
                ExitCode.BAD_CONFIG,
                f"a DuckLake in S3 needs its keys: set [{section}] {key} (env {env}{key.upper()}); "
                "AWS's environment variables and credential chain are not read (they need "
                "DuckDB's aws extension, which is not pinned)",
            )


def published_version(sql: Any, lake_name: str = DEFAULT_LAKE_NAME) -> int | None:
    """The newest snapshot ``publish_snapshot`` committed; ``sql``: anything with
    ``execute_sql`` over a connection that has the lake attached as ``lake_name``."""
    rows = sql.execute_sql(
        f"SELECT max(snapshot_id) FROM {lake_name}.snapshots() WHERE commit_message = '{PUBLISHED}'"
    )
    return int(rows[0][0]) if rows and rows[0][0] is not None else None
