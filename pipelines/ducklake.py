"""The DuckLake destination: Parquet files in a folder or a bucket, their catalog in PostgreSQL.

One DuckDB file has one writer process; a lake has as many readers as there are analysts, on
any machine that reaches the catalog and the files, while loads keep committing snapshots.
``make_pipeline`` builds dlt's own ``ducklake`` destination when ``DESTINATION_NAME=ducklake``
(or ``destination_name = "ducklake"`` in ``.dlt/config.toml``); the catalog and the data path
are dlt's own keys, ``[destination.ducklake.credentials] catalog`` and ``storage.bucket_url``.

DuckDB's extensions (``ducklake``, ``postgres_scanner``, ``httpfs``) come from pinned PyPI
wheels (``duckdb-ext-*``, see requirements.lock). Each wheel holds only the extension file, laid
out as DuckDB's own extension folder (``duckdb_ext/extensions/v<duckdb>/<platform>/``); this
module finds it in the wheel's file list and has dlt ``LOAD`` it by path on every connection,
with DuckDB's automatic install and load switched off: nothing is downloaded at run time.

``python -m pipelines.ducklake`` prints the SQL an analyst runs in DuckDB to attach the lake
read-only from this environment.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from typing import Any, Final

import dlt
import duckdb
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import CustomLoaderDocProvider
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from pipelines.operations import CliError, ExitCode

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
        raise CliError(
            ExitCode.BAD_CONFIG, f"{wheel} is not installed: run `make venv` (requirements.lock)"
        ) from None
    wanted = f"{extension}.duckdb_extension"
    for file in distribution.files or []:
        if file.name == wanted and f"v{duckdb.__version__}" in file.parts:
            return Path(str(distribution.locate_file(file)))
    raise CliError(
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


def destination() -> Any:
    """dlt's ducklake destination from dlt's config, with the pinned extensions; one clear line
    when the catalog or the data path is missing (dlt would quietly make local ones)."""
    section = f"destination.{DESTINATION}.credentials"
    if not dlt.secrets.get(f"{section}.catalog"):
        raise CliError(
            ExitCode.BAD_CONFIG,
            f"DuckLake needs a catalog: set [{section}] catalog = "
            '"postgres://user:password@host:5432/database" (env DESTINATION__DUCKLAKE__'
            "CREDENTIALS__CATALOG)",
        )
    bucket_url = str(dlt.secrets.get(f"{section}.storage.bucket_url") or "")
    if not bucket_url:
        raise CliError(
            ExitCode.BAD_CONFIG,
            f"DuckLake needs a data path: set [{section}.storage] bucket_url = a folder, "
            '"s3://bucket/path" or "gs://bucket/path" (env DESTINATION__DUCKLAKE__CREDENTIALS__'
            "STORAGE__BUCKET_URL)",
        )
    use_pinned_extensions(remote_storage="://" in bucket_url and not bucket_url.startswith("file:"))
    return DESTINATION


def publish_snapshot(pipeline: dlt.Pipeline, health: dict[str, Any]) -> list[str]:
    """Marks the lake's state after this run as the one readers query (under the run lock).

    dlt merges each raw table in a transaction of its own and the transforms commit after the
    load, so the newest snapshot may be mid-run: new calls without their interactions, raw
    tables ahead of analytics. The snapshot this commits (``analytics.lake_publication``, with
    the commit message ``published``) follows a whole run; readers attach at the newest such
    snapshot (``reader_sql``), as DuckDB readers open the serving copy.
    """
    with pipeline.sql_client() as sql, sql.begin_transaction():
        # dlt's client has made the lake the current database, under its configured name
        lake = str(sql.execute_sql("SELECT current_database()")[0][0])  # type: ignore[index]
        sql.execute_sql(
            f"CALL {lake}.set_commit_message('{pipeline.pipeline_name}', '{PUBLISHED}')"
        )
        sql.execute_sql(
            "CREATE OR REPLACE TABLE analytics.lake_publication AS SELECT "
            "?::TIMESTAMPTZ AS last_successful_load_at, ?::TIMESTAMPTZ AS newest_call_start, "
            "?::TIMESTAMPTZ AS cursor_complete_through, now() AS published_at",
            health.get("last_successful_load_at"),
            health.get("newest_call_start"),
            health.get("complete_through"),
        )
    with pipeline.sql_client() as sql:
        version = published_version(sql, lake)
    return [
        f"serving: none for a DuckLake; readers attach the lake at snapshot {version}, "
        "published by this run (python -m pipelines.ducklake)"
    ]


def published_version(sql: Any, lake_name: str = DEFAULT_LAKE_NAME) -> int | None:
    """The newest snapshot ``publish_snapshot`` committed; ``sql``: anything with
    ``execute_sql`` over a connection that has the lake attached as ``lake_name``."""
    rows = sql.execute_sql(
        f"SELECT max(snapshot_id) FROM {lake_name}.snapshots() WHERE commit_message = '{PUBLISHED}'"
    )
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def attach_statement(
    catalog: str, lake_name: str = DEFAULT_LAKE_NAME, version: int | None = None
) -> str:
    """``ATTACH`` of the lake read-only, at snapshot ``version`` if given (else the newest).

    ``catalog``: the PostgreSQL catalog as a libpq string (``host=... dbname=... user=...``) or
    URL (``postgresql://user:password@host:5432/database``); the data path is in the catalog.
    """
    pinned = f", SNAPSHOT_VERSION {int(version)}" if version is not None else ""
    return (
        f"ATTACH 'ducklake:postgres:{catalog.replace(chr(39), chr(39) * 2)}' AS {lake_name} "
        f"(READ_ONLY, METADATA_SCHEMA '{lake_name}'{pinned})"
    )


def attach_reader(
    conn: duckdb.DuckDBPyConnection,
    catalog: str,
    lake_name: str = DEFAULT_LAKE_NAME,
    remote_storage: bool = True,
) -> int | None:
    """Attaches the lake read-only to ``conn`` at its newest published snapshot and makes it the
    default database; returns that snapshot (None before the first run: the newest state).
    ``remote_storage``: the data path is a bucket (loads httpfs)."""
    for statement in load_statements(remote_storage):
        conn.execute(statement)
    probe = f"{lake_name}_newest"
    conn.execute(attach_statement(catalog, lake_name).replace(f" AS {lake_name} ", f" AS {probe} "))
    version = published_version(_Rows(conn), probe)
    conn.execute(f"DETACH {probe}")
    conn.execute(attach_statement(catalog, lake_name, version))
    conn.execute(f"USE {lake_name}")
    return version


class _Rows:
    """``execute_sql`` over a plain DuckDB connection (what ``published_version`` reads with)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()


def reader_sql(catalog: str, lake_name: str = DEFAULT_LAKE_NAME) -> str:
    """The SQL an analyst's DuckDB session runs to attach the lake read-only, at the snapshot
    published last (looked up now)."""
    conn = duckdb.connect()
    try:
        version = attach_reader(conn, catalog, lake_name)
    finally:
        conn.close()
    return "\n".join(
        [
            *(f"{statement};" for statement in load_statements()),
            f"{attach_statement(catalog, lake_name, version)};",
            f"USE {lake_name};",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(
            "usage: python -m pipelines.ducklake '<catalog: libpq string or postgresql:// URL>'"
        )
    sys.stdout.write(reader_sql(sys.argv[1]) + "\n")
