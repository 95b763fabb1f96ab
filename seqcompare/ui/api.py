"""Named JSON endpoints for gradio_client (API-only, `gr.api`), through the same functions as the tabs."""

from __future__ import annotations

import math
from collections.abc import Iterator

import gradio as gr
from gradio.data_classes import FileData

from seqcompare import UserError, digits, live, reviews, textgen
from seqcompare.ui.common import GENERATION, as_json, uploaded
from seqcompare.ui.train_tab import CONCURRENCY_ID

D = live.DEFAULTS


def api_predict_digit(bank: digits.DigitModels, image) -> dict:
    """Every model's digit, confidence, probabilities and ms for one image file."""
    if isinstance(image, dict):                  # the uploaded file as Gradio describes it
        image = image.get("path")
    answers = bank.predict(uploaded(image))["models"]
    return {"models": {n: {k: v for k, v in a.items() if k != "rows"} for n, a in answers.items()}}


def api_classify_review(bank: reviews.ReviewModels, text: str) -> dict:
    """Every model's label, P(positive) and ms for one review."""
    result = bank.predict(text, trace=False)
    return {"notices": result["notices"], "models": result["models"]}


def _whole(value):
    """A whole-number setting as the endpoint's number fields take it: a fraction is rounded."""
    return round(value) if isinstance(value, float) and math.isfinite(value) else value


def api_generate_text(bank: textgen.TextModels | textgen.Writer, *settings: list) -> list[list[dict]]:
    """generate_text for a batch of concurrent requests (a list per argument, one list of answers): each
    model's text, ms and characters, or {"error": message} for a request whose settings cannot be used.
    `bank`: the models, or a server's `textgen.Writer` of them (the requests written with every other)."""
    requests = [(seed, _whole(length), temperature, _whole(top_k), _whole(random_seed), top_p, _whole(beams))
                for seed, length, temperature, top_k, random_seed, top_p, beams in zip(*settings)]
    answers = bank.generate_many(requests)
    return [[{"error": str(a)} if isinstance(a, UserError) else a for a in answers]]


def api_train_models(task, models, hidden_size, layers, dropout, learning_rate, epochs, time_budget_seconds, text,
                     images):
    """Train side by side and stream JSON updates: each model's latest {"epoch", "step", "loss", "status", …} under
    "models"; the last one has "done": true and every model's history. A model's status is waiting or training
    while the run goes on, then done (all its epochs), out_of_time (its share of the time budget ended it),
    stopped, not_started or failed. A client that goes away stops it."""
    try:
        settings, notices = live.check(task, models, hidden_size, layers, dropout, learning_rate, epochs,
                                       time_budget_seconds, text, images)
        yield from live.train(settings, notices)
    except UserError as exc:
        yield {"error": str(exc), "done": True}


def api_endpoints(digit_bank, review_bank, text_writer) -> None:
    """The named endpoints predict_digit, classify_review, generate_text and train_models: API-only, with the
    parameters, defaults and order gradio_client scripts call them with (gr.api reads them from here)."""

    def predict_digit(image: FileData | None = None) -> dict:
        """Every model's digit, confidence, probabilities and ms for one image file."""
        return as_json(api_predict_digit)(digit_bank, image)

    def classify_review(text: str = "") -> dict:
        """Every model's label, P(positive) and ms for one review."""
        return as_json(api_classify_review)(review_bank, text)

    def generate_text(seed: str = "早餐", length: int = 100, temperature: float = 0.8, top_k: int = 20,
                      random_seed: int = 0, top_p: float = 1.0, beams: int = 1) -> dict:
        """Each model's text, ms and characters (concurrent requests are written together)."""
        return api_generate_text(text_writer, seed, length, temperature, top_k, random_seed, top_p, beams)

    def train_models(task: str = D["task"], models: str = D["models"], hidden_size: float = D["hidden"],
                     layers: float = D["layers"], dropout: float = D["dropout"], learning_rate: float = D["lr"],
                     epochs: float = D["epochs"], time_budget_seconds: float = D["seconds"], text: str = D["text"],
                     images: float = D["images"]) -> Iterator[dict]:
        """Train side by side and stream JSON updates; the last has "done": true and every model's history."""
        yield from api_train_models(task, models, hidden_size, layers, dropout, learning_rate, epochs,
                                    time_budget_seconds, text, images)

    gr.api(predict_digit, api_name="predict_digit")
    gr.api(classify_review, api_name="classify_review")
    gr.api(generate_text, api_name="generate_text", **GENERATION)
    gr.api(train_models, api_name="train_models", concurrency_limit=1, concurrency_id=CONCURRENCY_ID)
