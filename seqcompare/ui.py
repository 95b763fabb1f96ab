"""The Gradio dashboard: thin callbacks over the package's task functions."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np

from seqcompare import UserError, digits, plots, reviews, sketches, textgen

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
EXAMPLES = Path(__file__).resolve().parent / "assets" / "digits"
INTRO = """# seqcompare
RNN, LSTM and GRU side by side — the same recipe for every cell, the same data, metrics recomputed from the
shipped checkpoints. Draw a digit, type a movie review, or let the models write a hotel review."""


def notice(text: str) -> str:
    return f"⚠️ **{text}**" if text else ""


def model_table(meta: dict[str, dict], columns: list[str]) -> list[list]:
    """One row per model: test metrics, parameters and training time from its checkpoint."""
    rows = []
    for name, m in meta.items():
        test = m.get("test", {})
        rows.append([plots.label(name)] + [round(test.get(c, float("nan")), 4) for c in columns]
                    + [f"{m.get('parameters', 0):,}", round(m.get("train_seconds", 0))])
    return rows


# --- Digits ----------------------------------------------------------------------------------

def example_paths() -> list[str]:
    """The clickable example drawings, rendered once from the project's own strokes."""
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in range(10):
        path = EXAMPLES / f"{d}.png"
        if not path.exists():
            sketches.render(d, mode="RGB").save(path)
        paths.append(str(path))
    return paths


def digit_view(bank: digits.DigitModels, image) -> list:
    """Outputs of the Digits tab: what the models see, a notice, one Label per model, two figures."""
    names = list(digits.MODELS)
    try:
        result = bank.predict(image)
    except UserError as exc:
        return [None, notice(str(exc)), *([None] * len(names)), None, None]
    seen = (result["digit"].numpy() * 255).astype(np.uint8)
    out = [seen.repeat(6, 0).repeat(6, 1), ""]               # 28×28 shown at 168×168, pixels kept sharp
    for n in names:
        a = result["models"][n]
        if "error" in a:
            out.append(gr.Label(value=None, label=f"{plots.label(n)} — {a['error']}"))
        else:
            out.append(gr.Label(value={str(d): p for d, p in enumerate(a["probabilities"])},
                                label=f"{plots.label(n)} · {a['ms']:.1f} ms"))
    ok = {n: a for n, a in result["models"].items() if "error" not in a}
    out.append(plots.row_beliefs({n: a["rows"] for n, a in ok.items() if "rows" in a}))
    out.append(plots.class_probabilities({n: a["probabilities"] for n, a in ok.items()},
                                         [str(d) for d in range(10)]))
    return out


def digits_tab(bank: digits.DigitModels) -> None:
    names = list(digits.MODELS)
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab("Draw"):
                    canvas = gr.Sketchpad(label="Draw a digit (0–9) with the mouse", type="numpy",
                                          canvas_size=(560, 560), brush=gr.Brush(colors=["#000000"], color_mode="fixed",
                                                                                 default_size=22),
                                          layers=False, elem_id="digit-canvas")
                    draw_btn = gr.Button("Classify drawing", variant="primary")
                with gr.Tab("Upload or pick an example"):
                    # a File, not an Image: gr.Image opens uploads itself and fails on a non-image with a
                    # bare "Error"; the path goes to digits.to_mnist, which names what is wrong
                    upload = gr.File(label="A picture of a digit (PNG, JPEG, …)", type="filepath",
                                     file_types=["image"], height=140, elem_id="digit-upload")
                    gr.Examples(example_paths(), inputs=upload, label="Example drawings")
                    upload_btn = gr.Button("Classify picture", variant="primary")
        with gr.Column(scale=2):
            seen = gr.Image(label="What the models see (28×28, MNIST convention)", height=200,
                            interactive=False, show_label=True)
            message = gr.Markdown(elem_id="digit-notice")
    with gr.Row(equal_height=True):
        answers = [gr.Label(label=plots.label(n), num_top_classes=3, elem_id=f"digit-{n}") for n in names]
    beliefs = gr.Plot(label="Belief row by row")
    probs = gr.Plot(label="Probabilities")

    classify = partial(digit_view, bank)
    outputs = [seen, message, *answers, beliefs, probs]
    draw_btn.click(classify, canvas, outputs, api_visibility="private")
    canvas.change(classify, canvas, outputs, api_visibility="private", trigger_mode="always_last",
                  show_progress="hidden")
    upload_btn.click(classify, upload, outputs, api_visibility="private")
    upload.change(classify, upload, outputs, api_visibility="private", show_progress="hidden")

    gr.Markdown("## How they compare on the 10,000 MNIST test digits")
    comparison(bank.meta, bank.errors, ["accuracy", "precision", "recall", "f1"], [str(d) for d in range(10)],
               ["loss", "accuracy"])


