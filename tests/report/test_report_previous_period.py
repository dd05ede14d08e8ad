"""The report's previous period says when it lies before the data starts, and its START and
END are local dates, both included."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from .report_page import page_tables, report_cli, sql


def _header(out: Path) -> str:
    html = out.read_text(encoding="utf-8")
    return html[html.index('<p class="meta">') : html.index("</p>", html.index('<p class="meta">'))]


def test_a_previous_period_before_the_data_says_so(warehouse: Path, tmp_path: Path) -> None:
    # the oldest local date, from the raw calls (not from what the report reads)
    (oldest,) = sql(warehouse, "SELECT min(start_time_local)::DATE FROM hostedsuite.calls")[0]
    assert oldest in (date(2024, 2, 29), date(2024, 3, 1))  # data from 2024-03-01 00:00 UTC

    def header(start: date, end: date) -> str:
        out = tmp_path / f"{start}.html"
        done = report_cli("--db", str(warehouse), "--out", str(out), "--start", str(start),
                          "--end", str(end))  # fmt: skip
        assert done.returncode == 0, done.stderr
        return _header(out)

    # previous 2024-02-24..2024-03-04: it starts before the data, ends inside it
    partial = header(date(2024, 3, 5), date(2024, 3, 14))
    assert (
        f"Previous period: 2024-02-24 to 2024-03-04 (the data starts on {oldest}: the previous "
        "period is partial, so its Δ overstates growth)." in partial
    )
    # the range starts with the data: its previous period has none
    start = oldest
    nothing = header(start, start + timedelta(days=9))
    assert (
        f"Previous period: {start - timedelta(days=10)} to {start - timedelta(days=1)} "
        f"(before the data starts on {oldest}: nothing to compare with)." in nothing
    )
    # well inside the data: no caveat
    inside = header(date(2024, 3, 20), date(2024, 3, 29))
    assert "Previous period: 2024-03-10 to 2024-03-19. Source:" in inside


def test_start_and_end_are_local_dates_both_included(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "one-day.html"
    done = report_cli("--db", str(warehouse), "--out", str(out), "--start", "2024-03-10",
                      "--end", "2024-03-10")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"report: {out}  (2024-03-10..2024-03-10, " in done.stdout
    days = {row["local_date"]["value"] for row in page_tables(out)["daily"]}
    assert days == {"2024-03-10"}
