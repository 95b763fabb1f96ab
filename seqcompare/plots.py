"""Plotly figures shared by the three tabs; every model keeps one colour everywhere."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from seqcompare import i18n

COLORS = {"rnn": "#e45756", "lstm": "#4c78a8", "gru": "#54a24b", "lenet": "#b279a2", "transformer": "#f58518"}
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "lenet": "LeNet-5", "transformer": "Transformer"}
MAX_WORD_TICKS = 40       # traces of reviews up to this many tokens show the words on the x axis
LAYOUT = dict(margin=dict(l=50, r=20, t=50, b=40), font=dict(size=12))
# Every figure is drawn in plotly_white, without the toolbar's selection tools (nothing here reads a selection;
# each button is one more stop for the keyboard) or its autoscale (its "reset axes" does that here). As the
# default, a new figure takes it without validating the whole template again, which an explicit `template=`
# costs on every figure (about 16 ms each).
TOOLBAR_REMOVED = ("select2d", "lasso2d", "autoScale2d")
pio.templates["seqcompare"] = go.layout.Template(pio.templates["plotly_white"])     # one template, made once
pio.templates["seqcompare"].layout.modebar.remove = TOOLBAR_REMOVED
pio.templates.default = "seqcompare"


def label(name: str) -> str:
    return NAMES.get(name, name)


def confusion_matrix(cm: list[list[int]], classes: list[str], title: str, lang: str = "en") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=cm, x=classes, y=classes, colorscale="Blues", showscale=False,
                               text=cm, texttemplate="%{text}",
                               hovertemplate=i18n.t("plots.confusion_hover", lang) + "<extra></extra>"))
    fig.update_layout(title=i18n.t("plots.confusion_title", lang, model=title), xaxis_title=i18n.t("plots.predicted", lang),
                      yaxis_title=i18n.t("plots.true", lang), height=360, **LAYOUT)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    return fig


def metric(name: str, lang: str = "en") -> str:
    """A metric's name as the tutorials say it (accuracy: 准确率, bpc: 每字符比特数 …)."""
    return i18n.t(f"plots.metrics.{name}", lang) if f"{name}" in METRICS else name


METRICS = ("loss", "accuracy", "precision", "recall", "f1", "bpc", "perplexity")


def curves(histories: dict[str, list[dict]], metrics: list[str], lang: str = "en") -> go.Figure:
    """One panel per metric; a line per model, solid for training and dashed for validation."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[metric(m, lang) for m in metrics],
                        horizontal_spacing=0.06)
    for col, name_ in enumerate(metrics, 1):
        for name, history in histories.items():
            epochs = [row["epoch"] for row in history]
            for split, dash in (("train", "solid"), ("val", "dash")):
                key = f"{split}_{name_}"
                if history and key in history[0]:
                    fig.add_scatter(x=epochs, y=[row[key] for row in history], row=1, col=col,
                                    name=f"{label(name)} {i18n.t('plots.' + split, lang)}", legendgroup=name,
                                    showlegend=col == 1, line=dict(color=COLORS.get(name), dash=dash))
        fig.update_xaxes(title_text=i18n.t("plots.epoch", lang), row=1, col=col)
    fig.update_layout(title=i18n.t("plots.curves_title", lang), height=360, **{**LAYOUT, "margin": dict(l=50, r=20, t=90, b=40)})
    return fig


def class_probabilities(probs: dict[str, list[float]], classes: list[str], lang: str = "en") -> go.Figure:
    """Grouped bars: each model's probability for every class."""
    fig = go.Figure([go.Bar(x=classes, y=p, name=label(n), marker_color=COLORS.get(n)) for n, p in probs.items()])
    fig.update_layout(title=i18n.t("plots.class_probabilities", lang), barmode="group", yaxis_range=[0, 1], height=300,
                      xaxis=dict(type="category"), **LAYOUT)
    return fig


