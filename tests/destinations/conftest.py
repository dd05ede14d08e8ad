"""Fixtures for running the pipeline into a real PostgreSQL server (``tests/postgres_server.py``)
beside the DuckDB file of ``tests/pipeline``: the same emulator, both destinations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator
from pipelines.pipeline import open_pipeline
from pipelines.steps.load import LoadResult, load_incremental
from pipelines.steps.transform import transform_pipeline
from tests.pipeline.conftest import Loader, source_kwargs


@dataclass
class PostgresLoader(Loader):
    """A ``Loader`` whose warehouse is a PostgreSQL database, configured the way an operator
    would: ``DESTINATION_NAME`` and ``DESTINATION__POSTGRES__CREDENTIALS``."""

    dsn: str = ""

    def env(self) -> dict[str, str]:
        return {"DESTINATION_NAME": "postgres", "DESTINATION__POSTGRES__CREDENTIALS": self.dsn}

    def load(self, transform: bool = False, **overrides: Any) -> LoadResult:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.env().items():
                patch.setenv(name, value)
            pipeline = open_pipeline(None, str(self.pipelines_dir))
            kwargs = source_kwargs(self.emulator, **overrides)
            loaded = load_incremental(pipeline, kwargs)
            if transform:
                transform_pipeline(pipeline)
            return loaded

    def cli_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        return super().cli_env({**self.env(), **(env or {})})

    def cli_paths(self) -> list[str]:
        return ["--pipelines-dir", str(self.pipelines_dir)]


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
