"""The gates view of the three tabs: each recurrent model's gates (LSTM: input, forget, output, with its
cell state; GRU: reset, update) and the plain RNN's hidden state at every step of the input on screen, as
heatmaps of units × steps with each gate's mean over the units shown (`seqcompare.gates`, computed live);
and, in the Text generation tab, the stored gate saturation, trained beside untrained, and the sentiment
section (`sentiment_view`)."""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from seqcompare import UserError, digits, gates, plots, reviews, textgen
from seqcompare.i18n import t
from seqcompare.ui import locale, sentiment_view
from seqcompare.ui.common import UNSHOWABLE, VIEW_EVENTS, WIDE, figure_box, joined, notice, slider, uploaded
from seqcompare.ui.locale import of

TOP = 16                         # units shown when showing the most varying
MAX_TICKS = 70                   # step labels on the axis, at most
PANEL_PX = 100                   # a panel of ten units, in pixels (four or fewer: 40 px; 16: 160)
GAP_PX = 46                      # between panels: the step labels of the one above, the next one's title
EXAMPLE = "酒店位置很好，离地铁站很近。房间干净，早餐也不错，但是隔音太差了，晚上很吵。"
STATES = ("cell", "hidden")      # shown from negative (blue) to positive (red); gates from 0 to 1
GATE_COLOURS = {"input": "#4c78a8", "forget": "#e45756", "output": "#54a24b",       # a line's colour names its gate
                "reset": "#b279a2", "update": "#f58518"}
SEQUENTIAL = [[0, "#f7fbff"], [0.5, "#6baed6"], [1, "#08306b"]]                  # a gate: 0 white … 1 dark blue
DIVERGING = [[0, "#2166ac"], [0.5, "#f7f7f7"], [1, "#b2182b"]]                   # a state: − blue, 0 white, + red


def shown_units(values: torch.Tensor, unit: int | None) -> list[int]:
    """The units of a panel (S, H) shown: the TOP that vary most over the steps, or the one chosen."""
    if unit is not None:
        return [min(max(int(unit), 0), values.shape[1] - 1)]
    return values.std(0).topk(min(TOP, values.shape[1])).indices.sort().values.tolist()


def panels(result: dict, unit: int | None, layer: int, lang: str) -> tuple[list[dict], list[str]]:
    """The rows of the figure: one heatmap per gate or state of each model, then its gates' means; and a
    notice per model that is unavailable."""
    rows, missing = [], []
    for name, a in result["models"].items():
        if "error" in a:
            missing.append(t("cells.gates.unavailable", lang, model=plots.label(name), error=locale.say(a["error"], lang)))
            continue
        values = a["layers"][min(max(layer, 1), len(a["layers"])) - 1]
        means = {}
        for key, v in values.items():
            v = torch.as_tensor(v)
            units = shown_units(v, unit)
            rows.append({"title": f"{plots.label(name)} · {t('cells.gates.' + key, lang)}",
                         "z": v[:, units].T.numpy(), "units": units, "state": key in STATES})
            if key not in STATES:
                means[key] = v[:, units].mean(1).numpy()
        if means:
            line = t("cells.gates.mean", lang) if unit is None else t("cells.gates.of_unit", lang, unit=units[0])
            rows.append({"title": f"{plots.label(name)} · {line}", "lines": means, "model": plots.label(name)})
    return rows, missing


