"""A throw-away PostgreSQL server on 127.0.0.1 for the tests and the benchmark.

It runs the server binaries of Debian's ``postgresql`` package (``make postgres`` installs them
when they are missing; a user without root points ``HOSTEDSUITE_PG_BIN`` at any PostgreSQL
``bin`` folder of their own instead). Each server gets a fresh cluster in its own temporary
folder, a free port, password authentication (dlt's PostgreSQL credentials expect a password),
and the ``C`` collation, so text sorts byte-wise as it does in DuckDB.

PostgreSQL refuses to run as root: when we are root (CI), the cluster belongs to the
``postgres`` user the Debian package creates and the server runs as that user.

``python -m tests.postgres_server`` starts one in the foreground and prints its DSN.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD = "hostedsuite-test"  # a test cluster on loopback only; never a real credential
SUPERUSER = "postgres"
START_TIMEOUT_S = 30.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``postgres``: $HOSTEDSUITE_PG_BIN, else Debian's."""
    configured = os.environ.get("HOSTEDSUITE_PG_BIN")
    candidates = [configured] if configured else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major_version, reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries: run `make postgres` (installs Debian's postgresql), "
        "or set HOSTEDSUITE_PG_BIN to a PostgreSQL bin folder"
    )


def _major_version(path: str) -> int:
    version = Path(path).parent.name
    return int(version) if version.isdigit() else 0


@dataclass
class PostgresServer:
    """A running server; ``dsn(database)`` is a dlt/psycopg2 connection string."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    databases: list[str] = field(default_factory=list)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its DSN."""
        self.sql(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.dsn(name)

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Runs one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg2

        connection = psycopg2.connect(self.dsn(database))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Initialises a fresh cluster and starts a server on a free loopback port."""
    bin_dir = server_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="hostedsuite-pg-"))
    as_user = _drop_root(folder)
    data = folder / "data"
    password_file = folder / "password"
    password_file.write_text(PASSWORD)
    _chown_for(folder, password_file)
    subprocess.run(
        [
            str(bin_dir / "initdb"),
            f"--pgdata={data}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        preexec_fn=as_user,
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(folder),
            "-c",
            "listen_addresses=127.0.0.1",
            # a test cluster: durability is not what is being tested, speed is welcome
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("wb"),
        preexec_fn=as_user,
    )
    server = PostgresServer(port=port, folder=folder, process=process)
    _wait_until_ready(server)
    return server


def _drop_root(folder: Path) -> Callable[[], None] | None:
    """When root: hands ``folder`` to the ``postgres`` user and returns a setuid pre-exec hook."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise PostgresUnavailable(
            "running as root needs the 'postgres' user: run `make postgres`"
        ) from exc
    os.chown(folder, user.pw_uid, user.pw_gid)

    def become_postgres() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return become_postgres


def _chown_for(folder: Path, path: Path) -> None:
    stat = folder.stat()
    os.chown(path, stat.st_uid, stat.st_gid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(server: PostgresServer) -> None:
    import psycopg2

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            log = (server.folder / "server.log").read_text(errors="replace")
            raise RuntimeError(f"PostgreSQL exited at start-up:\n{log}")
        try:
            psycopg2.connect(server.dsn(), connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A server for the ``with`` block."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    with running_postgres() as running:
        print(running.dsn(), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            running.process.wait()
