"""The Digits tab: draw or upload a digit; RNN, LSTM, GRU and LeNet-5 answer side by side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np

from seqcompare import UserError, digits, plots, sketches
from seqcompare.ui import memory_views
from seqcompare.ui import gates_view
from seqcompare.ui.common import UPLOAD_MB, comparison, notice

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "digits"


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
                    upload = gr.File(label=f"A picture of a digit (PNG, JPEG, …; up to {UPLOAD_MB} MB)", type="filepath",
                                     file_types=["image"], height=140, elem_id="digit-upload")
                    gr.Examples(example_paths(), inputs=upload, label="Example drawings")
                    upload_btn = gr.Button("Classify picture", variant="primary")
        with gr.Column(scale=2):
            seen = gr.Image(label="What the models see (28×28, MNIST convention)", height=200,
                            interactive=False, show_label=True)
            message = gr.Markdown(elem_id="digit-notice")
            memory_views.digit_memory(bank, canvas, upload, draw_btn, upload_btn)
    with gr.Row(equal_height=True):
        answers = [gr.Label(label=plots.label(n), num_top_classes=3, elem_id=f"digit-{n}") for n in names]
    beliefs = gr.Plot(label="Belief row by row")
    probs = gr.Plot(label="Probabilities")
    gates_view.digit_gates(bank, canvas, upload, draw_btn, upload_btn)

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
    memory_views.distance_section("mnist")
