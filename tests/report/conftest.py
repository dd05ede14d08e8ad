"""The warehouse the report tests share, built by the real pipeline from the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hostedsuite_emulator import Emulator
from tests.pipeline.loader import Loader


@pytest.fixture(scope="package")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """2,000 calls over 45 days from 2024-03-01 (the emulator's default data), with marts."""
    folder = tmp_path_factory.mktemp("report-warehouse")
    with Emulator(calls=2000, seed=1) as emulator:
        Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines").load(transform=True)
    yield folder / "warehouse.duckdb"