def row_beliefs(rows: dict[str, list[list[float]]], lang: str = "en") -> go.Figure:
    """For each recurrent model, P(digit) after each row it has read (a heatmap: rows × digits)."""
    names = list(rows)
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=[label(n) for n in names],
                        shared_yaxes=True, horizontal_spacing=0.03)
    for col, name in enumerate(names, 1):
        z = [list(step) for step in zip(*rows[name])]        # digits × rows
        fig.add_heatmap(z=z, x=list(range(1, len(rows[name]) + 1)), y=[str(d) for d in range(10)],
                        zmin=0, zmax=1, colorscale="Viridis", showscale=col == len(names),
                        hovertemplate=i18n.t("plots.belief_hover", lang) + "<extra></extra>", row=1, col=col)
        fig.update_xaxes(title_text=i18n.t("plots.rows_read", lang), row=1, col=col)
    fig.update_yaxes(title_text=i18n.t("plots.digit", lang), type="category", row=1, col=1)
    fig.update_layout(title=i18n.t("plots.belief_title", lang), height=340,
                      **{**LAYOUT, "margin": dict(l=50, r=20, t=80, b=40)})
    return fig


def prefix_trace(traces: dict[str, list[float]], words: list[str], lang: str = "en") -> go.Figure:
    """P(positive) after each word, one line per model."""
    fig = go.Figure()
    x = list(range(1, len(words) + 1))
    for name, values in traces.items():
        fig.add_scatter(x=x, y=values, name=label(name), mode="lines", line=dict(color=COLORS.get(name)),
                        customdata=words, hovertemplate=i18n.t("plots.word_hover", lang) + "<extra>" + label(name) + "</extra>")
    fig.add_hline(y=0.5, line=dict(color="gray", dash="dot"))
    fig.update_layout(title=i18n.t("plots.trace_title", lang), xaxis_title=i18n.t("plots.words_read", lang),
                      yaxis_title=i18n.t("plots.p_positive", lang), yaxis_range=[-0.04, 1.04],   # 0 and 1 off the axes
                      height=340, **LAYOUT)
    if len(words) <= MAX_WORD_TICKS:                       # short reviews: the words themselves on the axis
        fig.update_xaxes(tickvals=x, ticktext=words, tickangle=-45 if len(words) > 12 else 0, title_text=None)
    return fig


def top_next(candidates: dict[str, list[tuple[str, float]]], lang: str = "en") -> go.Figure:
    """Each model's most likely next characters, side by side."""
    names = list(candidates)
    fig = make_subplots(rows=1, cols=max(len(names), 1), subplot_titles=[label(n) for n in names],
                        horizontal_spacing=0.08)                 # each model lists its own characters
    for col, name in enumerate(names, 1):
        chars = [repr(c)[1:-1] if c.isspace() else c for c, _ in candidates[name]]
        fig.add_bar(x=[p for _, p in candidates[name]], y=chars, orientation="h", row=1, col=col,
                    marker_color=COLORS.get(name), showlegend=False,
                    hovertemplate="%{y}: %{x:.3f}<extra></extra>")
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
    fig.update_layout(title=i18n.t("plots.next_character", lang), height=380,
                      **{**LAYOUT, "margin": dict(l=50, r=20, t=80, b=40)})      # the title above the subplots' own
    return fig


def distance_curves(memory: dict, title: str | None = None, lang: str = "en") -> go.Figure:
    """Relative influence against distance (both axes log): a solid line per trained model, a dotted one
    for the same architecture at initialisation; the grey line is the 1% that defines the memory length."""
    unit = i18n.t(f"plots.units.{memory.get('unit', 'steps')}", lang)
    fig = go.Figure()
    parts = (("trained", memory.get("models", {}), "solid"),
             ("untrained", memory.get("untrained", {}).get("models", {}), "dot"))
    for state, part, dash in parts:
        state = i18n.t(f"plots.{state}", lang)
        for name, m in part.items():
            length = m["memory_length"]
            shown = f"> {len(m['distance'])}" if length is None else str(length)
            fig.add_scatter(x=m["distance"], y=m["relative_influence"], mode="lines", legendgroup=name,
                            name=i18n.t("plots.memory_legend", lang, model=label(name), state=state, shown=shown), line=dict(color=COLORS.get(name), dash=dash),
                            hovertemplate=i18n.t("plots.distance_hover", lang, model=label(name), state=state, unit=unit)
                            + "<extra></extra>")
    fig.add_hline(y=memory.get("threshold", 0.01), line=dict(color="gray", dash="dash"))
    fig.update_xaxes(type="log", title_text=i18n.t("plots.distance_axis", lang, unit=unit))
    fig.update_yaxes(type="log", title_text=i18n.t("plots.influence_axis", lang), exponentformat="power")
    fig.update_layout(title=title or i18n.t("plots.distance_title", lang), height=420, **LAYOUT)
    return fig


