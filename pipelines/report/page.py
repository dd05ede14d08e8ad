"""HTML building blocks of the report: tables, chart slots and the self-contained document.

The document inlines plotly.js (read from the ``plotly`` package) and its own CSS and script,
so it opens from a file, offline, and asks the network for nothing. Table cells carry the
unrounded value in ``data-value`` (what the sortable tables sort on, and what a reader can
copy); the text is the same value rounded for reading.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

from pipelines.report.charts import Figure, below_toolbar

# How a column's values read: decimals and thousands separators by kind of measure.
FORMATS = {
    "int": "{:,.0f}",
    "pct": "{:.1f}",
    "sec": "{:.1f}",
    "avg": "{:.2f}",
    "delta_int": "{:+,.0f}",
    "delta": "{:+.1f}",
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # a FORMATS key, "text", "date" or "instant"


@dataclass
class Page:
    """Collects the figures of the sections while their HTML is written."""

    figures: list[Figure] = field(default_factory=list)

    def chart(self, figure: Figure, css_class: str = "chart") -> str:
        self.figures.append(below_toolbar(figure))
        return f'<div class="{css_class}" id="chart-{len(self.figures)}"></div>'


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def cell_text(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind in FORMATS:
        return FORMATS[kind].format(value)
    if kind == "instant" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def cell_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def table(
    table_id: str,
    columns: list[Column],
    rows: list[dict[str, Any]],
    caption: str = "",
    sortable: bool = False,
) -> str:
    """A table whose ``th`` carry the column keys and whose cells carry exact values."""
    head = "".join(
        f'<th data-key="{esc(c.key)}" class="{"num" if c.kind in FORMATS else ""}">'
        f"{esc(c.label)}</th>"
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td data-value="{esc(cell_value(row.get(c.key)))}"'
            f"{' class=num' if c.kind in FORMATS else ''}>{esc(cell_text(row.get(c.key), c.kind))}"
            "</td>"
            for c in columns
        )
        + "</tr>"
        for row in rows
    )
    classes = "numbers sortable" if sortable else "numbers"
    if caption and not rows:
        caption += " (none)"
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table id="{esc(table_id)}" class="{classes}">{cap}'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def details(summary: str, content: str, open_: bool = False) -> str:
    return (
        f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{content}</details>"
    )


@cache
def plotly_js() -> str:
    """plotly.js as shipped in the plotly package: the page's only third-party code."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


# Characters written as \u escapes in the embedded JSON. "<" alone stops every way out of a
# <script> element: "</script>" closing it, and "<!--" followed by "<script" putting the
# parser in a state where the page's own "</script>" no longer closes it (the page then
# swallows its script and no chart draws). ">" and "&" for markup and entity parsers, U+2028
# and U+2029 for older JavaScript parsers. They can occur only inside JSON strings, where
# the escape means the same character.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                 "\u2029": "\\u2029"}  # fmt: skip


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element, whatever the strings in ``value`` hold."""
    text = json.dumps(value, default=str, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;
  max-width:1200px;padding:1rem 1.5rem;color:#1a1a1a;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem;
  border-bottom:2px solid #0072B2;padding-bottom:.2rem}h3{font-size:1.05rem}
.meta{color:#444;font-size:.9rem}.grid{display:grid;gap:.5rem;
  grid-template-columns:repeat(auto-fill,minmax(360px,1fr))}
.chart,.chart-small{min-height:200px;border:1px solid #e5e5e5;border-radius:4px}
.scroll{overflow-x:auto;margin:.5rem 0 1rem}
table.numbers{border-collapse:collapse;font-size:.8rem;white-space:nowrap}
table.numbers th,table.numbers td{border:1px solid #ddd;padding:.15rem .4rem}
table.numbers th{background:#f3f3f3;text-align:left}td.num,th.num{text-align:right}
table.sortable th{cursor:pointer}table.sortable th:after{content:' ⇅';color:#888}
caption{text-align:left;font-weight:600;padding:.2rem 0}
.verdict{padding:.7rem 1rem;border-radius:6px;border:3px solid;margin:1rem 0}
.verdict strong{font-size:1.15rem}.ok{border-color:#009E73;background:#e6f5f0}
.check{border-color:#E69F00;background:#fdf3e0}.bad{border-color:#D55E00;background:#fbe9df}
.empty{font-size:1.3rem;padding:2rem;border:2px dashed #999;text-align:center}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:#0072B2}
"""

