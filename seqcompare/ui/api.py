"""Named JSON endpoints for gradio_client, through the same functions as the tabs."""

from __future__ import annotations

from functools import partial

import gradio as gr

from seqcompare import digits, reviews
from seqcompare.ui.common import as_json


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
        top_p = gr.Number(label="top_p", value=1.0)
        beams = gr.Number(label="beams", value=1, precision=0)
        result = gr.JSON(label="result")
        go = [gr.Button(f"api {i}") for i in range(3)]
    go[0].click(as_json(partial(api_predict_digit, digit_bank)), image, result, api_name="predict_digit")
    go[1].click(as_json(partial(api_classify_review, review_bank)), review, result, api_name="classify_review")
    go[2].click(as_json(text_bank.generate), [seed, length, temperature, top_k, random_seed, top_p, beams],
                result,
                api_name="generate_text")