def attention_layers(weights: list[list[float]], inputs: list[str], lang: str = "en") -> go.Figure:
    """The Transformer's attention for one prediction: one row per layer (averaged over heads), one column
    per input it can see."""
    x = list(range(1, len(inputs) + 1))
    fig = go.Figure(go.Heatmap(z=weights, x=x, y=[i18n.t("plots.layer", lang, i=i) for i in range(1, len(weights) + 1)], zmin=0,
                               colorscale="Oranges", customdata=[inputs] * len(weights),
                               hovertemplate=i18n.t("plots.attention_hover", lang) + "<extra></extra>"))
    if len(inputs) <= 60:                                   # short windows: the characters on the axis
        fig.update_xaxes(tickvals=x, ticktext=inputs, tickangle=0, tickfont=dict(size=10))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=i18n.t("plots.attention_title", lang),
                      height=120 + 40 * len(weights), **LAYOUT)
    return fig


def row_influence(influence: dict[str, list[float]], lang: str = "en") -> go.Figure:
    """For each recurrent model, the influence of every pixel row on its answer (normalised per model):
    rows top to bottom, as in the image."""
    names = list(influence)
    rows = len(next(iter(influence.values()), []))
    z = [[influence[n][r] / (max(influence[n]) or 1) for n in names] for r in range(rows)]
    raw = [[influence[n][r] for n in names] for r in range(rows)]
    fig = go.Figure(go.Heatmap(z=z, x=[label(n) for n in names], y=list(range(1, rows + 1)), zmin=0, zmax=1,
                               colorscale="Greys", customdata=raw, showscale=False,
                               hovertemplate=i18n.t("plots.row_hover", lang) + "<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text=i18n.t("plots.row", lang))
    fig.update_layout(title=i18n.t("plots.rows_title", lang), height=320,
                      **{**LAYOUT, "margin": dict(l=40, r=10, t=40, b=30)})
    return fig


def live_curves(steps: dict[str, list[tuple[int, float]]], histories: dict[str, list[dict]], metric_name: str,
                lang: str = "en") -> go.Figure:
    """Live training: the training loss after each update (left) and the validation metric after each
    epoch (right), one colour per model, on shared axes."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=[i18n.t("plots.live_loss", lang),
                                        i18n.t("plots.live_metric", lang, metric=metric(metric_name, lang))])
    for name, points in steps.items():
        if points:
            fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=label(name),
                            mode="lines" if len(points) > 2 else "lines+markers",       # one point shows too
                            legendgroup=name, line=dict(color=COLORS.get(name)), row=1, col=1)
    for name, history in histories.items():
        rows = [r for r in history if f"val_{metric_name}" in r]
        if rows:
            fig.add_scatter(x=[r["epoch"] for r in rows], y=[r[f"val_{metric_name}"] for r in rows], mode="lines+markers",
                            name=label(name), legendgroup=name, showlegend=not steps.get(name),
                            line=dict(color=COLORS.get(name)), row=1, col=2)
    fig.update_xaxes(title_text=i18n.t("plots.updates", lang), row=1, col=1)
    fig.update_xaxes(title_text=i18n.t("plots.epoch", lang), row=1, col=2, dtick=1)
    fig.update_layout(height=340, **{**LAYOUT, "margin": dict(l=50, r=20, t=60, b=40)})
    return fig


STUDY_FACTORS = ("hidden", "layers", "dropout")


def study_rows(study: dict) -> list[list]:
    """One row per trial of a `sweep` study: the model, its setting, its scores and cost."""
    from seqcompare.metrics import with_interval

    return [[label(t["model"]), *(t["params"][f] for f in STUDY_FACTORS), round(t["metrics"]["val_accuracy"], 4),
             with_interval(t["metrics"]["test_accuracy"], t["metrics"]["test_n"]), f"{t['parameters']:,}",
             round(t["seconds"])] for t in study["trials"]]


def study_parallel(study: dict, lang: str = "en") -> go.Figure:
    """Parallel coordinates: each trial a line from its model and setting to its accuracies."""
    trials = study["trials"]
    models = sorted({t["model"] for t in trials}, key=list(NAMES).index)
    dims = [dict(label=i18n.t("plots.model", lang), values=[models.index(t["model"]) for t in trials],
                 tickvals=list(range(len(models))), ticktext=[label(m) for m in models])]
    dims += [dict(label=i18n.t(f"plots.factors.{f}", lang), values=[x["params"][f] for x in trials]) for f in STUDY_FACTORS]
    dims += [dict(label=i18n.t("plots.val_accuracy", lang), values=[x["metrics"]["val_accuracy"] for x in trials]),
             dict(label=i18n.t("plots.test_accuracy", lang), values=[x["metrics"]["test_accuracy"] for x in trials])]
    fig = go.Figure(go.Parcoords(dimensions=dims, line=dict(color=[t["metrics"]["val_accuracy"] for t in trials],
                                                            colorscale="Viridis", showscale=True)))
    fig.update_layout(title=i18n.t("plots.parallel_title", lang), height=380,
                      **{**LAYOUT, "margin": dict(l=60, r=40, t=80, b=30)})
    return fig


def study_effects(study: dict, lang: str = "en") -> go.Figure:
    """Each factor's effect per cell: training (solid) and validation (dashed) loss per epoch of the
    baseline and of the trials that change only that factor."""
    base = study["baseline"]
    cells = [m for m in NAMES if any(t["model"] == m for t in study["trials"])]
    fig = make_subplots(rows=len(STUDY_FACTORS), cols=max(len(cells), 1), shared_yaxes=True,
                        subplot_titles=[f"{label(c)}: {i18n.t('plots.factors.' + f, lang)}" for f in STUDY_FACTORS for c in cells],
                        vertical_spacing=0.09, horizontal_spacing=0.04)
    palette = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#b279a2"]
    for row, factor in enumerate(STUDY_FACTORS, 1):
        for col, cell in enumerate(cells, 1):
            trials = [t for t in study["trials"] if t["model"] == cell
                      and all(t["params"][f] == base[f] for f in STUDY_FACTORS if f != factor)]
            for i, t in enumerate(sorted(trials, key=lambda t: t["params"][factor])):
                value = t["params"][factor]
                epochs = [r["epoch"] for r in t["history"]]
                for split, dash in (("train", "solid"), ("val", "dash")):
                    fig.add_scatter(x=epochs, y=[r[f"{split}_loss"] for r in t["history"]], row=row, col=col,
                                    mode="lines+markers", line=dict(color=palette[i % len(palette)], dash=dash),
                                    name=f"{factor} {value} {split}", showlegend=False,
                                    hovertemplate=i18n.t("plots.effects_hover", lang, factor=i18n.t(
                                        f"plots.factors.{factor}", lang), value=value, split=i18n.t(
                                        f"plots.effects_splits.{split}", lang)) + " %{y:.3f}<extra></extra>")
    fig.update_layout(title=i18n.t("plots.effects_title", lang), height=260 * len(STUDY_FACTORS),
                      **{**LAYOUT, "margin": dict(l=50, r=20, t=90, b=30)})
    return fig