# Draws the charts, and sorts a sortable table by the clicked column (numbers numerically).
SCRIPT = """
(function(){
  var figures = JSON.parse(document.getElementById('figures').textContent);
  figures.forEach(function(f, i){
    Plotly.newPlot('chart-' + (i + 1), f.data, f.layout,
                   {displaylogo: false, responsive: true});
  });
  document.querySelectorAll('table.sortable th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = th.closest('table').tBodies[0];
      var down = th.getAttribute('data-sorted') !== 'desc';
      th.setAttribute('data-sorted', down ? 'desc' : 'asc');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[col].getAttribute('data-value');
        var y = b.cells[col].getAttribute('data-value');
        var nx = parseFloat(x), ny = parseFloat(y), r;
        if (!isNaN(nx) && !isNaN(ny)) { r = nx - ny; } else { r = x.localeCompare(y); }
        return down ? -r : r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
})();
"""


# The <style> elements plotly.js 4 adds to the page (its global rules; MapLibre's, unused
# here), each made here with the page's nonce: plotly then fills in its rules.
PLOTLY_STYLE_IDS = (
    "plotly.js-style-global",
    "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53",
)
# The style attributes plotly.js sets as text (heat maps' crisp pixels, a colour bar's reset)
# rather than through the CSSOM, which the policy allows anyway: allowed by their hashes.
PLOTLY_STYLE_ATTRIBUTES = (
    "",
    "image-rendering: optimizeSpeed; image-rendering: -moz-crisp-edges; "
    "image-rendering: -o-crisp-edges; image-rendering: -webkit-optimize-contrast; "
    "image-rendering: optimize-contrast; image-rendering: crisp-edges; "
    "image-rendering: pixelated; ",
)
PLOTLY_STYLE_ATTRIBUTE_HASHES = " ".join(
    "'sha256-" + base64.b64encode(hashlib.sha256(value.encode()).digest()).decode() + "'"
    for value in PLOTLY_STYLE_ATTRIBUTES
)


def document(title: str, body: str, figures: list[Figure]) -> str:
    """The whole page: CSS, plotly.js, the figures as JSON and the script, all inline.

    The policy lets only the page's own scripts and style sheet run: they carry a nonce
    drawn for this page, which no name in the data can know. An element that slipped in
    anyway (a name escaped wrongly) would neither run nor style the page, and no inline
    event handler runs. plotly.js styles what it draws through the CSSOM (which the policy
    does not restrict) and sets two style attributes as text, allowed by their hashes.
    """
    nonce = secrets.token_urlsafe(18)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No request may leave the page: the policy refuses any that slipped in.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        f"style-src-attr 'unsafe-hashes' {PLOTLY_STYLE_ATTRIBUTE_HASHES}; "
        'img-src data: blob:; font-src data:">'
        f'<title>{esc(title)}</title><style nonce="{nonce}">{CSS}</style>'
        # plotly.js fills these with its rules through the CSSOM, which the policy allows;
        # left to itself it would add them without the nonce, and be refused.
        + "".join(f'<style id="{name}" nonce="{nonce}"></style>' for name in PLOTLY_STYLE_IDS)
        + f'<script nonce="{nonce}">{plotly_js()}</script></head><body>{body}'
        f'<script type="application/json" id="figures">{script_json(figures)}</script>'
        f'<script nonce="{nonce}">{SCRIPT}</script></body></html>\n'
    )
