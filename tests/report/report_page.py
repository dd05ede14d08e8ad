"""Reading a written report back: the tables of the page (the numbers as it shows them), the
data-health verdict, and the warehouse it was written from."""

from __future__ import annotations

import html
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb

from tests.cli import run_cli


def report_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``hostedsuite report ...`` in its own process, as ``make report`` runs it."""
    return run_cli("report", *args, env=env, timeout=120)


def sql(path: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(query, params or []).fetchall()


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, Any]] = {}
        self.current: dict[str, Any] | None = None
        self.cell: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "table":
            self.current = {"keys": [], "rows": []}
            self.tables[str(attr.get("id"))] = self.current
        elif self.current is not None and tag == "tr":
            self.current["rows"].append([])
        elif self.current is not None and tag in ("td", "th"):
            self.cell = {"tag": tag, "key": attr.get("data-key"), "value": attr.get("data-value"),
                         "text": ""}  # fmt: skip

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.current is not None:
            if self.cell["key"] is not None:
                self.current["keys"].append(self.cell["key"])
            else:
                self.current["rows"][-1].append(self.cell)
            self.cell = None
        elif tag == "table":
            self.current = None


def page_tables(path: Path) -> dict[str, list[dict[str, dict[str, Any]]]]:
    """Every table of the page by id: its rows as {column key: {"value", "text"}}."""
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    result = {}
    for table_id, found in parser.tables.items():
        keys = found["keys"]
        rows = [r for r in found["rows"] if r]
        if keys:
            result[table_id] = [dict(zip(keys, row, strict=True)) for row in rows]
        else:  # a two-column fact table: heading cell, value cell
            result[table_id] = [{"fact": row[0], "value": row[1]} for row in rows]
    return result


def number(cell: dict[str, Any]) -> float | None:
    return None if cell["value"] in ("", None) else float(cell["value"])


def verdict(path: Path) -> tuple[str, str, list[str]]:
    """The data-health verdict box: (its colour class, its title, its reasons)."""
    found = re.search(
        r'<div class="verdict (\w+)" id="verdict"><strong>(.*?)</strong>(?:<ul>(.*?)</ul>)?',
        path.read_text(encoding="utf-8"),
    )
    assert found is not None, "no verdict box"
    reasons = re.findall(r"<li>(.*?)</li>", found.group(3) or "")
    return found.group(1), html.unescape(found.group(2)), [html.unescape(r) for r in reasons]