# --- Reviews ---------------------------------------------------------------------------------

REVIEW_EXAMPLES = [
    "A quiet, beautifully acted film. I was moved to tears.",
    "Two hours of my life I will never get back.",
    "The first hour is gripping, the cast is superb and the score is lovely, but the ending ruined it: "
    "a lazy twist that undoes everything the story had built.",
    "I expected to hate this remake. I was wrong. It is funny, warm and smarter than the original, "
    "and the lead gives the performance of her career. Go and see it.",
    "Not bad.",
    "The plot makes no sense, the dialogue is wooden and the special effects look cheap. Even the usually "
    "reliable supporting cast seems bored. Avoid.",
]


def review_view(bank: reviews.ReviewModels, review: str) -> list:
    """Outputs of the Reviews tab: a notice, one Label per model, the word-by-word trace."""
    names = list(reviews.MODELS)
    try:
        result = bank.predict(review)
    except UserError as exc:
        return [notice(str(exc)), *([None] * len(names)), None]
    out = [notice("; ".join(result["notices"]))]
    for n in names:
        a = result["models"].get(n, {"error": "unavailable"})
        if "error" in a:
            out.append(gr.Label(value=None, label=f"{plots.label(n)} — {a['error']}"))
        else:
            out.append(gr.Label(value={"positive": a["positive"], "negative": 1 - a["positive"]},
                                label=f"{plots.label(n)} · {a['ms']:.1f} ms"))
    traces = {n: a["trace"] for n, a in result["models"].items() if "trace" in a}
    out.append(plots.prefix_trace(traces, result["tokens"], "P(positive) after each word") if traces else None)
    return out


def reviews_tab(bank: reviews.ReviewModels) -> None:
    names = list(reviews.MODELS)
    text = gr.Textbox(label="Type or paste a movie review", lines=5, max_lines=12,
                      placeholder="e.g. The acting was wonderful but the plot dragged.", elem_id="review-text")
    with gr.Row():
        submit = gr.Button("Classify", variant="primary")
        gr.ClearButton(text)
    message = gr.Markdown(elem_id="review-notice")
    with gr.Row(equal_height=True):
        answers = [gr.Label(label=plots.label(n), elem_id=f"review-{n}") for n in names]
    trace = gr.Plot(label="Word by word", show_label=False)
    gr.Examples(REVIEW_EXAMPLES, inputs=text, label="Example reviews (written for this project)")

    classify = partial(review_view, bank)

    outputs = [message, *answers, trace]
    submit.click(classify, text, outputs, api_visibility="private")
    text.submit(classify, text, outputs, api_visibility="private")
    text.change(classify, text, outputs, api_visibility="private", trigger_mode="always_last",
                show_progress="hidden")

    gr.Markdown("## How they compare on the 25,000 IMDb test reviews")
    comparison(bank.meta, bank.errors, ["accuracy", "precision", "recall", "f1"],
               ["negative", "positive"], ["loss", "accuracy", "precision", "recall", "f1"])
    short = bank.short_accuracy()
    if short:
        gr.Markdown("**Short typed reviews** — accuracy on 40 one-sentence reviews written for the project "
                    "(never trained on), measured as the app starts: "
                    + ", ".join(f"{plots.label(n)} {a:.2f}" for n, a in short.items()) + ".")


