"""The pipeline run into a real PostgreSQL database (``tests/postgres_server.py``) instead of a
DuckDB file: the ``Loader`` of ``tests/pipeline`` configured as an operator would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pipelines.pipeline import open_pipeline
from pipelines.results import LoadResult
from pipelines.steps.load import load_incremental
from pipelines.steps.transform import transform_pipeline
from tests.pipeline.loader import Loader, source_kwargs


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
