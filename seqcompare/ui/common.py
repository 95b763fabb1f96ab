"""What the tabs share: notices, the comparison block (table, confusion matrices, curves), JSON wrappers."""

from __future__ import annotations

import json
import os
from functools import partial
from html import escape
from pathlib import Path

import gradio as gr
from gradio.components.plot import PlotData

import pandas as pd

from seqcompare import UserError, i18n, metrics, plots
from seqcompare.ui import locale
from seqcompare.checkpoints import CHECKPOINTS, CheckpointError  # noqa: F401  (CHECKPOINTS: the tabs read the shipped checkpoints here)

# What showing a stored result (a study, curves, a saturation) can raise: a file that cannot be read, or valid
# JSON of another shape; the view becomes the notice notices.broken
UNSHOWABLE = (CheckpointError, KeyError, TypeError, ValueError, IndexError, AttributeError)
# Figures too wide for a phone (a label per step, side-by-side panels, long legends): on a narrow screen they
# keep a desktop width and scroll sideways (ui.CSS) instead of piling their labels on top of each other.
WIDE = ["wide-plot"]
# Sliders share rows on a desktop; on a phone each takes a row of its own (ui.CSS), so that its label is not
# squeezed to a character per line beside its number box.
SLIDER_CLASS = "phone-full-row"
UPLOAD_MB = 5          # the largest upload the tabs and the API read (a digit picture or a text): `uploaded`
# The largest upload Gradio takes into its cache (app.MAX_FILE_SIZE): beyond it, Gradio's own client refuses the
# file before sending it, in an error toast (`page_words_script` says it in the page's language); between
# the two, the callbacks say in the reader's language that the file is too large (a phone's photo is often
# over UPLOAD_MB).
CACHE_MB = 20
# Gradio's client's sentence for such a file, in English on every page:
# `File(s) exceed the maximum allowed size of 20.0 Mb: "photo.jpg"`.
GRADIO_REFUSAL = r'^File\(s\) exceed the maximum allowed size of [^:]*: (.+)$'
# What Gradio and Plotly write in English themselves, which `page_words_script` says in the page's language:
# lines of text (Gradio's status tracker on a waiting or running output, its upload line, Plotly's zoom tip) and
# the labels Gradio composes from a component's own (locale key → a JavaScript regular expression whose named
# groups fill the key's fields), and the fixed words of their labels and tooltips (locale key → the English words)
PAGE_TEXTS = {"page_texts.queue": r"^queue: (?<position>\d+)/(?<size>\d*) \|$",
              "page_texts.processing": r"^processing \|$",
              "page_texts.upload": r"^Uploading (?<n>\d+)\s+files?\.\.\.$",
              "page_texts.zoom_back": r"^Double-click to zoom back out$"}
LABEL_PATTERNS = {"page_label_patterns.number_input": r"^number input for (?<label>.+)$",
                  "page_label_patterns.range_slider": r"^range slider for (?<label>.+)$",
                  "page_label_patterns.select_row": r"^Select row$",
                  "page_label_patterns.select_column": r"^Select column$"}
PAGE_WORDS_JS = Path(__file__).resolve().parent.parent / "assets" / "page_words.js"
PAGE_LABELS = {key: english for key, english in i18n.words(i18n.DEFAULT).items() if key.startswith("page_labels.")}

# Writing text is the one long request (four models × up to 500 steps of Python-driven small operations).
# Its events share one pool (concurrency_id) whose handlers hand their requests to the server's
# `textgen.Writer` and wait: one thread writes them all, one model at a time, and a request that arrives in
# the first steps of a model's stage (writer.ADMIT_STEPS) joins it at its next step, since a step over 30
# sequences costs about 2.5× one sequence (the weights are read once for all of them). Gradio still hands
# over the requests waiting in the queue as one batch (up to MAX_BATCH); up to GENERATION_SLOTS batches wait
# on the writer at once. The quick digit and review requests keep their own slots (app.CONCURRENCY each)
# and the second core.
MAX_BATCH = 32
# The views inside the models, answering as their input changes: not in the API (they have endpoints of
# their own), only the latest input answered, and no spinner.
VIEW_EVENTS = dict(api_visibility="private", trigger_mode="always_last", show_progress="hidden")
GENERATION_SLOTS = 8
GENERATION = {"concurrency_id": "text-generation", "concurrency_limit": GENERATION_SLOTS, "batch": True,
              "max_batch_size": MAX_BATCH}


