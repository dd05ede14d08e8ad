"""The report survives any name: centers, clients and agents named with markup by the API
(the emulator's ``hostile_names``) are loaded by the real pipeline, and the page, opened in
Chromium, draws every chart, runs nothing it did not write and shows each name as text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from hostedsuite_emulator import Emulator, EmulatorSettings
from tests.pipeline.loader import Loader

from .report_page import report_cli
from .test_report_browser import browser, open_offline  # noqa: F401 - browser is a fixture


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The report of 1,500 calls whose centers, clients and agents carry hostile names, and
    the names the API served (from the emulator's truth, not from the report)."""
    folder = tmp_path_factory.mktemp("hostile-report")
    settings = EmulatorSettings(hostile_names=True)
    with Emulator(calls=1500, seed=1, settings=settings) as emulator:
        Loader(emulator, folder / "warehouse.duckdb", folder / "pipelines").load(transform=True)
        truth = emulator.truth()
    out = folder / "report.html"
    done = report_cli("--db", str(folder / "warehouse.duckdb"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    centers = [c["name"] for c in truth.centers if c["name"].startswith("hostile-")]
    agents = {c["answered_by"] for c in truth.calls if c["answered_by"].startswith("hostile-")}
    clients = {c["client_name"] for c in truth.calls if c["client_name"].startswith("hostile-")}
    assert len(centers) == 3 and len(agents) == 12 and clients
    yield {"out": out, "centers": centers, "agents": agents, "clients": clients}


# Written out by hand: what the emulator promises to put in names (see its reference data).
MARKUP = ["<!--<script>", "</script><script>", '<img src=x onerror="window.__pwned=3">']


def test_the_names_are_really_hostile(hostile: dict[str, Any]) -> None:
    for markup in MARKUP:
        assert any(markup in name for name in hostile["centers"]), markup
    assert any("{{7*7}} ${7*7}" in name for name in hostile["agents"])
    assert any("onmouseover=" in name for name in hostile["agents"])


def test_the_embedded_data_ends_where_it_should_and_the_policy_has_no_unsafe_inline(
    hostile: dict[str, Any],
) -> None:
    text = hostile["out"].read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="figures">')
    block = text[start:].split(">", 1)[1].split("</script>", 1)[0]
    # The first "</script>" after the block's start is its own end: the block is whole JSON
    # and holds no character an HTML parser acts on inside a script element.
    assert not re.search(r"[<>&\u2028\u2029]", block)
    figures = json.loads(block)
    drawn = json.dumps(figures, ensure_ascii=False)
    for name in hostile["centers"]:
        # as plotly reads it: markup as entities, so it is drawn letter for letter
        entity = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert json.dumps(entity, ensure_ascii=False)[1:-1] in drawn
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert policy is not None
    assert "unsafe-inline" not in policy.group(1)
    assert re.search(r"script-src 'nonce-[A-Za-z0-9_-]{20,}';", policy.group(1))


def test_every_chart_draws_nothing_injected_runs_and_names_read_as_text(
    browser: Browser,  # noqa: F811 - the fixture imported above
    hostile: dict[str, Any],
    tmp_path: Path,
) -> None:
    seen = open_offline(browser, hostile["out"], tmp_path / "hostile.png")
    page = seen["page"]
    assert seen["errors"] == []
    assert seen["requests"] == []
    # 9 headline + 4 trend + 2 per center (5) + agents + abandonment + data health
    assert len(seen["charts"]) == 9 + 4 + 2 * 5 + 3 + 5  # as in test_report_browser
    for chart in seen["charts"]:
        assert chart["width"] > 100 and chart["height"] > 100, chart
        assert chart["marks"] > 0, chart

    # Nothing injected exists, and nothing ran.
    assert page.evaluate("typeof window.__pwned") == "undefined"
    injected = page.evaluate(
        """() => ({
            img: document.querySelectorAll('img').length,
            bold: document.querySelectorAll('b').length,
            javascript_links: document.querySelectorAll('a[href^="javascript"]').length,
            handlers: Array.from(document.querySelectorAll('*')).flatMap(
                e => Array.from(e.attributes).map(a => a.name)).filter(n => n.startsWith('on')),
            scripts: Array.from(document.scripts).map(s => s.type || (s.nonce ? 'nonce' : 'none')),
            styles: Array.from(document.querySelectorAll('style')).map(s => !!s.nonce),
        })"""
    )
    assert injected == {
        "img": 0,
        "bold": 0,
        "javascript_links": 0,
        "handlers": [],
        "scripts": ["nonce", "application/json", "nonce"],  # plotly.js, the data, the page's
        "styles": [True, True, True],  # the page's and the two plotly.js fills
    }

    # Each name shows as the text it is: in the tables, the headings and the charts.
    headline = page.eval_on_selector_all(
        "#headline tbody td:first-child", "tds => tds.map(t => t.textContent)"
    )
    headings = page.eval_on_selector_all("h3[data-center]", "hs => hs.map(h => h.textContent)")
    ticks = page.eval_on_selector_all("#chart-1 .ytick text", "ts => ts.map(t => t.textContent)")
    legend = page.eval_on_selector_all("#chart-10 .legendtext", "ts => ts.map(t => t.textContent)")
    for name in hostile["centers"]:
        assert name in headline
        assert any(h.startswith(f"{name}: local time ") for h in headings), name
        assert name in ticks
        assert name in legend
    agents = page.eval_on_selector_all(
        "#agents tbody td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert hostile["agents"] <= set(agents)

    # Hovering a point of a hostile center's agent shows the agent's name as written. The
    # traces are the centers by name: Desert Line Phoenix, Harbour Desk Sydney, hostile-1...
    # the agents' chart is the last chart before their scorecard table
    agents_chart = "#" + page.evaluate(
        """() => {
            const table = document.getElementById('agents');
            const charts = [...document.querySelectorAll('[id^=chart-]')];
            return charts.filter(
                c => c.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING
            ).pop().id;
        }"""
    )
    trace = page.locator(f"{agents_chart} .scatterlayer .trace").nth(2)
    trace.locator(".point").first.hover(force=True)
    page.wait_for_selector(f"{agents_chart} .hovertext", timeout=10_000)
    label = page.text_content(f"{agents_chart} .hovertext")
    assert label is not None and " calls, AHT " in label
    assert any(label.startswith(agent) for agent in hostile["agents"]), label
    assert seen["errors"] == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
