"""Named JSON endpoints (API-only, `gr.api`) for the views inside the models: `explain` (input influence),
`memory` (the stored distance curves), `gates` and `sentiment`, through the same functions as the tabs."""

from __future__ import annotations

import gradio as gr
from gradio.data_classes import FileData

from seqcompare import checkpoints, gates, influence, sentiment, tasks
from seqcompare.ui import sentiment_view
from seqcompare.ui.common import as_json


def _input(spec: tasks.Task, text: str, image):
    """What the task reads: the uploaded image (digits; never a path given as text, which would name a file on
    the server), else the text."""
    if spec.reads_image:
        return image.get("path") if isinstance(image, dict) else image
    return text


def api_explain(banks: dict, task: str, text: str, image) -> dict:
    """Each model's influence of every input on one prediction (as `python -m seqcompare explain`)."""
    spec = tasks.get(task)
    result = spec.influences(banks[spec.name], _input(spec, text, image))
    if "digit" in result:
        result = {**result, "digit": result["digit"].tolist()}
    return result


def api_memory(banks: dict, task: str) -> dict:
    """The stored distance curves and memory lengths of a task, trained and untrained."""
    name = tasks.get(task).name
    try:
        return influence.load_memory(banks[name].folder) or {"error": f"not measured yet for {name}"}
    except checkpoints.CheckpointError as exc:
        return {"error": str(exc)}


def api_gates(banks: dict, task: str, text: str, image) -> dict:
    """Each recurrent model's gates per layer at every step (as `python -m seqcompare gates --json`)."""
    spec = tasks.get(task)
    return gates.explain_bank(spec.name, banks[spec.name], _input(spec, text, image))


def api_sentiment(text_bank, text: str, probes: dict | None) -> dict:
    """Each text model's P(positive) for a hotel review, its sentiment unit per character, and the probes' scores
    (`probes`: the shipped ones, read once; None when they are not computed)."""
    if probes is None:
        return {"error": "the sentiment probes are not computed yet"}
    return {**sentiment.analyse(text_bank, text, probes), "table": sentiment.table(probes)}


def cells_endpoints(digit_bank, review_bank, text_bank) -> None:
    """The endpoints explain, memory, gates and sentiment (API-only)."""
    banks = {"mnist": digit_bank, "imdb": review_bank, "hotel": text_bank}
    probes = sentiment_view.shipped(text_bank.folder)

    def explain(task: str = "hotel", text: str = "", image: FileData | None = None) -> dict:
        """Each model's influence of every input on one prediction: hotel text, IMDb review or digit image."""
        return as_json(api_explain)(banks, task, text, image)

    def memory(task: str = "hotel") -> dict:
        """The stored distance curves (how far back each model looks), trained and untrained."""
        return as_json(api_memory)(banks, task)

    def gates_(task: str = "hotel", text: str = "", image: FileData | None = None) -> dict:
        """The LSTM's and GRU's gates (and the RNN's hidden state) per layer at every step of the input."""
        return as_json(api_gates)(banks, task, text, image)

    def sentiment_(text: str = "") -> dict:
        """Each text model's P(positive) for a hotel review and its sentiment unit under every character."""
        return as_json(api_sentiment)(text_bank, text, probes)

    gr.api(explain, api_name="explain")
    gr.api(memory, api_name="memory")
    gr.api(gates_, api_name="gates")
    gr.api(sentiment_, api_name="sentiment")
