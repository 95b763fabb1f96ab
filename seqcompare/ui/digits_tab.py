"""The Digits tab: draw or upload a digit; RNN, LSTM, GRU and LeNet-5 answer side by side."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from seqcompare import UserError, digits, i18n, plots, sketches
from seqcompare.ui import gates_view, locale, memory_views
from seqcompare.ui.common import UPLOAD_MB, comparison, figure_box, no_answers, notice, uploaded

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


EMPTY_CANVAS = ("errors.draw_first", "errors.blank")       # what a canvas with nothing drawn on it is refused for


def digit_view(bank: digits.DigitModels, image, request: gr.Request = None, quiet_when_empty: bool = False) -> list:
    """Outputs of the Digits tab: what the models see, a notice, one Label per model, two figures."""
    names, lang = list(digits.MODELS), locale.of(request)
    try:
        result = bank.predict(uploaded(image))
    except UserError as exc:
        return unanswered("" if quiet_when_empty and exc.key in EMPTY_CANVAS else notice(exc.render(lang)))
    seen = (result["digit"].numpy() * 255).astype(np.uint8)
    out = [seen.repeat(6, 0).repeat(6, 1), ""]               # 28×28 shown at 168×168, pixels kept sharp
    for n in names:
        a = result["models"][n]
        if "error" in a:
            out.append(gr.Label(value=None, label=f"{plots.label(n)} — {locale.say(a['error'], lang)}"))
        else:
            out.append(gr.Label(value={str(d): p for d, p in enumerate(a["probabilities"])},
                                label=i18n.t("app.timed", lang, what=plots.label(n), ms=f"{a['ms']:.1f}")))
    ok = {n: a for n, a in result["models"].items() if "error" not in a}
    out.append(plots.row_beliefs({n: a["rows"] for n, a in ok.items() if "rows" in a}, lang))
    out.append(plots.class_probabilities({n: a["probabilities"] for n, a in ok.items()},
                                         [str(d) for d in range(10)], lang))
    return out


def picture_view(bank: digits.DigitModels, path, request: gr.Request = None, cleared: bool = False) -> list:
    """`digit_view` of an uploaded picture; without one, a notice to choose one (or, when the upload was just
    cleared, empty outputs)."""
    if path is None:
        return unanswered("" if cleared else notice(UserError("errors.choose_picture").render(locale.of(request))))
    return digit_view(bank, path, request)


def unanswered(message: str) -> list:
    """The Digits tab's outputs with a message and no answer."""
    return [None, message, *no_answers(digits.MODELS), None, None]


def picture_changed(bank: digits.DigitModels, path, request: gr.Request = None) -> list:
    return picture_view(bank, path, request, cleared=True)


def canvas_changed(bank: digits.DigitModels, image, request: gr.Request = None) -> list:
    """`digit_view` of the canvas as it is drawn on: a canvas just cleared empties the answers without the
    notice to draw first (the Classify button gives it)."""
    return digit_view(bank, image, request, quiet_when_empty=True)


def digits_tab(bank: digits.DigitModels) -> None:
    names = list(digits.MODELS)
    with gr.Row():
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab(locale.L("digits.draw_tab")):
                    canvas = gr.Sketchpad(label=locale.L("digits.draw"), type="numpy",
                                          canvas_size=(560, 560), brush=gr.Brush(colors=["#000000"], color_mode="fixed",
                                                                                 default_size=22),
                                          layers=False, elem_id="digit-canvas")
                    draw_btn = gr.Button(locale.L("digits.classify_drawing"), variant="primary")
                with gr.Tab(locale.L("digits.upload_tab")):
                    # a File, not an Image: gr.Image opens uploads itself and fails on a non-image with a
                    # bare "Error"; and no file_types, whose refusal is a toast in English: the path goes to
                    # digits.to_mnist, which names what is wrong in the page's language
                    upload = gr.File(label=locale.L("digits.upload", mb=UPLOAD_MB), type="filepath",
                                     height=140, elem_id="digit-upload")
                    gr.Examples(example_paths(), inputs=upload, label=locale.L("digits.examples"))
                    upload_btn = gr.Button(locale.L("digits.classify_picture"), variant="primary")
        with gr.Column(scale=2):
            seen = gr.Image(label=locale.L("digits.seen"), height=200,
                            interactive=False, show_label=True)
            message = gr.Markdown(elem_id="digit-notice")
            memory_views.digit_memory(bank, canvas, upload, draw_btn, upload_btn)
    with gr.Row(equal_height=True):
        answers = [gr.Label(label=plots.label(n), num_top_classes=3, elem_id=f"digit-{n}") for n in names]
    beliefs = figure_box(label=locale.L("digits.beliefs"), download="digit-beliefs")
    probs = figure_box(label=locale.L("digits.probabilities"), download="digit-probabilities")
    gates_view.digit_gates(bank, canvas, upload, draw_btn, upload_btn)

    classify = locale.bound(digit_view, bank)
    outputs = [seen, message, *answers, beliefs, probs]
    draw_btn.click(classify, canvas, outputs, api_visibility="private")
    canvas.change(locale.bound(canvas_changed, bank), canvas, outputs, api_visibility="private",
                  trigger_mode="always_last", show_progress="hidden")
    upload_btn.click(locale.bound(picture_view, bank), upload, outputs, api_visibility="private")
    upload.change(locale.bound(picture_changed, bank), upload, outputs, api_visibility="private",
                  show_progress="hidden")

    gr.Markdown(locale.L("digits.compare"))
    comparison("mnist", bank.meta, bank.errors, ["accuracy", "precision", "recall", "f1"], [str(d) for d in range(10)],
               ["loss", "accuracy"])
    memory_views.distance_section("mnist", bank.folder)
