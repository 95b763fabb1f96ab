"""The Reviews tab: type a movie review; RNN, LSTM and GRU classify it as you type."""

from __future__ import annotations


import gradio as gr

from seqcompare import UserError, i18n, plots, reviews
from seqcompare.ui import gates_view, locale, memory_views
from seqcompare.ui.common import WIDE, comparison, figure_box, joined, no_answers, notice, word


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


def review_view(bank: reviews.ReviewModels, review: str, request: gr.Request = None) -> list:
    """Outputs of the Reviews tab: a notice, one Label per model, the word-by-word trace."""
    names, lang = list(reviews.MODELS), locale.of(request)
    try:
        result = bank.predict(review)
    except UserError as exc:
        return [notice(exc.render(lang)), *no_answers(names), None]
    out = [notice(joined((locale.say(n, lang) for n in result["notices"]), lang))]
    for n in names:
        a = result["models"].get(n, {"error": i18n.said("app.unavailable_model")})
        if "error" in a:
            out.append(gr.Label(value=None, label=f"{plots.label(n)} — {locale.say(a['error'], lang)}"))
        else:
            out.append(gr.Label(value={word("positive", lang): a["positive"], word("negative", lang): 1 - a["positive"]},
                                label=i18n.t("app.timed", lang, what=plots.label(n), ms=f"{a['ms']:.1f}")))
    traces = {n: a["trace"] for n, a in result["models"].items() if "trace" in a}
    out.append(plots.prefix_trace(traces, result["tokens"], lang) if traces else None)
    return out


def review_changed(bank: reviews.ReviewModels, review: str, request: gr.Request = None) -> list:
    """The box as it changes: classified as it is typed; emptied (cleared), the answers emptied without a notice
    (Classify on an empty box still asks for a review)."""
    if not (review or "").strip():
        return ["", *no_answers(list(reviews.MODELS)), None]
    return review_view(bank, review, request)


def short_line(short: dict[str, float], lang: str) -> str:
    """The line under the comparison: each model's accuracy on the short typed reviews, listed in `lang`."""
    scores = i18n.listed((f"{plots.label(n)} {a:.2f}" for n, a in short.items()), lang)
    return i18n.t("reviews.short", lang, scores=scores)


def reviews_tab(bank: reviews.ReviewModels) -> None:
    names = list(reviews.MODELS)
    gr.Markdown(locale.L("reviews.english_data"), elem_id="review-language-note")
    text = gr.Textbox(label=locale.L("reviews.text"), lines=5, max_lines=12,
                      placeholder=locale.L("reviews.placeholder"), elem_id="review-text")
    with gr.Row():
        submit = gr.Button(locale.L("reviews.classify"), variant="primary", elem_id="review-classify")
        gr.ClearButton(text, value=locale.L("reviews.clear"))
    gr.Examples(REVIEW_EXAMPLES, inputs=text, label=locale.L("reviews.examples"))   # beside the box they fill
    message = gr.Markdown(elem_id="review-notice")
    with gr.Row(equal_height=True):
        answers = [gr.Label(label=plots.label(n), elem_id=f"review-{n}") for n in names]
    trace = figure_box(label=locale.L("reviews.trace"), show_label=False, elem_classes=WIDE, download="review-trace")
    memory_views.review_memory(bank, text, submit)
    gates_view.review_gates(bank, text, submit)

    classify = locale.bound(review_view, bank)

    outputs = [message, *answers, trace]
    submit.click(classify, text, outputs, api_visibility="private")
    text.submit(classify, text, outputs, api_visibility="private")
    text.change(locale.bound(review_changed, bank), text, outputs, api_visibility="private",
                trigger_mode="always_last", show_progress="hidden")

    gr.Markdown(locale.L("reviews.compare"))
    comparison("imdb", bank.meta, bank.errors, ["accuracy", "precision", "recall", "f1"],
               ["negative", "positive"], ["loss", "accuracy", "precision", "recall", "f1"])
    short = bank.short_accuracy()
    if short:
        gr.Markdown(locale.composed(lambda lang: short_line(short, lang)))
    memory_views.distance_section("imdb", bank.folder)
