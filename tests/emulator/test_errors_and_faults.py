"""Auth failures, ServiceStack errors, scripted and random faults, and bad-record injection."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import orjson
import pytest
import requests

from hostedsuite_emulator import BAD_KINDS, VALID_BAD_KINDS, EmulatorSettings, Faults

from .api_client import body, calls, everything, post


def _status(response: requests.Response) -> dict[str, Any]:
    data = response.json()
    status: dict[str, Any] = data["ResponseStatus"]
    assert set(status) == {"ErrorCode", "Message", "StackTrace", "Errors"}
    return status


@pytest.mark.parametrize("code", [401, 400])
def test_wrong_credentials(emulator, code: int) -> None:
    emulator.settings.auth_error_status = code
    sent = body(emulator, Password="Wr0ng-échappé", StartDate="2024-03-02")
    response = requests.post(f"{emulator.url}/api/calls", json=sent, timeout=10)
    assert response.status_code == code
    status = _status(response)
    assert status["ErrorCode"] == "Unauthorized"
    assert status["Message"].startswith("Invalid UserName or Password. Request: {")
    echoed = orjson.loads(status["Message"].split("Request: ", 1)[1])
    assert echoed["Password"] == "Wr0ng-échappé"  # the deliberate echo the client must redact
    for route in ("/api/centers", "/api/clients"):
        wrong = requests.post(f"{emulator.url}{route}", json={**sent, "UserName": "x"}, timeout=10)
        assert wrong.status_code == code


def test_missing_auth_field_is_400_not_empty(emulator) -> None:
    sent = body(emulator)
    del sent["UserName"]
    sent["Password"] = ""
    response = requests.post(f"{emulator.url}/api/calls", json=sent, timeout=10)
    assert response.status_code == 400
    errors = _status(response)["Errors"]
    assert {(e["ErrorCode"], e["FieldName"]) for e in errors} == {
        ("NotEmpty", "UserName"),
        ("NotEmpty", "Password"),
    }


def test_malformed_requests(emulator) -> None:
    bad_date = post(emulator, "/api/calls", StartDate="2024-13-45")
    assert bad_date.status_code == 400 and _status(bad_date)["ErrorCode"] == "FormatException"
    assert post(emulator, "/api/calls", EndDate="yesterday").status_code == 400
    raw = requests.post(
        f"{emulator.url}/api/calls",
        data=b'{"CustomerName": "democorp", ',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert raw.status_code == 400 and _status(raw)["ErrorCode"] == "SerializationException"
    page = post(emulator, "/api/calls", Page="two")
    assert page.status_code == 400 and _status(page)["ErrorCode"] == "SerializationException"
    missing = post(emulator, "/api/nothing")
    assert missing.status_code == 404 and _status(missing)["ErrorCode"] == "NotFound"


def test_request_log_is_redacted(emulator) -> None:
    calls(emulator, StartDate="2024-03-02", EndDate="2024-03-03")
    post(emulator, "/api/calls", Password="wrong")
    assert [r["EndDate"] for r in emulator.requests[:1]] == ["2024-03-03"]
    assert all(r["Password"] == "***" for r in emulator.requests)
    assert len(emulator.requests) == 2


def test_scripted_faults_each_happen_once_in_order(emulator) -> None:
    emulator.faults.slow_seconds = 0.3
    emulator.faults.script = ["500", "503", "429", "reset", "truncate", "slow"]
    url = f"{emulator.url}/api/calls"
    sent = body(emulator, ItemsPerPage=20)
    for code in (500, 503):
        response = requests.post(url, json=sent, timeout=10)
        assert response.status_code == code and _status(response)["ErrorCode"]
    limited = requests.post(url, json=sent, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json=sent, timeout=10)
    cut = requests.post(url, json=sent, timeout=10)
    assert cut.status_code == 200
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.content)
    began = time.monotonic()
    slow = requests.post(url, json=sent, timeout=10)
    assert slow.status_code == 200 and time.monotonic() - began >= 0.3
    assert emulator.faults.script == []
    assert len(requests.post(url, json=sent, timeout=10).json()["Items"]) == 20


def test_script_is_consumed_by_calls_only_and_control_routes_never_fault(emulator) -> None:
    emulator.faults.script = ["500"]
    assert post(emulator, "/api/centers").status_code == 200
    assert requests.get(f"{emulator.url}/_emulator/truth", timeout=10).status_code == 200
    assert emulator.faults.script == ["500"]
    assert post(emulator, "/api/calls").status_code == 500


def test_random_faults_are_seeded(emulator_factory) -> None:
    def statuses(seed: int) -> list[int]:
        faults = Faults(error_rate=0.3, rate_limit_rate=0.2, latency_ms=1, fault_seed=seed)
        emu = emulator_factory(calls=50, seed=1, faults=faults)
        return [post(emu, "/api/centers").status_code for _ in range(40)]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 429} <= set(first) and set(first) & {500, 503}


def test_random_resets_and_truncation(emulator_factory) -> None:
    faults = Faults(reset_rate=0.5, truncate_rate=0.5, fault_seed=3)
    emu = emulator_factory(calls=50, seed=1, faults=faults)
    outcomes = set()
    for _ in range(20):
        try:
            response = requests.post(f"{emu.url}/api/calls", json=body(emu), timeout=10)
            orjson.loads(response.content)
            outcomes.add("ok")
        except requests.ConnectionError:
            outcomes.add("reset")
        except orjson.JSONDecodeError:
            outcomes.add("truncated")
    assert outcomes == {"reset", "truncated"}


def test_bad_records_serve_each_kind(emulator_factory) -> None:
    n = len(BAD_KINDS)
    emu = emulator_factory(calls=300, seed=5, settings=EmulatorSettings(bad_records=n + 2))
    truth = emu.truth()
    kinds = [b["kind"] for b in truth.bad_records]
    assert sorted(kinds) == sorted([*BAD_KINDS, *BAD_KINDS[:2]])
    served = everything(emu, StartDate="2024-02-01", EndDate="2024-05-01")
    assert len(served) == 300 + n + 2
    bad = {b["raw"]["CallerNumber"]: b for b in truth.bad_records}
    by_kind = {}
    for item in served:
        if item["CallerNumber"] in bad:
            assert item == bad[item["CallerNumber"]]["raw"]  # truth holds the raw record as served
            by_kind[bad[item["CallerNumber"]]["kind"]] = item
    assert set(by_kind) == set(BAD_KINDS)
    assert "StartTime" not in by_kind["missing_start"]
    assert by_kind["null_id"]["Id"] is None and by_kind["empty_id"]["Id"] == ""
    assert by_kind["negative_duration"]["DurationInSeconds"] < 0
    assert isinstance(by_kind["string_duration"]["DurationInSeconds"], str)
    assert isinstance(by_kind["interactions_wrong_type"]["Interactions"], str)
    assert isinstance(by_kind["forms_wrong_type"]["CompletedFormIds"], dict)
    assert by_kind["unknown_field"]["SentimentScore"] == 0.7
    assert len(by_kind["long_string"]["Notes"]) == 100_000
    assert any(ord(ch) < 32 for ch in by_kind["control_chars"]["CallerName"])
    call_ids = {c["id"] for c in truth.calls}
    for b in truth.bad_records:
        assert (b["raw"].get("Id") in call_ids) == (b["kind"] in VALID_BAD_KINDS)
    assert len(truth.calls) == 300 + len([k for k in kinds if k in VALID_BAD_KINDS])
    emu.settings.bad_records = 0
    assert len(everything(emu)) == 300 and not emu.truth().bad_records


def test_control_routes(emulator) -> None:
    truth = requests.get(f"{emulator.url}/_emulator/truth", timeout=30).json()
    assert len(truth["calls"]) == 2000
    advanced = requests.post(
        f"{emulator.url}/_emulator/advance", json={"minutes": 30, "new_calls": 5}, timeout=10
    ).json()
    assert len(advanced["new_ids"]) == 5
    changed = requests.post(
        f"{emulator.url}/_emulator/settings", json={"page_base": 1, "error_rate": 0.0}, timeout=10
    )
    assert changed.status_code == 200 and emulator.settings.page_base == 1
    assert calls(emulator, Page=0)["Page"] == 1


def test_stop_ends_keep_alive_connections(emulator_factory) -> None:
    emu = emulator_factory(calls=20, seed=1)
    session = requests.Session()
    assert session.post(f"{emu.url}/api/calls", json=body(emu), timeout=10).status_code == 200
    url = emu.url
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        session.post(f"{url}/api/calls", json=body(emu), timeout=10)


def test_empty_page_nth_answers_one_page_with_items_empty_once(emulator_factory) -> None:
    emu = emulator_factory(calls=300, seed=4, faults=Faults(empty_page_nth=2))
    query = {"StartDate": "2024-02-01", "EndDate": "2024-05-01", "ItemsPerPage": 100}
    first = calls(emu, Page=0, **query)
    second = calls(emu, Page=1, **query)  # the 2nd answer with items: emptied
    again = calls(emu, Page=1, **query)  # once only
    past_end = calls(emu, Page=9, **query)  # no items: not counted, not touched
    assert len(first["Items"]) == 100
    assert second["Items"] == [] and (second["Page"], second["TotalCount"]) == (1, 300)
    assert second["TotalPages"] == 3
    assert len(again["Items"]) == 100 and again["Items"][0] != first["Items"][0]
    assert past_end["Items"] == [] and past_end["TotalCount"] == 300
    assert len(calls(emu, Page=2, **query)["Items"]) == 100


def test_empty_page_number_answers_that_page_empty_every_time(emulator_factory) -> None:
    settings = EmulatorSettings(page_base=1)
    emu = emulator_factory(calls=250, seed=4, settings=settings, faults=Faults(empty_page_number=2))
    query = {"StartDate": "2024-02-01", "EndDate": "2024-05-01", "ItemsPerPage": 100}
    for _ in range(3):
        page = calls(emu, Page=2, **query)
        assert page["Items"] == [] and (page["Page"], page["TotalCount"]) == (2, 250)
    assert len(calls(emu, Page=1, **query)["Items"]) == 100
    assert len(calls(emu, Page=3, **query)["Items"]) == 50


@pytest.mark.parametrize("value", ["OK", {"Result": []}, 42])
def test_wrong_shape_answers_that_route_with_the_value(emulator_factory, value: Any) -> None:
    emu = emulator_factory(calls=50, seed=4, faults=Faults(wrong_shape={"/api/centers": value}))
    centers = post(emu, "/api/centers")
    assert centers.status_code == 200 and centers.json() == value
    assert isinstance(post(emu, "/api/clients").json(), list)
    assert len(calls(emu, ItemsPerPage=100)["Items"]) == 50
    with pytest.raises(ValueError, match="not one of"):
        Faults(wrong_shape={"/api/other": "OK"})


def test_cli_exposes_the_empty_page_and_wrong_shape_switches() -> None:
    command = [
        sys.executable,
        "-m",
        "hostedsuite_emulator",
        "--port",
        "0",
        "--calls",
        "120",
        "--empty-page-number",
        "1",
        "--wrong-shape",
        '/api/clients="OK"',
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split(" at ", 1)[1].split()[0]
            creds = orjson.loads(process.stdout.readline().split(": ", 1)[1])
            auth = {
                "CustomerName": creds["customer_name"],
                "UserName": creds["user_name"],
                "Password": creds["password"],
            }
            page = requests.post(
                f"{url}/api/calls", json={**auth, "Page": 1, "ItemsPerPage": 50}, timeout=10
            ).json()
            assert page["Items"] == [] and page["TotalCount"] == 120
            first = requests.post(
                f"{url}/api/calls", json={**auth, "Page": 0, "ItemsPerPage": 50}, timeout=10
            ).json()
            assert len(first["Items"]) == 50
            clients = requests.post(f"{url}/api/clients", json=auth, timeout=10)
            assert clients.json() == "OK"
        finally:
            process.terminate()
