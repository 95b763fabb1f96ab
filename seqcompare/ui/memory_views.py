"""The memory views of the three tabs: which inputs each model used for the answer on screen (input
influence by gradient norm, `seqcompare.influence`, computed live) and how far back each model looks
(the distance curves that `python -m seqcompare memory TASK --save` stores beside the checkpoints)."""

from __future__ import annotations

from html import escape
from pathlib import Path

import gradio as gr

from seqcompare import UserError, digits, i18n, influence, plots, reviews, textgen
from seqcompare.ui import locale
from seqcompare.ui.common import CHECKPOINTS, UNSHOWABLE, WIDE, figure_box, joined, notice, slider, uploaded

EXAMPLE_TEXT = "酒店位置很好，离地铁站很近。房间干净，早餐也不错，服务员态度热情，下次还会再来。"


# --- HTML: inputs shaded by their influence --------------------------------------------------------

def _rgb(color: str) -> str:
    color = color.lstrip("#")
    return ",".join(str(int(color[i:i + 2], 16)) for i in (0, 2, 4))


def shade(tokens: list[str], values: list[float], color: str, sep: str = "", lang: str = "en") -> str:
    """Each token on a background of the model's colour, as strong as its influence divided by the
    model's largest (the raw value and the distance back from the prediction on hover)."""
    top = max(values, default=0) or 1.0
    rgb, n = _rgb(color), len(tokens)
    hover = i18n.t("memory.hover", lang)
    return sep.join(
        f'<span title="{hover.format(back=n - i, share=f"{v / top:.2f}", raw=f"{v:.3g}")}" style="background:rgba({rgb},'
        f'{0.85 * v / top:.3f});border-radius:3px;padding:0 1px">{escape(t)}</span>'
        for i, (t, v) in enumerate(zip(tokens, values)))


def columns_html(blocks: list[tuple[str, str]], caption: str = "") -> str:
    """Model blocks side by side (title, body HTML), under an optional caption: as many columns as fit 150 px
    each (two on a phone); words wrap between words, and within one only when it is wider than its column."""
    cells = "".join(f'<div style="min-width:0"><div style="font-weight:600;margin-bottom:4px">{title}</div>'
                    f'<div style="line-height:1.9;overflow-wrap:anywhere">{body}</div></div>' for title, body in blocks)
    return (f'<div>{caption}<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(min(150px,100%),'
            f'1fr));gap:16px;margin-top:6px">{cells}</div></div>')


# --- Text generation ------------------------------------------------------------------------------

def text_memory_view(bank: textgen.TextModels, text: str, character=None, lang: str = "en") -> list:
    """Outputs of the Memory view: a notice, the inputs shaded per model (HTML) and the Transformer's
    attention per layer (a figure, or None). `character` counts from 1 (default: the last)."""
    try:
        result = influence.explain_text(bank, text, None if character is None else int(character) - 1)
    except UserError as exc:
        return [notice(exc.render(lang)), "", None]
    inputs = influence.shown(result["inputs"])
    target = escape(result["target"])
    blocks, attention = [], None
    for name, a in result["models"].items():
        if "error" in a:
            blocks.append((plots.label(name), f"<i>{escape(locale.say(a['error'], lang))}</i>"))
            continue
        start = a.get("window_start", 0)
        body = shade(inputs[start:], a["influence"][start:], plots.COLORS.get(name, "#888888"), lang=lang)
        if start:
            body = f'<span style="color:#999">{i18n.t("memory.unseen", lang, n=start)} </span>' + body
        blocks.append((i18n.t("app.timed", lang, what=plots.label(name), ms=f"{a['ms']:.0f}"),
                       body + f'<span style="outline:2px solid #333;border-radius:3px;padding:0 2px">{target}</span>'))
        if "attention" in a:
            attention = plots.attention_layers([w[start:] for w in a["attention"]], inputs[start:], lang)
    caption = i18n.t("memory.text_caption", lang, target=f"<b>{target}</b>", position=result["position"] + 1,
                     length=len(result["text"]), n=len(inputs))
    return [notice(joined((locale.say(n, lang) for n in result["notices"]), lang)), columns_html(blocks, caption), attention]


