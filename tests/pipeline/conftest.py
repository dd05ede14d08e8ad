"""Fixtures that run the real pipeline against the emulator into a DuckDB file in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hostedsuite_emulator import Emulator

from .loader import Loader


@pytest.fixture
def loader_factory(
    tmp_path: Path, emulator_factory: Callable[..., Emulator]
) -> Callable[..., Loader]:
    counter = iter(range(1000))

    def make(**emulator_kwargs: Any) -> Loader:
        emulator = emulator_factory(**emulator_kwargs)
        folder = tmp_path / f"run{next(counter)}"
        folder.mkdir()
        return Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines")

    return make
