"""The Text generation tab: every character model continues the same seed with the same settings."""

from __future__ import annotations

from functools import partial

import gradio as gr

from seqcompare import UserError, checkpoints, plots, textgen
from seqcompare.ui.common import CHECKPOINTS, GENERATION, comparison, notice
from seqcompare.ui import memory_views
from seqcompare.ui import gates_view


PARAMETER_NOTE = """**Why two parameter counts?** The tutorials count an LSTM layer as 4 × (h·x + h·h + h): one bias
vector per gate. PyTorch (like cuDNN) keeps two, `bias_ih` and `bias_hh`, so its layers hold 4 × (h·x + h·h + 2h) —
an extra h per gate that changes nothing the layer can express. The same goes for RNN (×1) and GRU (×3; there the
second bias sits inside the reset gate’s product, so it is not even redundant). Both counts in the table above include the
embedding and the decoder. The Transformer has no textbook formula: both columns give PyTorch's count (its output layer
is the token embedding itself, counted once)."""


def text_views(bank: textgen.TextModels, *settings: list) -> list[list]:
    """Outputs of the Text generation tab (a notice, one text box per model, the next-character figure) for
    a batch of concurrent requests (Gradio's batch mode: a list per input, a list per output): the models
    write all the sampled ones together, each request the text it gets alone."""
    answers = bank.generate_many(list(zip(*settings)))
    return [list(column) for column in zip(*(answer_view(bank, a) for a in answers))]


def answer_view(bank: textgen.TextModels, result: dict | UserError) -> list:
    names = list(textgen.MODELS)
    if isinstance(result, UserError):
        return [notice(str(result)), *([None] * len(names)), None]
    shared = [f"written in one batch with {result['batch'] - 1} other request(s): each time is the batch's"] \
        if result.get("batch") else []
    out = [notice("; ".join(result["notices"] + shared))]
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
        random_seed = gr.Number(value=0, precision=0, label="Random seed", scale=1)
    with gr.Row():
        temperature = gr.Slider(0, 2, value=0.8, step=0.05, label="Temperature (0 = greedy)", scale=2)
        top_k = gr.Slider(0, 100, value=20, step=1, label="Top-k (0 = all)", scale=2)
        top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p, nucleus (1 = all)", scale=2)
        beams = gr.Slider(1, textgen.MAX_BEAMS, value=1, step=1, scale=2,
                          label="Beams (1 = sample; more = beam search, deterministic)")
    generate = gr.Button("Generate", variant="primary", elem_id="gen-button")
    message = gr.Markdown(elem_id="gen-notice")
    with gr.Row(equal_height=True):
        columns = [gr.Textbox(label=plots.label(n), lines=6, interactive=False, elem_id=f"gen-{n}") for n in names]
    next_plot = gr.Plot(next_view(bank, seed.value), show_label=False)

    write = partial(text_views, bank)
    seed.change(partial(next_view, bank), seed, next_plot, api_visibility="private", trigger_mode="always_last",
                show_progress="hidden")
    settings = [seed, length, temperature, top_k, random_seed, top_p, beams]
    for event in (generate.click, seed.submit):
        event(write, settings, [message, *columns, next_plot], api_visibility="private", **GENERATION)
    memory_views.textgen_memory(bank, seed, columns)
    gates_view.textgen_cells(bank)

    gr.Markdown("## How they compare on the validation reviews")
    rows = [[plots.label(n), m["validation"]["bpc"], m["validation"]["perplexity"], f"{m['parameters']:,}",
             f"{m['textbook_parameters']:,}", round(m["train_seconds"])] for n, m in bank.meta.items()]
    comparison(bank.meta, bank.errors, [], None, ["loss", "bpc"], table=rows,
               headers=["model", "bits per char", "perplexity", "parameters (PyTorch)", "parameters (textbook)",
                        "train seconds"])
    summary = textgen.summary(bank.meta, read_bench())
    if summary:
        gr.Markdown(summary, elem_id="gen-summary")
    gr.Markdown(PARAMETER_NOTE)


def read_bench() -> dict:
    """The measured generation speeds (checkpoints/bench.json), or nothing."""
    try:
        return checkpoints.read_json(CHECKPOINTS / "bench.json")
    except checkpoints.CheckpointError:
        return {}