def comparison(meta: dict, errors: dict, columns: list[str], classes: list[str] | None, curves: list[str],
               table: list[list] | None = None, headers: list[str] | None = None) -> None:
    """The comparison block every tab ends with: a table, confusion matrices, training curves."""
    if errors:
        gr.Markdown(notice("Unavailable: " + "; ".join(f"{plots.label(n)} ({r})" for n, r in errors.items())))
    gr.Dataframe(table if table is not None else model_table(meta, columns),
                 headers=headers or ["model", *columns, "parameters", "train seconds"], interactive=False,
                 show_label=False)
    if classes:
        with gr.Row():
            for name, m in meta.items():
                gr.Plot(plots.confusion_matrix(m["test"]["confusion_matrix"], classes, plots.label(name)),
                        show_label=False)
    if meta:
        gr.Plot(plots.curves({n: m["history"] for n, m in meta.items()}, curves), show_label=False)


# --- Text generation ---------------------------------------------------------------------------

PARAMETER_NOTE = """**Why two parameter counts?** The tutorials count an LSTM layer as 4 × (h·x + h·h + h): one bias
vector per gate. PyTorch (like cuDNN) keeps two, `bias_ih` and `bias_hh`, so its layers hold 4 × (h·x + h·h + 2h) —
an extra h per gate that changes nothing the layer can express. The same goes for RNN (×1) and GRU (×3; there the
second bias sits inside the reset gate’s product, so it is not even redundant). Both counts in the table above include the
embedding and the decoder."""


def text_view(bank: textgen.TextModels, seed, length, temperature, top_k, random_seed) -> list:
    """Outputs of the Text generation tab: a notice, one text box per model, the next-character figure."""
    names = list(textgen.MODELS)
    try:
        result = bank.generate(seed, length, temperature, top_k, random_seed)
    except UserError as exc:
        return [notice(str(exc)), *([None] * len(names)), None]
    out = [notice("; ".join(result["notices"]))]
    for name in names:
        a = result["models"].get(name, {"error": "unavailable"})
        out.append(gr.Textbox(value=a.get("text", ""), label=f"{plots.label(name)} — {a['error']}" if "error" in a
                              else f"{plots.label(name)} · {a['ms']:.0f} ms · {a['characters']} characters"))
    out.append(next_view(bank, result["seed"]))
    return out


def next_view(bank: textgen.TextModels, seed: str):
    """Each model's ten likeliest next characters after the seed, or nothing without models."""
    return plots.top_next(bank.next_chars(seed or "")) if bank.models else None


def textgen_tab(bank: textgen.TextModels) -> None:
    names = list(textgen.MODELS)
    with gr.Row():
        seed = gr.Textbox(label="Seed", value="早餐", max_lines=2, scale=3, elem_id="gen-seed")
        length = gr.Slider(1, textgen.MAX_LENGTH, value=100, step=1, label="Length (characters)", scale=2)
        temperature = gr.Slider(0, 2, value=0.8, step=0.05, label="Temperature (0 = greedy)", scale=2)
        top_k = gr.Slider(0, 100, value=20, step=1, label="Top-k (0 = all)", scale=2)
        random_seed = gr.Number(value=0, precision=0, label="Random seed", scale=1)
    generate = gr.Button("Generate", variant="primary", elem_id="gen-button")
    message = gr.Markdown(elem_id="gen-notice")
    with gr.Row(equal_height=True):
        columns = [gr.Textbox(label=plots.label(n), lines=6, interactive=False, elem_id=f"gen-{n}") for n in names]
    next_plot = gr.Plot(next_view(bank, seed.value), show_label=False)

    write = partial(text_view, bank)
    seed.change(partial(next_view, bank), seed, next_plot, api_visibility="private", trigger_mode="always_last",
                show_progress="hidden")

    generate.click(write, [seed, length, temperature, top_k, random_seed], [message, *columns, next_plot],
                   api_visibility="private")
    seed.submit(write, [seed, length, temperature, top_k, random_seed], [message, *columns, next_plot],
                api_visibility="private")

    gr.Markdown("## How they compare on the validation reviews")
    rows = [[plots.label(n), m["validation"]["bpc"], m["validation"]["perplexity"], f"{m['parameters']:,}",
             f"{m['textbook_parameters']:,}", round(m["train_seconds"])] for n, m in bank.meta.items()]
    comparison(bank.meta, bank.errors, [], None, ["loss", "bpc"], table=rows,
               headers=["model", "bits per char", "perplexity", "parameters (PyTorch)", "parameters (textbook)",
                        "train seconds"])
    gr.Markdown(PARAMETER_NOTE)


