"""Fixtures for running the pipeline into a real PostgreSQL server beside the DuckDB file of
``tests/pipeline``: the same emulator, both destinations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator

from .postgres_loader import PostgresLoader


@pytest.fixture
def postgres_loader_factory(
    tmp_path: Path, emulator_factory: Callable[..., Emulator], postgres_dsn: str
) -> Callable[..., PostgresLoader]:
    """Loaders into the test's fresh database; ``emulator`` reuses an emulator (one per test:
    the database is shared)."""

    def make(emulator: Emulator | None = None, **emulator_kwargs: Any) -> PostgresLoader:
        emulator = emulator or emulator_factory(**emulator_kwargs)
        folder = tmp_path / "postgres"
        folder.mkdir()
        return PostgresLoader(
            emulator, folder / "unused.duckdb", folder / "pipelines", postgres_dsn
        )

    return make
