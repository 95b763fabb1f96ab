"""The memory views of the three tabs: which inputs each model used for the answer on screen (input
influence by gradient norm, `seqcompare.influence`, computed live) and how far back each model looks
(the distance curves that `python -m seqcompare memory TASK --save` stores beside the checkpoints)."""

from __future__ import annotations

from functools import partial
from html import escape

import gradio as gr

from seqcompare import UserError, checkpoints, digits, influence, plots, reviews, tasks, textgen
from seqcompare.ui.common import CHECKPOINTS, notice

EXAMPLE_TEXT = "酒店位置很好，离地铁站很近。房间干净，早餐也不错，服务员态度热情，下次还会再来。"
HOW = {
    "hotel": "For each of a fixed sample of validation reviews, the model reads the review up to a character "
             "(as generation reads a seed) and predicts the next one",
    "imdb": "For each of a fixed sample of IMDb test reviews (100 tokens or longer), the model gives its answer "
            "after the last token",
    "mnist": "For each MNIST test digit, the model gives its answer after the last of the 28 rows",
}


# --- HTML: inputs shaded by their influence --------------------------------------------------------

def _rgb(color: str) -> str:
    color = color.lstrip("#")
    return ",".join(str(int(color[i:i + 2], 16)) for i in (0, 2, 4))


def shade(tokens: list[str], values: list[float], color: str, sep: str = "") -> str:
    """Each token on a background of the model's colour, as strong as its influence divided by the
    model's largest (the raw value and the distance back from the prediction on hover)."""
    top = max(values, default=0) or 1.0
    rgb, n = _rgb(color), len(tokens)
    return sep.join(
        f'<span title="{n - i} back · {v / top:.2f} of the largest · {v:.3g}" style="background:rgba({rgb},'
        f'{0.85 * v / top:.3f});border-radius:3px;padding:0 1px">{escape(t)}</span>'
        for i, (t, v) in enumerate(zip(tokens, values)))


def columns_html(blocks: list[tuple[str, str]], caption: str = "") -> str:
    """Model blocks side by side (title, body HTML), under an optional caption."""
    cells = "".join(f'<div style="min-width:0"><div style="font-weight:600;margin-bottom:4px">{title}</div>'
                    f'<div style="line-height:1.9;word-break:break-all">{body}</div></div>' for title, body in blocks)
    return (f'<div>{caption}<div style="display:grid;grid-template-columns:repeat({max(len(blocks), 1)},'
            f'minmax(0,1fr));gap:16px;margin-top:6px">{cells}</div></div>')


# --- Text generation ------------------------------------------------------------------------------

def text_memory_view(bank: textgen.TextModels, text: str, character=None) -> list:
    """Outputs of the Memory view: a notice, the inputs shaded per model (HTML) and the Transformer's
    attention per layer (a figure, or None). `character` counts from 1 (default: the last)."""
    try:
        result = influence.explain_text(bank, text, None if character is None else int(character) - 1)
    except UserError as exc:
        return [notice(str(exc)), "", None]
    inputs = influence.shown(result["inputs"])
    target = escape(result["target"])
    blocks, attention = [], None
    for name, a in result["models"].items():
        if "error" in a:
            blocks.append((plots.label(name), f"<i>{escape(a['error'])}</i>"))
            continue
        start = a.get("window_start", 0)
        body = shade(inputs[start:], a["influence"][start:], plots.COLORS.get(name, "#888888"))
        if start:
            body = f'<span style="color:#999" title="outside its window">…{start} earlier characters unseen… </span>' + body
        blocks.append((f"{plots.label(name)} · {a['ms']:.0f} ms",
                       body + f'<span style="outline:2px solid #333;border-radius:3px;padding:0 2px">{target}</span>'))
        if "attention" in a:
            attention = plots.attention_layers([w[start:] for w in a["attention"]], inputs[start:])
    caption = (f"Predicting <b>{target}</b> (character {result['position'] + 1} of {len(result['text'])}) from the "
               f"{len(inputs)} characters read before it (⏎: the start of the review). The darker a character, the "
               "more the model's log-probability of the framed one moves with it (the gradient norm, divided by "
               "each model's largest); hover for the raw value.")
    return [notice("; ".join(result["notices"])), columns_html(blocks, caption), attention]


def text_memory_for(bank: textgen.TextModels, text: str) -> list:
    """A new text: the character slider spans it (the last character chosen) and the view explains that."""
    try:
        cleaned, _ = influence.clean_text(text, bank.vocab)
        slider = gr.Slider(minimum=2, maximum=len(cleaned), value=len(cleaned))
    except UserError:
        slider = gr.skip()
    return [slider, *text_memory_view(bank, text)]


def take_text(source: str, seed: str, *texts: str):
    """The text the Memory view explains: the seed's or a model's (nothing to take before it has written)."""
    names = ["Seed", *(plots.label(n) for n in textgen.MODELS)]
    chosen = ([seed, *texts] + [""] * len(names))[names.index(source)] if source in names else ""
    return chosen if chosen and chosen.strip() else gr.skip()


