"""Shared fixtures: real HostedSuite emulators and PostgreSQL servers on 127.0.0.1, stopped at
teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from tests.postgres_server import PostgresServer, start_postgres


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