def figure_box(value=None, *, download: str, **kwargs) -> gr.Plot:
    """gr.Plot whose Plotly figures show no Plotly logo in their toolbar (a link that is one more unnamed
    keyboard stop) and download as seqcompare-`download`.png instead of newplot.png: Gradio draws a figure
    with the "config" its JSON carries. (An instance's own `postprocess`, as `slider` has its own preprocess.)"""
    made = gr.Plot(**kwargs)
    config = json.dumps({"displaylogo": False, "toImageButtonOptions": {"filename": f"seqcompare-{download}"}})
    drawn = made.postprocess

    def postprocess(fig):
        data = drawn(fig)
        if data is None or isinstance(fig, PlotData) or data.type != "plotly" or not data.plot.endswith("}"):
            return data
        return PlotData(type=data.type, plot=f'{data.plot[:-1]}, "config": {config}}}')  # into {"data": …}

    made.postprocess = postprocess
    if value is not None:
        made.value = postprocess(value).model_dump()
    return made


def slider(*args, **kwargs) -> gr.Slider:
    """gr.Slider, except that a number typed into its box outside the range reaches the callback, whose own
    checks cap it or refuse it in the reader's language (gr.Slider refuses it first, in English, before any
    callback knows the reader). The handle still moves within the range; on a phone it takes a row of its own
    (SLIDER_CLASS). (An instance's own `preprocess`, not a subclass: Gradio writes a .pyi file beside the module
    of every Component subclass.)"""
    classes = kwargs.pop("elem_classes", None) or []
    made = gr.Slider(*args, elem_classes=[*([classes] if isinstance(classes, str) else classes), SLIDER_CLASS],
                     **kwargs)
    made.preprocess = lambda payload: payload if payload is None else gr.Number.round_to_precision(payload,
                                                                                                  made.precision)
    return made


def joined(texts, lang: str) -> str:
    """Several notices on one line, separated as the page's language separates clauses ("; ", "；")."""
    return i18n.t("app.separator", lang).join(texts)


def uploaded(value):
    """`value` as it came, or a UserError when it is the path of an uploaded file larger than UPLOAD_MB; a
    drawing passes."""
    if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
        path, size = value, os.path.getsize(value)
        if size > UPLOAD_MB * 2 ** 20:
            raise UserError("errors.upload_too_big", name=os.path.basename(path), mb=UPLOAD_MB,
                            size=f"{size / 2 ** 20:.1f}")
    return value


def page_words_script() -> str:
    """The <script> that says in the page's language what Gradio and Plotly write into the page in English
    themselves, without a translation key, watching the page as it changes:
    - Gradio's refusal of a file over CACHE_MB, in an error toast: replaced by errors.upload_not_sent, the file
      names kept, and the toast's title ("Error") by errors.upload_not_sent_title;
    - lines of text: the status tracker's "queue: 2/5 |" and "processing |" on an output that waits or runs,
      Gradio's upload line and Plotly's zoom tip (`PAGE_TEXTS`);
    - the labels a screen reader reads and the tooltips (aria-label, title, Plotly's data-title, alt) of their
      buttons and fields: fixed words, such as a slider's "Reset to default value" or a table's "Copy table data"
      (the `page_labels` of the locale files, whose English words are the ones Gradio and Plotly write), and
      labels composed from a component's own, such as "range slider for Length" (`LABEL_PATTERNS`).
    The lines and the labels are rewritten on a page in another language than English only. The page's language
    is <html lang>, which locale.EarlyLanguage sets before Gradio starts (English when it sets none; the language
    switch reloads the page)."""
    said = {lang: {"text": i18n.t("errors.upload_not_sent", lang, names="{names}", mb=CACHE_MB, read=UPLOAD_MB),
                   "title": i18n.t("errors.upload_not_sent_title", lang),
                   "labels": {english: i18n.t(key, lang) for key, english in PAGE_LABELS.items()},
                   "lines": [[pattern, i18n.t(key, lang)] for key, pattern in PAGE_TEXTS.items()],
                   "composed": [[pattern, i18n.t(key, lang)] for key, pattern in LABEL_PATTERNS.items()]}
            for lang in i18n.LANGUAGES}
    script = PAGE_WORDS_JS.read_text(encoding="utf-8")
    for name, value in (("__WORDS__", said), ("__REFUSAL__", GRADIO_REFUSAL), ("__DEFAULT__", i18n.DEFAULT)):
        script = script.replace(name, json.dumps(value, ensure_ascii=False))
    return f"<script>{script}</script>"


