"""The Text generation tab: every character model continues the same seed with the same settings."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from seqcompare import UserError, checkpoints, i18n, plots, precision, textgen
from seqcompare.ui import gates_view, locale, memory_views
from seqcompare.ui.common import GENERATION, WIDE, comparison, figure_box, joined, notice, slider


def text_views(bank: textgen.TextModels, *settings: list, request: gr.Request | list | None = None,
               writer: textgen.Writer | None = None) -> list[list]:
    """Outputs of the Text generation tab (a notice, one text box per model, the next-character figure) for
    a batch of concurrent requests (Gradio's batch mode: a list per input, a list per output, one request
    per input): the models write all the sampled ones together, each request the text it gets alone. A
    server's `writer` writes them with every other request under way (the bank alone without one)."""
    answers = (writer or bank).generate_many(list(zip(*settings)))
    requests = request if isinstance(request, list) else [request] * len(answers)
    return [list(column) for column in zip(*(answer_view(bank, a, locale.of(r)) for a, r in zip(answers, requests)))]


def answer_view(bank: textgen.TextModels, result: dict | UserError, lang: str = "en") -> list:
    names = list(textgen.MODELS)
    if isinstance(result, UserError):
        return [notice(result.render(lang)), *([None] * len(names)), None]
    shared = [i18n.t("textgen.batch", lang, others=result["batch"] - 1)] if result.get("batch") else []
    out = [notice(joined([locale.say(n, lang) for n in result["notices"]] + shared, lang))]
    for name in names:
        a = result["models"].get(name, {"error": i18n.said("app.unavailable_model")})
        out.append(gr.Textbox(value=a.get("text", ""), label=f"{plots.label(name)} — {locale.say(a['error'], lang)}"
                              if "error" in a else i18n.t("textgen.written", lang, model=plots.label(name), ms=a["ms"],
                                                          n=a["characters"])
                              + (i18n.t("textgen.ended", lang) if a.get("ended") else "")))
    out.append(next_view(bank, result["seed"], lang))
    return out


def write(writer: textgen.Writer, seed, length, temperature, top_k, random_seed, top_p, beams,
          request: gr.Request = None) -> list[list]:
    """The Generate button (batched): text_views in each request's language, through the server's writer."""
    return text_views(writer.bank, seed, length, temperature, top_k, random_seed, top_p, beams, request=request,
                      writer=writer)


def next_view(bank: textgen.TextModels, seed: str, lang: str = "en"):
    """Each model's ten likeliest next characters after the seed, or nothing without models."""
    return plots.top_next(bank.next_chars(seed or ""), lang) if bank.models else None


def next_for(bank: textgen.TextModels, seed: str, request: gr.Request = None):
    return next_view(bank, seed, locale.of(request))


def textgen_tab(bank: textgen.TextModels, writer: textgen.Writer) -> None:
    names = list(textgen.MODELS)
    gr.Markdown(locale.L("textgen.chinese_data"), elem_id="gen-language-note")
    with gr.Row():
        seed = gr.Textbox(label=locale.L("textgen.seed"), value="早餐", max_lines=2, scale=3, elem_id="gen-seed")
        length = slider(1, textgen.MAX_LENGTH, value=100, step=1, label=locale.L("textgen.length"), scale=2,
                     elem_id="gen-length")
        # precision None: a fraction reaches the check, which refuses it with a notice (Gradio would round it unseen)
        random_seed = gr.Number(value=0, precision=None, label=locale.L("textgen.random_seed"), scale=1)
    with gr.Row():
        temperature = slider(0, 2, value=0.8, step=0.05, label=locale.L("textgen.temperature"), scale=2)
        top_k = slider(0, 100, value=20, step=1, label=locale.L("textgen.top_k"), scale=2)
        top_p = slider(0.05, 1, value=1.0, step=0.05, label=locale.L("textgen.top_p"), scale=2)
        beams = slider(1, textgen.MAX_BEAMS, value=1, step=1, scale=2, label=locale.L("textgen.beams"),
                    elem_id="gen-beams")
    generate = gr.Button(locale.L("textgen.generate"), variant="primary", elem_id="gen-button")
    message = gr.Markdown(elem_id="gen-notice")
    with gr.Row(equal_height=True):
        columns = [gr.Textbox(label=plots.label(n), lines=6, interactive=False, buttons=["copy"], elem_id=f"gen-{n}",
                              elem_classes=["generated"]) for n in names]    # read-only: the copy button takes the text
    next_plot = locale.per_language(figure_box(next_view(bank, seed.value), show_label=False, elem_classes=WIDE,
                                               download="next-character"),
                                    lambda lang: next_view(bank, "早餐", lang))
    write_all = locale.bound(write, writer)
    seed.change(locale.bound(next_for, bank), seed, next_plot, api_visibility="private", trigger_mode="always_last",
                show_progress="hidden")
    settings = [seed, length, temperature, top_k, random_seed, top_p, beams]
    for event in (generate.click, seed.submit):
        event(write_all, settings, [message, *columns, next_plot], api_visibility="private", **GENERATION)
    memory_views.textgen_memory(bank, seed, columns)
    gates_view.textgen_cells(bank)

    gr.Markdown(locale.L("textgen.compare"))
    table = precision.load_table(bank.folder.parent)
    rows = lambda lang: [[plots.label(n), m["validation"]["bpc"], i18n.t(f"precision.plans.{bank.plans[n]}", lang),
                          precision.served_metric(table, "hotel", n, bank.plans[n], m["validation"]["bpc"]),
                          m["validation"]["perplexity"], f"{m['parameters']:,}",
                          f"{m['textbook_parameters']:,}", round(m["train_seconds"])] for n, m in bank.meta.items()]
    comparison("hotel", bank.meta, bank.errors, [], None, ["loss", "bpc"], rows=rows, header=table_header)
    bench = read_bench(bank.folder.parent)
    if textgen.summary(bank.meta, bench):
        gr.Markdown(locale.composed(lambda lang: textgen.summary(bank.meta, bench, lang)), elem_id="gen-summary")
    gr.Markdown(locale.L("textgen.parameter_note"))


TABLE = ("model", "bpc", "served", "served_bpc", "perplexity", "parameters", "textbook", "train_seconds")


def table_header(lang: str) -> list[str]:
    """The comparison table's columns."""
    return [i18n.t(f"textgen.table.{c}", lang) for c in TABLE]


def read_bench(root: Path) -> dict:
    """The measured generation speeds (bench.json in the checkpoints' folder `root`), or nothing."""
    try:
        return checkpoints.read_json(Path(root) / "bench.json")
    except checkpoints.CheckpointError:
        return {}
