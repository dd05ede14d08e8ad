"""Plotly chart specifications (plain JSON-able dicts) for the report's sections.

Built as dicts rather than with ``plotly.graph_objects``: importing and validating figure
objects costs about a second per run, and the page only needs the JSON that plotly.js draws.
Colours are the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies)
and the Cividis scale for heat maps (designed to read the same with them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Figure = dict[str, Any]

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000"]
PREVIOUS = "#999999"  # the previous period, behind the current one's colour
HEAT_SCALE = "Cividis"
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12}
# plotly.js draws its toolbar (shown while the pointer is over a chart) in the top 2-26 px of
# the chart, over a centred title in a narrow chart; each chart's title sits below that band.
TOOLBAR_PX = 28


def plain(text: str) -> str:
    """``text`` as plotly.js draws it letter for letter. Plotly reads a subset of HTML in
    every string it draws (titles, tick labels, legends, hover text: ``<b>``, ``<br>``,
    ``<a href>``, entities), so a name such as "<b>Desk</b>" or "A &amp; B" would be drawn
    as something else; with ``&``, ``<`` and ``>`` as entities it is drawn as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def colour(index: int) -> str:
    return OKABE_ITO[index % len(OKABE_ITO)]


def below_toolbar(figure: Figure) -> Figure:
    """``figure`` with its title below the toolbar's band: the top margin and the height
    grow by the band, so the plot keeps its size."""
    layout = dict(figure["layout"])
    margin = {**layout.get("margin", {}), "t": layout.get("margin", {}).get("t", 100) + TOOLBAR_PX}
    title = {**layout.get("title", {}), "yref": "container", "y": 1, "yanchor": "top",
             "pad": {"t": TOOLBAR_PX + 4}}  # fmt: skip
    layout.update(margin=margin, title=title, height=layout.get("height", 450) + TOOLBAR_PX)
    return {**figure, "layout": layout}


def _layout(title: str, y_title: str, height: int = 300, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": plain(title), "font": {"size": 14}},
        "font": FONT,
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.25},
        "plot_bgcolor": "#ffffff",
        **extra,
    }


def period_bars(
    title: str,
    unit: str,
    centers: Sequence[str],
    current: Sequence[float | None],
    previous: Sequence[float | None],
    labels: tuple[str, str],
) -> Figure:
    """One headline measure per center: the range beside the previous period."""
    # Horizontal bars: center names stay readable however many centers there are.
    names = [plain(center) for center in centers]
    data = [
        {"type": "bar", "orientation": "h", "name": plain(labels[1]), "y": names,
         "x": list(previous), "marker": {"color": PREVIOUS}},
        {"type": "bar", "orientation": "h", "name": plain(labels[0]), "y": names,
         "x": list(current), "marker": {"color": OKABE_ITO[0]}},
    ]  # fmt: skip
    layout = _layout(title, "", height=120 + 45 * len(centers), barmode="group")
    layout["xaxis"] = {"rangemode": "tozero"}  # the unit is in the title
    layout["yaxis"] = {"automargin": True, "autorange": "reversed", "tickfont": {"size": 10}}
    layout["legend"] = {"orientation": "h", "y": -0.12, "yanchor": "top", "x": 0,
                        "traceorder": "reversed", "font": {"size": 10}}  # fmt: skip
    layout["height"] = 150 + 40 * len(centers)
    layout["margin"] = {"l": 10, "r": 20, "t": 40, "b": 10}
    return {"data": data, "layout": layout}


def daily_lines(
    title: str,
    unit: str,
    series: Sequence[tuple[str, Sequence[str], Sequence[float | None]]],
    target: tuple[str, float] | None = None,
) -> Figure:
    """One line per center over the local dates; ``target`` adds a dashed horizontal line."""
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": plain(name), "x": list(days),
         "y": list(values), "line": {"color": colour(i), "width": 2}, "marker": {"size": 4},
         "connectgaps": False}
        for i, (name, days, values) in enumerate(series)
    ]  # fmt: skip
    if target is not None:
        every_day = sorted({day for _, days, _ in series for day in days})
        data.append(
            {"type": "scatter", "mode": "lines", "name": plain(target[0]), "x": every_day,
             "y": [target[1]] * len(every_day), "line": {"color": "#000000", "dash": "dash"}}
        )  # fmt: skip
    layout = _layout(title, unit, height=380)
    layout["legend"] = {"orientation": "h", "y": -0.12, "yanchor": "top", "font": {"size": 10}}
    layout["margin"] = {"l": 60, "r": 20, "t": 50, "b": 20}
    layout["xaxis"] = {"tickformat": "%b %d"}  # no year sub-label under the legend
    return {"data": data, "layout": layout}