def notice(text: str) -> str:
    return f"⚠️ **{text}**" if text else ""


def notice_html(text: str) -> str:
    """`notice` for a gr.HTML output, which shows Markdown's asterisks as they are."""
    return f"<p>⚠️ <b>{escape(text)}</b></p>" if text else ""


def model_table(meta: dict[str, dict], columns: list[str]) -> list[list]:
    """One row per model: test metrics, parameters and training time from its checkpoint."""
    rows = []
    for name, m in meta.items():
        test = m.get("test", {})
        rows.append([plots.label(name)] + [metrics.with_interval(test[c], test["n"]) if c == "accuracy" and "n" in test
                                           else round(test.get(c, float("nan")), 4) for c in columns]
                    + [f"{m.get('parameters', 0):,}", round(m.get("train_seconds", 0))])
    return rows


def headers(columns: list[str], lang: str) -> list[str]:
    """The header of a comparison table: the model, its metrics, its parameters and training time."""
    return [i18n.t("app.table.model", lang),
            *(i18n.t("app.table.accuracy", lang) if c == "accuracy" else plots.metric(c, lang) for c in columns),
            i18n.t("app.table.parameters", lang), i18n.t("app.table.train_seconds", lang)]


def no_answers(names) -> list:
    """One empty answer per model, titled with the model's name alone (no timing left from an earlier answer)."""
    return [gr.Label(value=None, label=plots.label(n)) for n in names]


def table(rows: list[list], header: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=header)


def word(name: str, lang: str) -> str:
    """A class name (positive, negative) in `lang`; digits and anything else as they are."""
    return i18n.t(f"app.classes.{name}", lang) if i18n.has(f"app.classes.{name}") else name


def comparison(task: str, meta: dict, errors: dict, columns: list[str], classes: list[str] | None,
               curves: list[str], rows=None, header=None) -> None:
    """The comparison block every tab ends with: a table, confusion matrices, training curves (their downloads
    named after `task`), in the page's language (`header(lang)` names the columns of `rows`, by default those of
    model_table; `rows` is a list of rows, or a function of the language giving them)."""
    if errors:
        gr.Markdown(locale.composed(lambda lang: notice(i18n.t("app.unavailable", lang, models=joined(
            (f"{plots.label(n)} ({r})" for n, r in errors.items()), lang)))))
    rows = rows if rows is not None else model_table(meta, columns)
    rows_in = rows if callable(rows) else (lambda lang: rows)
    header = header or (lambda lang: headers(columns, lang))
    locale.per_language(gr.Dataframe(table(rows_in("en"), header("en")), interactive=False, show_label=False),
                        lambda lang: table(rows_in(lang), header(lang)))
    if classes:
        with gr.Row():
            for name, m in meta.items():
                matrix = partial(plots.confusion_matrix, m["test"]["confusion_matrix"], title=plots.label(name))
                locale.per_language(figure_box(matrix([word(c, "en") for c in classes]), show_label=False,
                                           download=f"{task}-confusion-{name}"),
                                    lambda lang, matrix=matrix: matrix([word(c, lang) for c in classes], lang=lang))
    if meta:
        histories = {n: m["history"] for n, m in meta.items()}
        locale.per_language(figure_box(plots.curves(histories, curves), show_label=False, elem_classes=WIDE,
                                   download=f"{task}-training-curves"),
                            lambda lang: plots.curves(histories, curves, lang))


def as_json(fn):
    """An API callback: the answer as JSON, or {"error": message} for input the models cannot use."""
    def call(*args):
        try:
            return fn(*args)
        except UserError as exc:
            return {"error": str(exc)}
    return call
