"""The Gradio dashboard: one module per tab, thin callbacks over the package's task functions."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from seqcompare import digits, reviews, textgen
from seqcompare.ui.api import api_classify_review, api_endpoints, api_predict_digit
from seqcompare.ui.cells_api import cells_endpoints
from seqcompare.ui.common import CHECKPOINTS, as_json, comparison, model_table, notice
from seqcompare.ui.digits_tab import digit_view, digits_tab, example_paths
from seqcompare.ui.reviews_tab import review_view, reviews_tab
from seqcompare.ui.textgen_tab import next_view, text_views, textgen_tab
from seqcompare.ui.train_tab import train_tab

__all__ = ["build", "api_classify_review", "api_endpoints", "api_predict_digit", "as_json", "comparison",
           "model_table", "notice", "digit_view", "digits_tab", "example_paths", "review_view", "reviews_tab",
           "next_view", "text_views", "textgen_tab", "train_tab", "CHECKPOINTS"]

INTRO = """# seqcompare
RNN, LSTM and GRU side by side — the same recipe for every cell, the same data, metrics recomputed from the
shipped checkpoints — with LeNet-5 for digits and a small causal Transformer, the next step after recurrent
models, for text. Draw a digit, type a movie review, or let the models write a hotel review."""


# Gradio's Sketchpad starts with no tool selected ("select the draw tool to start"): pick the brush
# for the user as soon as the canvas is on screen, so that drawing works at once.
ARM_BRUSH = """() => {
  const arm = () => document.querySelectorAll('[id^="digit-canvas"]').forEach((el) => {
    const brush = el.querySelector('button[aria-label="Brush"]');
    if (brush && !el.dataset.armed && el.offsetParent !== null) { brush.click(); el.dataset.armed = '1'; }
  });
  setInterval(arm, 400);
}"""


# Uploads land in Gradio's cache: every hour, files older than an hour are deleted (and all at restart).
DELETE_CACHE = (3600, 3600)


def build(checkpoints: Path = CHECKPOINTS, device: str = "cpu") -> gr.Blocks:
    """The whole dashboard; checkpoints are loaded here, once, onto `device`."""
    digit_bank = digits.DigitModels(checkpoints / "mnist", device=device)
    review_bank = reviews.ReviewModels(checkpoints / "imdb", device=device)
    text_bank = textgen.TextModels(checkpoints / "hotel", device=device)
    with gr.Blocks(title="seqcompare — RNN vs LSTM vs GRU", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs(selected="digits"):
            with gr.Tab("Text generation", id="textgen"):
                textgen_tab(text_bank)
            with gr.Tab("Digits", id="digits"):
                digits_tab(digit_bank)
            with gr.Tab("Reviews", id="reviews"):
                reviews_tab(review_bank)
            with gr.Tab("Train", id="train"):
                train_tab(digit_bank, text_bank)
        api_endpoints(digit_bank, review_bank, text_bank)
        cells_endpoints(digit_bank, review_bank, text_bank)
        demo.load(None, js=ARM_BRUSH)
    return demo