def textgen_memory(bank: textgen.TextModels, seed: gr.Textbox, columns: list[gr.Textbox]) -> None:
    """The Memory section of the Text generation tab, wired to the seed and the models' columns."""
    gr.Markdown("## Memory: which earlier characters each model used\nPick a character; each model shows the "
                "characters before it, shaded by how strongly they move its prediction of that character.")
    first = text_memory_view(bank, EXAMPLE_TEXT)
    with gr.Row():
        source = gr.Radio(["Seed", *(plots.label(n) for n in textgen.MODELS)], value=plots.label("lstm"),
                          label="Take the text of (after generating)", scale=2)
        character = gr.Slider(2, len(EXAMPLE_TEXT), value=len(EXAMPLE_TEXT), step=1, scale=2,
                              label="Character to explain (its position in the text)", elem_id="memory-character")
    text = gr.Textbox(EXAMPLE_TEXT, label="Text (or type your own)", lines=2, max_lines=6, elem_id="memory-text")
    message = gr.Markdown(first[0], elem_id="memory-notice")
    shading = gr.HTML(first[1], elem_id="memory-shading", max_height=520)
    attention = gr.Plot(first[2], show_label=False)
    gr.on([source.change, seed.change, *(c.change for c in columns)], take_text, [source, seed, *columns], text,
          api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    text.change(partial(text_memory_for, bank), text, [character, message, shading, attention],
                api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    character.release(partial(text_memory_view, bank), [text, character], [message, shading, attention],
                      api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    distance_section("hotel")


# --- Reviews --------------------------------------------------------------------------------------

def review_memory_view(bank: reviews.ReviewModels, review: str) -> str:
    """Each model's words shaded by their influence on its final answer (HTML; empty for bad input, whose
    notice the tab already shows)."""
    try:
        result = influence.explain_review(bank, review)
    except UserError:
        return ""
    blocks = []
    for name, a in result["models"].items():
        if "error" in a:
            blocks.append((plots.label(name), f"<i>{escape(a['error'])}</i>"))
        else:
            blocks.append((f"{plots.label(name)} → {a['target']} · {a['ms']:.0f} ms",
                           shade(result["tokens"], a["influence"], plots.COLORS.get(name, "#888888"), " ")))
    return columns_html(blocks, "<b>Which words decided each answer</b> — the darker a word, the more the model's "
                                "log-probability of its own answer moves with it (gradient norm, ÷ each model's largest).")


def review_memory(bank: reviews.ReviewModels, text: gr.Textbox, submit: gr.Button) -> None:
    """The words-by-influence view, placed where it is called and updated with the review."""
    shading = gr.HTML(elem_id="review-influence", max_height=420)
    gr.on([submit.click, text.submit, text.change], partial(review_memory_view, bank), text, shading,
          api_visibility="private", trigger_mode="always_last", show_progress="hidden")


# --- Digits ---------------------------------------------------------------------------------------

def digit_memory_view(bank: digits.DigitModels, image):
    """Each recurrent model's influence per pixel row on its answer (a figure), or None for bad input."""
    try:
        result = influence.explain_digit(bank, image)
    except UserError:
        return None
    rows = {n: a["influence"] for n, a in result["models"].items() if "influence" in a}
    return plots.row_influence(rows) if rows else None


def digit_memory(bank: digits.DigitModels, canvas, upload, draw_btn, upload_btn) -> gr.Plot:
    """The rows-by-influence figure, placed where it is called, updated with the drawing or the upload."""
    plot = gr.Plot(show_label=False, elem_id="digit-rows")
    gr.Markdown("Rows shaded by their influence on each recurrent model's answer (÷ its largest). LeNet-5 "
                "sees the whole image at once: it has no rows to rank.")
    view = partial(digit_memory_view, bank)
    kwargs = dict(api_visibility="private", trigger_mode="always_last", show_progress="hidden")
    gr.on([draw_btn.click, canvas.change], view, canvas, plot, **kwargs)
    gr.on([upload_btn.click, upload.change], view, upload, plot, **kwargs)
    return plot


# --- How far back each model looks: the stored distance curves -----------------------------------

def memory_summary(memory: dict) -> str:
    """Each model's memory length, trained and untrained, in one sentence (Markdown)."""
    unit, parts = memory.get("unit", "steps"), []
    for name, m in memory["models"].items():
        u = memory.get("untrained", {}).get("models", {}).get(name)
        parts.append(f"{plots.label(name)} **{influence.length_text(m)}**" +
                     (f" (untrained {influence.length_text(u)})" if u else ""))
    return (f"**Memory length** — the first distance at which the curve falls below "
            f"{memory.get('threshold', influence.THRESHOLD):.0%}, in {unit}: " + ", ".join(parts) + ".")


def distance_view(task: str, folder=None) -> tuple[object, str]:
    """(figure or None, Markdown) for a task's stored distance curves."""
    try:
        memory = influence.load_memory(folder or CHECKPOINTS / task)
    except checkpoints.CheckpointError as exc:
        return None, notice(str(exc))
    if memory is None:
        return None, (f"_Not measured yet: `python -m seqcompare memory {task} --save` writes "
                      f"`checkpoints/{task}/{influence.MEMORY_FILE}`._")
    text = (f"{HOW[task]}; the influence of the input d {memory['unit']} back is divided by that of the last "
            f"input read, and the ratios are averaged over the {memory['targets']:,} targets. Solid: the shipped "
            "models; dotted: the same architectures at initialisation, before any training. " + memory_summary(memory))
    return plots.distance_curves(memory, f"How far back each model looks — {tasks.get(task).title}"), text


def distance_section(task: str) -> None:
    """A heading, the stored distance curves and the memory lengths of a task."""
    fig, text = distance_view(task)
    gr.Markdown("### How far back each model looks")
    if fig is not None:
        gr.Plot(fig, show_label=False)
    gr.Markdown(text)
