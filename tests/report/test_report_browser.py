"""The report in a real browser: Debian's Chromium (``make browser`` installs it), headless,
driven by Playwright, with every request that is not the file itself blocked and recorded.

Never skipped: without the browser this test fails, naming the make target."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from .report_page import report_cli

# `make test CHROMIUM=/path/to/chromium` for a browser elsewhere (a user without root).
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"no {CHROMIUM}: run `make browser` (apt-get install chromium)"
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium refuses to run as root with its sandbox (CI runs as root).
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def open_offline(browser: Browser, path: Path, shot: Path) -> dict[str, Any]:
    """Loads ``path``; returns console errors, requests that left the page, and the charts."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            requests.append(url)
            route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    charts = page.eval_on_selector_all(
        ".chart",
        """els => els.map(e => {
            const svg = e.querySelector('svg.main-svg');
            const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
            return {id: e.id, width: box.width, height: box.height,
                    marks: e.querySelectorAll('.point, .bars path, .hm image, .js-line').length};
        })""",
    )
    page.screenshot(path=str(shot), full_page=True)
    result = {"errors": errors, "requests": requests, "charts": charts, "page": page}
    return result


def test_every_chart_renders_offline_without_errors(
    browser: Browser, warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    done = report_cli("--db", str(warehouse), "--out", str(out))
    assert done.returncode == 0, done.stderr
    # The page itself forbids any request (the route below records any that tried).
    assert "content=\"default-src 'none'; " in out.read_text(encoding="utf-8")
    seen = open_offline(browser, out, tmp_path / "report.png")
    assert seen["errors"] == []
    assert seen["requests"] == []
    # 9 headline + 4 trend + 2 per center (5) + agents + abandonment + data health
    # + staffing: 1 per center
    assert len(seen["charts"]) == 9 + 4 + 2 * 5 + 3 + 5
    for chart in seen["charts"]:
        assert chart["width"] > 100 and chart["height"] > 100, chart
        assert chart["marks"] > 0, chart  # bars, lines, points or the heat map's image
    assert (tmp_path / "report.png").stat().st_size > 10_000

    # The agent scorecard sorts by a clicked column (numbers numerically).
    page = seen["page"]
    page.click("#agents th[data-key=calls_handled]")
    first = page.eval_on_selector_all(
        "#agents tbody tr td:nth-child(3)", "tds => tds.map(t => +t.dataset.value)"
    )
    assert first == sorted(first, reverse=True)
    page.click("#agents th[data-key=calls_handled]")
    again = page.eval_on_selector_all(
        "#agents tbody tr td:nth-child(3)", "tds => tds.map(t => +t.dataset.value)"
    )
    assert again == sorted(first)


def test_the_empty_range_page_renders_its_data_health(
    browser: Browser, warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "empty.html"
    done = report_cli("--db", str(warehouse), "--out", str(out), "--start", "2030-01-01")
    assert done.returncode == 0, done.stderr
    seen = open_offline(browser, out, tmp_path / "empty.png")
    assert (seen["errors"], seen["requests"]) == ([], [])
    assert (
        seen["page"].inner_text("#no-calls") == "No calls in this range (2030-01-01 to 2030-01-01)."
    )
    assert [c["id"] for c in seen["charts"]] == ["chart-1"]  # the data-health chart
    assert seen["charts"][0]["marks"] > 0


def test_chart_toolbars_show_on_hover_only_and_never_cover_a_title(
    browser: Browser, warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    done = report_cli("--db", str(warehouse), "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = open_offline(browser, out, tmp_path / "report.png")["page"]
    boxes = page.eval_on_selector_all(
        ".chart, .chart-small",
        """els => els.map(e => {
            const box = q => { const r = e.querySelector(q).getBoundingClientRect();
                               return [r.left, r.top, r.right, r.bottom]; };
            return {id: e.id, toolbar: box('.modebar'), title: box('.gtitle'),
                    shown: getComputedStyle(e.querySelector('.modebar-group')).opacity};
        })""",
    )
    assert len(boxes) >= 30
    for chart in boxes:
        (tl, tt, tr, tb), (gl, gt, gr, gb) = chart["toolbar"], chart["title"]
        assert tr - tl > 100 and gr - gl > 20, chart  # both drawn
        overlap = min(tr, gr) > max(tl, gl) and min(tb, gb) > max(tt, gt)
        assert not overlap, chart
        assert chart["shown"] == "0", chart  # hidden until the pointer is over the chart
    page.hover("#chart-2")
    group = "document.querySelector('#chart-2 .modebar-group')"
    page.wait_for_function(f"() => getComputedStyle({group}).opacity === '1'", timeout=10_000)
