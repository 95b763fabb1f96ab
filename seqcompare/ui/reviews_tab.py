"""The Reviews tab: type a movie review; RNN, LSTM and GRU classify it as you type."""

from __future__ import annotations

from functools import partial

import gradio as gr

from seqcompare import UserError, plots, reviews
from seqcompare.ui import memory_views
from seqcompare.ui import gates_view
from seqcompare.ui.common import comparison, notice


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
    memory_views.review_memory(bank, text, submit)
    gates_view.review_gates(bank, text, submit)
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
    memory_views.distance_section("imdb")
