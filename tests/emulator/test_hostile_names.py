"""``EmulatorSettings(hostile_names=True)``: the same data under names full of markup, served
by every route and agreed by the truth."""

from __future__ import annotations

from typing import Any

from hostedsuite_emulator import Emulator, EmulatorSettings

from .api_client import everything, post

# The markup the switch promises, spelled out here rather than taken from the emulator.
MARKERS = ("<!--<script>", "</script>", "onerror=", "onmouseover=", "{{7*7}}", "${7*7}", "\u2028")


def _json(emu: Emulator, route: str) -> list[dict[str, Any]]:
    response = post(emu, route)
    assert response.status_code == 200, response.text[:300]
    items: list[dict[str, Any]] = response.json()
    return items


def test_hostile_names_on_every_route_with_the_same_calls(emulator_factory) -> None:
    plain = emulator_factory(calls=400, seed=8)
    hostile = emulator_factory(calls=400, seed=8, settings=EmulatorSettings(hostile_names=True))

    centers = _json(hostile, "/api/centers")
    names = [c["Name"] for c in centers]
    # Three of the five centers (ids unchanged), the others keep their names.
    assert [c["Id"] for c in centers] == [c["Id"] for c in _json(plain, "/api/centers")]
    assert sum(name.startswith("hostile-") for name in names) == 3
    assert "Desert Line Phoenix" in names and "Harbour Desk Sydney" in names
    clients = _json(hostile, "/api/clients")
    assert sum(c["Name"].startswith("hostile-") for c in clients) == 6
    assert {c["CenterName"] for c in clients} == set(names)

    served, before = everything(hostile), everything(plain)
    assert [c["Id"] for c in served] == [c["Id"] for c in before]
    for new, old in zip(served, before, strict=True):
        assert new["DurationInSeconds"] == old["DurationInSeconds"]
        assert bool(new["AnsweredBy"]) == bool(old["AnsweredBy"])
    agents = {c["AnsweredBy"] for c in served if c["AnsweredBy"].startswith("hostile-")}
    client_names = {c["ClientName"] for c in served if c["ClientName"].startswith("hostile-")}
    assert len(agents) == 5 + 4 + 3  # every agent of the three hostile centers
    everywhere = " ".join([*names, *agents, *client_names])
    for marker in MARKERS:
        assert marker in everywhere, marker

    truth = hostile.truth()
    assert [c["name"] for c in truth.centers] == names
    assert {c["answered_by"] for c in truth.calls} == {c["AnsweredBy"] for c in served}
    assert {c["client_name"] for c in truth.calls} == {c["ClientName"] for c in served}
