"""Paging yields every record exactly once under every paging behaviour the API might have."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hostedsuite_emulator import EmulatorSettings

from .api_client import calls, page_all

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (settings, extra request fields)
    "base0": ({}, {}),
    "base1": ({"page_base": 1}, {}),
    "cap-below-asked": ({"max_page_size": 70}, {}),
    "base1-cap": ({"page_base": 1, "max_page_size": 33}, {}),
    "disable-stats": ({"max_page_size": 90}, {"DisableStats": True}),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_paging_yields_each_record_once(emulator_factory, case) -> None:
    settings, extra = case
    emu = emulator_factory(calls=700, seed=3, settings=EmulatorSettings(**settings))
    first = settings.get("page_base", 0)
    items = page_all(
        emu,
        first_page=first,
        StartDate="2024-02-01",
        EndDate="2024-05-01",
        ItemsPerPage=100,
        SortField="StartTime",
        SortDir="Asc",
        **extra,
    )
    ids = [i["Id"] for i in items]
    assert len(ids) == len(set(ids))
    assert set(ids) == {c["id"] for c in emu.truth().calls}


def test_page_metadata_page_base_0_and_cap(emulator_factory) -> None:
    emu = emulator_factory(calls=300, seed=2, settings=EmulatorSettings(max_page_size=40))
    result = calls(emu, Page=2, ItemsPerPage=100)
    assert (result["Page"], result["TotalCount"]) == (2, 300)
    assert len(result["Items"]) == 40  # silently capped
    assert result["TotalPages"] == math.ceil(300 / 40)


def test_page_base_1_treats_page_0_as_1(emulator_factory) -> None:
    emu = emulator_factory(calls=120, seed=2, settings=EmulatorSettings(page_base=1))
    zero = calls(emu, Page=0, ItemsPerPage=50)
    one = calls(emu, Page=1, ItemsPerPage=50)
    assert zero["Page"] == one["Page"] == 1
    assert zero["Items"] == one["Items"]
    second = calls(emu, Page=2, ItemsPerPage=50)["Items"]
    assert second and second[0] != one["Items"][0]
    assert len(calls(emu, Page=3, ItemsPerPage=50)["Items"]) == 20


def test_default_page_size_is_50(emulator) -> None:
    for size in (None, 0):
        result = calls(emulator, ItemsPerPage=size)
        assert len(result["Items"]) == 50
        assert result["TotalPages"] == math.ceil(2000 / 50)


def test_disable_stats_zeroes_totals_or_is_ignored(emulator) -> None:
    zeroed = calls(emulator, DisableStats=True, ItemsPerPage=10)
    assert (zeroed["TotalCount"], zeroed["TotalPages"], len(zeroed["Items"])) == (0, 0, 10)
    emulator.settings.disable_stats_zeroes = False
    kept = calls(emulator, DisableStats=True, ItemsPerPage=10)
    assert (kept["TotalCount"], kept["TotalPages"]) == (2000, 200)


def test_page_past_the_end_is_empty(emulator) -> None:
    result = calls(emulator, Page=500, ItemsPerPage=100)
    assert result["Items"] == [] and result["TotalCount"] == 2000