def figure(result: dict, unit: int | None, layer: int, lang: str):
    """The heatmaps (units × steps, steps labelled) and mean lines of every model, one row each, sharing the
    step axis. Built as plain figure data (no per-property validation: a few ms instead of ~0.3 s)."""
    rows, missing = panels(result, unit, layer, lang)
    if not rows:
        return None, missing
    steps = result["steps"]
    heights = [PANEL_PX * (1.0 if "lines" in r else max(0.4, min(1.6, len(r["units"]) / 10))) for r in rows]
    area = sum(heights) + GAP_PX * (len(rows) - 1)           # the panels and the gaps between them, in pixels
    gap, scale, x = GAP_PX / area, 1 / area, np.arange(len(steps))
    hover = np.array([f"{i}: {s}" for i, s in enumerate(steps)], dtype=object)
    every = max(1, -(-len(steps) // MAX_TICKS))
    data, layout, top = [], {**plots.LAYOUT, "annotations": [], "height": area + 120, "showlegend": True,
                             "legend": {"orientation": "h", "y": 1.0, "yanchor": "top", "x": 0, "yref": "container"},
                             "margin": {"l": 50, "r": 20, "t": 80, "b": 40}}, 1.0
    for i, (r, h) in enumerate(zip(rows, heights), 1):
        bottom = top - h * scale
        n = "" if i == 1 else str(i)
        axis = {"xaxis": f"x{n}", "yaxis": f"y{n}"}
        layout[f"xaxis{n}"] = {"anchor": f"y{n}", "domain": [0, 1], "tickvals": x[::every].tolist(),
                               "ticktext": steps[::every], "tickangle": 0, **({"matches": "x"} if n else {})}
        layout[f"yaxis{n}"] = {"anchor": f"x{n}", "domain": [max(bottom, 0), top]}
        layout["annotations"].append({"text": r["title"], "x": 0, "y": top, "xref": "paper", "yref": "paper",
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 13}})
        top = bottom - gap
        if "lines" in r:
            data += [{"type": "scatter", "x": x, "y": line, "name": f"{r['model']} · {t('cells.gates.' + gate, lang)}",
                      "mode": "lines", "text": hover, "line": {"color": GATE_COLOURS[gate]},
                      "hovertemplate": "%{text}: %{y:.2f}<extra>" + t("cells.gates." + gate, lang) + "</extra>", **axis}
                     for gate, line in r["lines"].items()]
            layout[f"yaxis{n}"]["range"] = [0, 1]
            continue
        colours = {"colorscale": DIVERGING, "zmid": 0} if r["state"] else {"colorscale": SEQUENTIAL, "zmin": 0, "zmax": 1}
        data.append({"type": "heatmap", "z": r["z"], "x": x, "y": [str(u) for u in r["units"]], "showscale": False,
                     "customdata": np.tile(hover, (len(r["units"]), 1)), **colours, **axis,
                     "hovertemplate": "%{customdata} · " + t("cells.gates.unit_hover", lang, unit="%{y}")
                                      + ": %{z:.3f}<extra></extra>"})
        layout[f"yaxis{n}"].update(type="category", title={"text": t("cells.gates.units_axis", lang)})
    return go.Figure({"data": data, "layout": layout}, skip_invalid=False, _validate=False), missing


def gates_figure(bank, task: str, inputs, unit: int | None = None, layer: int = 1, lang: str = "en"):
    """(figure, notice) for one input of a task: its gates, or None and the problem with the input."""
    try:
        result = gates.explain_bank(task, bank, inputs, full=True)
    except UserError as exc:
        return None, notice(exc.render(lang))
    fig, missing = figure(result, unit, layer, lang)
    timing = " · ".join(t("cells.gates.ms", lang, model=plots.label(n), ms=a["ms"])
                        for n, a in result["models"].items() if "ms" in a)
    notes = [locale.say(n, lang) for n in result.get("notices", [])]
    return fig, "\n\n".join(part for part in (notice(joined(notes + missing, lang)), timing) if part)


def gates_view(bank, task: str, inputs, mode: str, unit, layer, request: gr.Request):
    """The callback: the figure and its notice, in the reader's language."""
    lang = of(request)
    chosen = None if mode == "most" or unit is None else int(unit)
    return gates_figure(bank, task, inputs, chosen, int(layer or 1), lang)


def controls(bank):
    """The unit choice (most varying, or one unit) and the layer (shown only for models of several)."""
    recurrent = gates.with_cells(bank).values()
    hidden = max((m.cfg.hidden_size for m in recurrent), default=1)
    layers = max((m.cfg.num_layers for m in recurrent), default=1)
    with gr.Row():
        mode = locale.per_language(gr.Radio(unit_choices("en"), value="most", label=locale.L("cells.gates.units"), scale=2),
                                   lambda lang: gr.Radio(choices=unit_choices(lang)))
        unit = slider(0, hidden - 1, value=0, step=1, label=locale.L("cells.gates.unit", last=hidden - 1), scale=2)
        layer = slider(1, max(layers, 2), value=1, step=1, label=locale.L("cells.gates.layer"), visible=layers > 1,
                       scale=1)
    return mode, unit, layer


def unit_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("cells.gates.most_varying", lang, n=TOP), "most"), (t("cells.gates.one_unit", lang), "one")]