def heatmap(
    title: str,
    scale_title: str,
    slots: Sequence[str],
    weekdays: Sequence[int],
    cells: Sequence[Sequence[float | None]],
    zmax: float | None = None,
) -> Figure:
    """Weekday (columns) × local interval (rows, top = midnight); None = no such interval."""
    trace: dict[str, Any] = {
        "type": "heatmap",
        "x": [WEEKDAYS[d - 1] for d in weekdays],
        "y": list(slots),
        "z": [list(row) for row in cells],
        "colorscale": HEAT_SCALE,
        "colorbar": {"title": {"text": plain(scale_title)}},
        "hoverongaps": False,
        "zmin": 0,
    }
    if zmax is not None:
        trace["zmax"] = zmax
    layout = _layout(title, "local interval start", height=560)
    layout["yaxis"] = {
        "title": {"text": "local interval start"},
        "autorange": "reversed",
        "nticks": 25,
        "type": "category",
    }
    layout["xaxis"] = {"type": "category", "side": "top"}
    layout["margin"] = {"l": 70, "r": 20, "t": 80, "b": 20}
    return {"data": [trace], "layout": layout}


def agent_scatter(
    centers: Sequence[tuple[str, Sequence[str], Sequence[int], Sequence[float | None]]],
) -> Figure:
    """Each agent: calls handled (x) against AHT (y), one colour per center."""
    data = [
        {"type": "scatter", "mode": "markers", "name": plain(name), "x": list(handled),
         "y": list(aht), "text": [plain(agent) for agent in agents],
         "marker": {"color": colour(i), "size": 9},
         "hovertemplate": "%{text}<br>%{x} calls, AHT %{y:.1f} s<extra></extra>"}
        for i, (name, agents, handled, aht) in enumerate(centers)
    ]  # fmt: skip
    layout = _layout("Agents: calls handled and average handle time", "AHT (seconds)", 360)
    layout["xaxis"] = {"title": {"text": "calls handled"}, "rangemode": "tozero"}
    return {"data": data, "layout": layout}


def abandon_histogram(
    starts: Sequence[int],
    short: Sequence[int],
    abandoned: Sequence[int],
    bucket: int,
    threshold: float,
) -> Figure:
    """Ring time before hanging up, stacked short / counted abandons, threshold marked."""
    centres = [start + bucket / 2 for start in starts]
    data = [
        {"type": "bar", "name": f"short abandons (< {threshold:g} s, not counted)",
         "x": centres, "y": list(short), "width": bucket * 0.95,
         "marker": {"color": OKABE_ITO[1]}},
        {"type": "bar", "name": "abandons", "x": centres, "y": list(abandoned),
         "width": bucket * 0.95, "marker": {"color": OKABE_ITO[0]}},
    ]  # fmt: skip
    layout = _layout(
        "Ring time before abandoning (incoming calls not answered)", "calls", 320, barmode="stack"
    )
    layout["xaxis"] = {"title": {"text": "ring time (seconds)"}, "rangemode": "tozero"}
    layout["shapes"] = [
        {"type": "line", "x0": threshold, "x1": threshold, "yref": "paper", "y0": 0, "y1": 1,
         "line": {"color": "#000000", "dash": "dash", "width": 2}}
    ]  # fmt: skip
    layout["annotations"] = [
        {"x": threshold, "yref": "paper", "y": 1,
         "text": f"short-abandon threshold {threshold:g} s", "showarrow": False,
         "xanchor": "left", "yanchor": "bottom"}
    ]  # fmt: skip
    return {"data": data, "layout": layout}


def health_bars(labels: Sequence[str], counts: Sequence[int], colours: Sequence[str]) -> Figure:
    """Rows failing each data-quality check, quarantined records, differing verify days."""
    data = [
        {"type": "bar", "orientation": "h", "y": [plain(label) for label in labels],
         "x": list(counts),
         "marker": {"color": list(colours)}, "text": [f"{c:,}" for c in counts],
         "textposition": "outside", "cliponaxis": False}
    ]  # fmt: skip
    layout = _layout(
        "Data-quality findings (0 everywhere = nothing found)",
        "",
        height=max(220, 90 + 26 * len(labels)),
    )
    layout["xaxis"] = {"title": {"text": "rows / records / center-days"}, "rangemode": "tozero"}
    layout["yaxis"] = {"automargin": True}
    layout["showlegend"] = False
    return {"data": data, "layout": layout}
