"""Shared fixtures: real HostedSuite emulators, PostgreSQL servers and an S3-compatible server
on 127.0.0.1, stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from tests.postgres_server import PostgresServer, start_postgres
from tests.s3_server import S3Server, start_s3


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A callable taking Emulator(...) keyword arguments; returns a started emulator."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        emulator = Emulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A started default emulator: 2,000 calls, seed 1, default settings."""
    return emulator_factory(calls=2000, seed=1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test process (see tests/postgres_server.py)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's server, named after the test."""
    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50]
    postgres_server.sql(f'DROP DATABASE IF EXISTS "{name}"')
    return postgres_server.create_database(name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3-compatible server (moto) per test process (see tests/s3_server.py)."""
    server = start_s3()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket on the session's server, named after the test."""
    name = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:50]
    return s3_server.bucket(name.strip("-"))