def section(bank, task: str, triggers: list, source, first=None):
    """The gates view placed where it is called: controls, the figure and the convention note, updated by
    `triggers` with the input in `source`. Returns the outputs, the settings and the callback (for another
    source)."""
    gr.Markdown(locale.L("cells.gates.heading"))
    mode, unit, layer = controls(bank)
    built = functools.cache(lambda lang: gates_figure(bank, task, first, lang=lang))   # one run per language
    fig, message = built("en") if first is not None else (None, "")
    shown = gr.Markdown(message, elem_id=f"gates-{task}-notice")
    plot = figure_box(fig, show_label=False, elem_id=f"gates-{task}", elem_classes=WIDE, download=f"gates-{task}")
    if first is not None:
        locale.per_language(plot, lambda lang: built(lang)[0])
        locale.per_language(shown, lambda lang: built(lang)[1])
    gr.Markdown(locale.L("cells.gates.note"))
    def view(source, mode, unit, layer, request: gr.Request):
        return gates_view(bank, task, source, mode, unit, layer, request)

    gr.on([*triggers, mode.change, unit.release, layer.release], view, [source, mode, unit, layer], [plot, shown],
          **VIEW_EVENTS)
    return [plot, shown], [mode, unit, layer], view


# --- the three tabs --------------------------------------------------------------------------------

def textgen_cells(bank: textgen.TextModels) -> None:
    """The Text generation tab's view inside the cells: the gates on a typed text, the saturation, the sentiment."""
    text = gr.Textbox(EXAMPLE, label=locale.L("cells.gates.text"), lines=2, max_lines=6, elem_id="gates-text")
    section(bank, "hotel", [text.change], text, EXAMPLE)
    saturation_section(bank.folder)
    sentiment_view.section(bank)


def review_gates(bank: reviews.ReviewModels, text: gr.Textbox, submit: gr.Button) -> None:
    """The Reviews tab's gates on the typed review."""
    section(bank, "imdb", [submit.click, text.submit, text.change], text)


def digit_gates(bank: digits.DigitModels, canvas, upload, draw_btn, upload_btn) -> None:
    """The Digits tab's gates on the drawn or uploaded digit, row by row."""
    outputs, settings, view = section(bank, "mnist", [draw_btn.click, canvas.change], canvas)

    def upload_view(path, mode, unit, layer, request: gr.Request):
        try:                                                  # an upload over the read limit is named, not read
            uploaded(path)
        except UserError as exc:
            return None, notice(exc.render(of(request)))
        return view(path, mode, unit, layer, request)

    gr.on([upload_btn.click, upload.change], upload_view, [upload, *settings], outputs, **VIEW_EVENTS)


# --- saturation: trained beside untrained -----------------------------------------------------------

def saturation_figure(result: dict, lang: str = "en"):
    """One scatter per gate type (x: fraction of steps < 0.1, y: > 0.9), a dot per unit, trained in the
    model's colour beside untrained in grey."""
    pairs = [(name, gate) for name, m in result["models"].items() for gate in m["trained"][0]]
    fig = make_subplots(rows=1, cols=len(pairs), subplot_titles=[
        t("cells.saturation.title", lang, model=plots.label(n), gate=t("cells.gates." + g, lang)) for n, g in pairs])
    for col, (name, gate) in enumerate(pairs, 1):
        for kind, color in (("untrained", "#bbbbbb"), ("trained", plots.COLORS.get(name))):
            f = result["models"][name][kind][0][gate]
            fig.add_trace(go.Scattergl(x=f["left"], y=f["right"], mode="markers", marker=dict(size=4, color=color),
                                       name=t("cells.saturation." + kind, lang), showlegend=col == 1,
                                       legendgroup=kind), row=1, col=col)
        fig.update_xaxes(range=[0, 1], title_text=t("cells.saturation.left", lang) if col == 1 else None, row=1, col=col)
        fig.update_yaxes(range=[0, 1], title_text=t("cells.saturation.right", lang) if col == 1 else None, row=1, col=col)
    fig.update_annotations(font_size=11)                  # five panel titles side by side fit a phone's 720 px
    fig.update_layout(height=330, **plots.LAYOUT)
    return fig


def saturation_section(folder: Path) -> None:
    """The saturation stored in `folder` (the text models' checkpoints, saturation.json) as scatters, how to
    compute it, or a notice when the file cannot be read."""
    gr.Markdown(locale.L("cells.saturation.heading"))
    try:
        result = gates.load_saturation(folder)
        shown = None if result is None else saturation_figure(result)
    except UNSHOWABLE as exc:
        gr.Markdown(locale.L("notices.broken", file=Path(folder) / gates.SATURATION_FILE,
                             error=f"{type(exc).__name__}: {exc}"))   # unreadable, or valid JSON of another shape
        return
    if result is None:
        gr.Markdown(locale.L("cells.saturation.missing"))
        return
    locale.per_language(figure_box(shown, show_label=False, elem_id="gates-saturation", elem_classes=WIDE,
                               download="gates-saturation"),
                        lambda lang: saturation_figure(result, lang))
    gr.Markdown(locale.L("cells.saturation.note", characters=f"{result['characters']:,}"))