def text_memory_for(bank: textgen.TextModels, text: str, request: gr.Request = None) -> list:
    """A new text: the character slider spans it (the last character chosen) and the view explains that. A text
    of two characters has one to explain, its second: the slider shows it, fixed (a range needs two ends)."""
    try:
        cleaned, _ = textgen.read_text(text, bank.vocab, predicted=True)
        n = len(cleaned)
        slider = gr.Slider(minimum=min(2, n - 1), maximum=n, value=n, interactive=n > 2)   # an update
    except UserError:
        slider = gr.skip()
    return [slider, *text_memory_view(bank, text, lang=locale.of(request))]


def text_memory_at(bank: textgen.TextModels, text: str, character, request: gr.Request = None) -> list:
    return text_memory_view(bank, text, character, locale.of(request))


def take_text(source: str, seed: str, *texts: str):
    """The text the Memory view explains: the seed's or a model's (nothing to take before it has written)."""
    names = ["Seed", *(plots.label(n) for n in textgen.MODELS)]
    chosen = ([seed, *texts] + [""] * len(names))[names.index(source)] if source in names else ""
    return chosen if chosen and chosen.strip() else gr.skip()


def sources(lang: str) -> list[tuple[str, str]]:
    """The Memory view's choices: the seed or a model's text (values stay "Seed", "RNN", …)."""
    return [(i18n.t("memory.seed", lang), "Seed"), *((plots.label(n),) * 2 for n in textgen.MODELS)]


