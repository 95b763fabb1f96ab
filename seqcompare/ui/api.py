"""Named JSON endpoints for gradio_client, through the same functions as the tabs."""

from __future__ import annotations

from functools import partial

import gradio as gr

from seqcompare import UserError, digits, live, reviews, textgen
from seqcompare.ui.common import GENERATION, as_json
from seqcompare.ui.train_tab import CONCURRENCY_ID


def api_predict_digit(bank: digits.DigitModels, image) -> dict:
    """Every model's digit, confidence, probabilities and ms for one image file."""
    answers = bank.predict(image)["models"]
    return {"models": {n: {k: v for k, v in a.items() if k != "rows"} for n, a in answers.items()}}


def api_classify_review(bank: reviews.ReviewModels, text: str) -> dict:
    """Every model's label, P(positive) and ms for one review."""
    result = bank.predict(text, trace=False)
    return {"notices": result["notices"], "models": result["models"]}


def api_generate_text(bank: textgen.TextModels, *settings: list) -> list[list[dict]]:
    """generate_text for a batch of concurrent requests (a list per argument, one list of answers): each
    model's text, ms and characters, or {"error": message} for a request whose settings cannot be used."""
    answers = bank.generate_many(list(zip(*settings)))
    return [[{"error": str(a)} if isinstance(a, UserError) else a for a in answers]]


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
        top_p = gr.Number(label="top_p", value=1.0)
        beams = gr.Number(label="beams", value=1, precision=0)
        result = gr.JSON(label="result")
        train_args = [gr.Textbox(label="task", value="digits"), gr.Textbox(label="models", value="rnn,lstm,gru"),
                      gr.Number(label="hidden_size", value=live.DEFAULTS["hidden"]),
                      gr.Number(label="layers", value=live.DEFAULTS["layers"]),
                      gr.Number(label="dropout", value=live.DEFAULTS["dropout"]),
                      gr.Number(label="learning_rate", value=live.DEFAULTS["lr"]),
                      gr.Number(label="epochs", value=live.DEFAULTS["epochs"]),
                      gr.Number(label="time_budget_seconds", value=live.DEFAULTS["seconds"]),
                      gr.Textbox(label="text", value=""), gr.Number(label="images", value=live.DEFAULTS["images"])]
        progress = gr.JSON(label="updates")
        go = [gr.Button(f"api {i}") for i in range(4)]
    go[0].click(as_json(partial(api_predict_digit, digit_bank)), image, result, api_name="predict_digit")
    go[1].click(as_json(partial(api_classify_review, review_bank)), review, result, api_name="classify_review")
    go[2].click(partial(api_generate_text, text_bank), [seed, length, temperature, top_k, random_seed, top_p, beams],
                result, api_name="generate_text", **GENERATION)
    go[3].click(api_train_models, train_args, progress, api_name="train_models", concurrency_limit=1,
                concurrency_id=CONCURRENCY_ID)


def api_train_models(task, models, hidden_size, layers, dropout, learning_rate, epochs, time_budget_seconds, text,
                     images):
    """Train side by side and stream JSON updates: each model's latest {"epoch", "step", "loss", …} under
    "models"; the last one has "done": true and every model's history. A client that goes away stops it."""
    try:
        settings, notices = live.check(task, models, hidden_size, layers, dropout, learning_rate, epochs,
                                       time_budget_seconds, text, images)
        yield from live.train(settings, notices)
    except UserError as exc:
        yield {"error": str(exc), "done": True}