# --- JSON endpoints for gradio_client --------------------------------------------------------

def as_json(fn):
    """An API callback: the answer as JSON, or {"error": message} for input the models cannot use."""
    def call(*args):
        try:
            return fn(*args)
        except UserError as exc:
            return {"error": str(exc)}
    return call


def api_predict_digit(bank: digits.DigitModels, image) -> dict:
    """Every model's digit, confidence, probabilities and ms for one image file."""
    answers = bank.predict(image)["models"]
    return {"models": {n: {k: v for k, v in a.items() if k != "rows"} for n, a in answers.items()}}


def api_classify_review(bank: reviews.ReviewModels, text: str) -> dict:
    """Every model's label, P(positive) and ms for one review."""
    result = bank.predict(text, trace=False)
    return {"notices": result["notices"], "models": result["models"]}


def api_endpoints(digit_bank, review_bank, text_bank) -> None:
    """Named endpoints (predict_digit, classify_review, generate_text) on hidden components."""
    with gr.Row(visible=False):
        image = gr.File(type="filepath", label="image")
        review = gr.Textbox(label="text")
        seed = gr.Textbox(label="seed", value="早餐")
        length = gr.Number(label="length", value=100, precision=0)
        temperature = gr.Number(label="temperature", value=0.8)
        top_k = gr.Number(label="top_k", value=20, precision=0)
        random_seed = gr.Number(label="random_seed", value=0, precision=0)
        result = gr.JSON(label="result")
        go = [gr.Button(f"api {i}") for i in range(3)]
    go[0].click(as_json(partial(api_predict_digit, digit_bank)), image, result, api_name="predict_digit")
    go[1].click(as_json(partial(api_classify_review, review_bank)), review, result, api_name="classify_review")
    go[2].click(as_json(text_bank.generate), [seed, length, temperature, top_k, random_seed], result,
                api_name="generate_text")


# Gradio's Sketchpad starts with no tool selected ("select the draw tool to start"): pick the brush
# for the user as soon as the canvas is on screen, so that drawing works at once.
ARM_BRUSH = """() => {
  const arm = () => document.querySelectorAll('#digit-canvas').forEach((el) => {
    const brush = el.querySelector('button[aria-label="Brush"]');
    if (brush && !el.dataset.armed && el.offsetParent !== null) { brush.click(); el.dataset.armed = '1'; }
  });
  setInterval(arm, 400);
}"""


def build(checkpoints: Path = CHECKPOINTS) -> gr.Blocks:
    """The whole dashboard; checkpoints are loaded here, once."""
    digit_bank = digits.DigitModels(checkpoints / "mnist")
    review_bank = reviews.ReviewModels(checkpoints / "imdb")
    text_bank = textgen.TextModels(checkpoints / "hotel")
    with gr.Blocks(title="seqcompare — RNN vs LSTM vs GRU") as demo:
        gr.Markdown(INTRO)
        with gr.Tabs(selected="digits"):
            with gr.Tab("Text generation", id="textgen"):
                textgen_tab(text_bank)
            with gr.Tab("Digits", id="digits"):
                digits_tab(digit_bank)
            with gr.Tab("Reviews", id="reviews"):
                reviews_tab(review_bank)
        api_endpoints(digit_bank, review_bank, text_bank)
        demo.load(None, js=ARM_BRUSH)
    return demo