def textgen_memory(bank: textgen.TextModels, seed: gr.Textbox, columns: list[gr.Textbox]) -> None:
    """The Memory section of the Text generation tab, wired to the seed and the models' columns."""
    gr.Markdown(locale.L("memory.text_intro"))
    first = text_memory_view(bank, EXAMPLE_TEXT)
    with gr.Row():
        source = locale.per_language(gr.Radio(sources("en"), value=plots.label("lstm"),
                                              label=locale.L("memory.take"), scale=2),
                                     lambda lang: gr.Radio(choices=sources(lang)))
        character = slider(2, len(EXAMPLE_TEXT), value=len(EXAMPLE_TEXT), step=1, scale=2,
                           label=locale.L("memory.character"), elem_id="memory-character")
    text = gr.Textbox(EXAMPLE_TEXT, label=locale.L("memory.text"), lines=2, max_lines=6, elem_id="memory-text")
    message = gr.Markdown(first[0], elem_id="memory-notice")
    shading = locale.per_language(gr.HTML(first[1], elem_id="memory-shading", max_height=520),
                                  lambda lang: text_memory_view(bank, EXAMPLE_TEXT, lang=lang)[1])
    attention = locale.per_language(figure_box(first[2], show_label=False, elem_classes=WIDE, download="attention"),
                                    lambda lang: text_memory_view(bank, EXAMPLE_TEXT, lang=lang)[2])
    gr.on([source.change, seed.change, *(c.change for c in columns)], take_text, [source, seed, *columns], text,
          api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    text.change(locale.bound(text_memory_for, bank), text, [character, message, shading, attention],
                api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    character.release(locale.bound(text_memory_at, bank), [text, character], [message, shading, attention],
                      api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    distance_section("hotel", bank.folder)


# --- Reviews --------------------------------------------------------------------------------------

def review_memory_view(bank: reviews.ReviewModels, review: str, request: gr.Request = None) -> str:
    """Each model's words shaded by their influence on its final answer (HTML; empty for bad input, whose
    notice the tab already shows)."""
    lang = locale.of(request)
    try:
        result = influence.explain_review(bank, review)
    except UserError:
        return ""
    blocks = []
    for name, a in result["models"].items():
        if "error" in a:
            blocks.append((plots.label(name), f"<i>{escape(locale.say(a['error'], lang))}</i>"))
        else:
            target = i18n.t(f"app.classes.{a['target']}", lang) if i18n.has(f"app.classes.{a['target']}") else a["target"]
            blocks.append((i18n.t("app.timed", lang, what=f"{plots.label(name)} → {target}", ms=f"{a['ms']:.0f}"),
                           shade(result["tokens"], a["influence"], plots.COLORS.get(name, "#888888"), " ", lang)))
    return columns_html(blocks, i18n.t("memory.review_caption", lang))


def review_memory(bank: reviews.ReviewModels, text: gr.Textbox, submit: gr.Button) -> None:
    """The words-by-influence view, placed where it is called and updated with the review."""
    shading = gr.HTML(elem_id="review-influence", max_height=420)
    gr.on([submit.click, text.submit, text.change], locale.bound(review_memory_view, bank), text, shading,
          api_visibility="private", trigger_mode="always_last", show_progress="hidden")


# --- Digits ---------------------------------------------------------------------------------------

def digit_memory_view(bank: digits.DigitModels, image, request: gr.Request = None):
    """Each recurrent model's influence per pixel row on its answer (a figure), or None for bad input."""
    try:
        result = influence.explain_digit(bank, uploaded(image))
    except UserError:
        return None
    rows = {n: a["influence"] for n, a in result["models"].items() if "influence" in a}
    return plots.row_influence(rows, locale.of(request)) if rows else None


def digit_memory(bank: digits.DigitModels, canvas, upload, draw_btn, upload_btn) -> gr.Plot:
    """The rows-by-influence figure, placed where it is called, updated with the drawing or the upload."""
    plot = figure_box(show_label=False, elem_id="digit-rows", download="digit-rows")
    gr.Markdown(locale.L("memory.rows_note"))
    view = locale.bound(digit_memory_view, bank)
    kwargs = dict(api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    gr.on([draw_btn.click, canvas.change], view, canvas, plot, **kwargs)
    gr.on([upload_btn.click, upload.change], view, upload, plot, **kwargs)
    return plot


# --- How far back each model looks: the stored distance curves -----------------------------------

def memory_summary(memory: dict, lang: str = "en") -> str:
    """Each model's memory length, trained and untrained, in one sentence (Markdown)."""
    unit, parts = i18n.t(f"plots.units.{memory.get('unit', 'steps')}", lang), []
    for name, m in memory["models"].items():
        u = memory.get("untrained", {}).get("models", {}).get(name)
        parts.append(f"{plots.label(name)} **{influence.length_text(m)}**" +
                     (i18n.t("memory.untrained", lang, length=influence.length_text(u)) if u else ""))
    return i18n.t("memory.summary", lang, threshold=f"{memory.get('threshold', influence.THRESHOLD):.0%}", unit=unit,
                  lengths=i18n.listed(parts, lang))


def distance_view(task: str, folder=None, lang: str = "en", figure: bool = True) -> tuple[object, str]:
    """(figure or None, Markdown) for a task's stored distance curves in `folder` (the task's checkpoints by
    default; the figure None without `figure`: the text alone, for which no figure is worth building)."""
    folder = Path(folder or CHECKPOINTS / task)
    try:
        memory = influence.load_memory(folder)
        if memory is None:
            return None, i18n.t("memory.not_measured", lang, task=task, file=influence.MEMORY_FILE)
        text = i18n.t("memory.distance_text", lang, how=i18n.t(f"memory.how.{task}", lang),
                      unit=i18n.t(f"plots.units.{memory['unit']}", lang), targets=f"{memory['targets']:,}",
                      summary=memory_summary(memory, lang))
        title = i18n.t("memory.distance_title", lang, task=i18n.t(f"memory.tasks.{task}", lang))
        return (plots.distance_curves(memory, title, lang) if figure else None), text
    except UNSHOWABLE as exc:
        return None, i18n.t("notices.broken", lang, file=folder / influence.MEMORY_FILE,   # unreadable, or valid
                            error=f"{type(exc).__name__}: {exc}")                         # JSON of another shape


def distance_section(task: str, folder: Path) -> None:
    """A heading, the stored distance curves and the memory lengths of a task (its checkpoints in `folder`)."""
    fig, _ = distance_view(task, folder)
    gr.Markdown(locale.L("memory.distance_heading"))
    if fig is not None:
        locale.per_language(figure_box(fig, show_label=False, elem_classes=WIDE, download=f"{task}-memory-distance"),
                            lambda lang: distance_view(task, folder, lang)[0])
    gr.Markdown(locale.composed(lambda lang: distance_view(task, folder, lang, figure=False)[1]))
