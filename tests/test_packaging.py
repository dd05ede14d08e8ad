"""Pins users rely on: pyproject agrees with the lock, and the known traps are avoided."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    pins = {}
    for spec in specs:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[a-z0-9,]+\])?==([^;\s]+)", spec)
        assert match, f"dependency not pinned exactly: {spec}"
        pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def test_every_pyproject_pin_matches_the_lock() -> None:
    lock = _lock()
    for name, version in _pyproject_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"


def test_known_traps_are_avoided() -> None:
    lock = _lock()
    assert lock["duckdb"].startswith("1."), "duckdb 2.x files cannot be opened by 1.x clients"
    major, minor = (int(p) for p in lock["sqlglot"].split(".")[:2])
    assert (major, minor) < (30, 22), "sqlglot >= 30.22 breaks dlt dataset lineage"
