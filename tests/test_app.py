"""The dashboard builds from the shipped checkpoints and its callbacks answer real inputs."""

import importlib

import numpy as np
import plotly.graph_objects as go

from conftest import CHECKPOINTS
from seqcompare import digits, sketches, ui


def unanswered(outputs) -> bool:
    """Every output empty: no figure, and each model's answer empty, titled with its name alone."""
    return all(v is None or (not v.value and " · " not in v.label) for v in outputs)


def one_request(bank, *settings) -> list:
    """The Text generation tab's outputs for one request, through its batched callback."""
    return [column[0] for column in ui.text_views(bank, *([value] for value in settings))]


def test_app_builds_with_named_endpoints():
    import gradio as gr
    from gradio.components.api_component import Api

    demo = ui.build()
    endpoints = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    assert {"predict_digit", "classify_review", "generate_text", "train_models"} <= set(endpoints)
    for name in ("predict_digit", "classify_review", "generate_text", "train_models"):   # API-only: no component
        assert all(isinstance(block, Api) for block in endpoints[name].inputs + endpoints[name].outputs)
    assert not [b for b in demo.blocks.values() if isinstance(b, gr.Button) and str(b.value).startswith("api ")]
    assert endpoints["generate_text"].batch and endpoints["generate_text"].max_batch_size == 32
    from seqcompare.ui.train_tab import CONCURRENCY_ID     # one training at a time, the Train tab's included
    assert (endpoints["train_models"].concurrency_id, endpoints["train_models"].concurrency_limit) == (CONCURRENCY_ID, 1)


def test_every_figure_downloads_under_its_own_name_without_plotly_logo():
    """Each figure box draws its figures (the first, and those its callbacks return) with a Plotly config: no
    logo link in the toolbar, and a download named after the view, seqcompare-….png, each name its own."""
    import json

    import gradio as gr

    demo = ui.build()
    boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Plot)]
    names = []
    for box in boxes:
        config = json.loads(box.postprocess(go.Figure()).plot)["config"]
        assert config["displaylogo"] is False
        names.append(config["toImageButtonOptions"]["filename"])
        if box.value:                                      # the figure it starts with carries the same config
            assert json.loads(box.value["plot"])["config"] == config
    assert len(boxes) > 20 and len(set(names)) == len(names) and all(n.startswith("seqcompare-") for n in names)
    assert "seqcompare-gates-hotel" in names and boxes[0].postprocess(None) is None
    from gradio.components.plot import PlotData

    given = PlotData(type="plotly", plot='{"data": []}')                 # a figure already serialised: as it is
    assert boxes[0].postprocess(given).plot == '{"data": []}'


def test_digit_callback_returns_every_answer_and_figures(digit_bank):
    sketch = {"background": None, "layers": [], "composite": np.asarray(sketches.render(2, size=800))}
    seen, message, *rest = ui.digit_view(digit_bank, sketch)
    labels, (beliefs, probs) = rest[:-2], rest[-2:]
    assert seen.shape == (168, 168) and seen.dtype == np.uint8 and message == ""
    assert len(labels) == len(digits.MODELS)
    for label in labels:
        assert max(label.value["confidences"], key=lambda c: c["confidence"])["label"] == "2"
        assert " ms" in label.label
    assert isinstance(beliefs, go.Figure) and len(beliefs.data) == 3       # one heatmap per recurrent model
    assert isinstance(probs, go.Figure) and len(probs.data) == 4


def test_blank_canvas_gets_a_visible_notice_not_a_guess(digit_bank):
    blank = {"background": None, "layers": [], "composite": np.full((800, 800, 4), 255, np.uint8)}
    seen, message, *rest = ui.digit_view(digit_bank, blank)
    assert seen is None and "draw a digit first" in message
    assert unanswered(rest) and [v.label for v in rest[:4]] == ["RNN", "LSTM", "GRU", "LeNet-5"]
    # the same canvas as it changes (just cleared): the answers emptied, without the notice
    digits_tab = importlib.import_module("seqcompare.ui.digits_tab")
    seen, message, *rest = digits_tab.canvas_changed(digit_bank, blank)
    assert seen is None and message == "" and unanswered(rest)
    seen, message, *rest = digits_tab.canvas_changed(digit_bank, np.zeros((2, 2, 2, 2), np.uint8))
    assert "not an image" in message and unanswered(rest)           # other refusals still say why


def test_a_cleared_review_box_empties_the_answers_without_a_notice(review_bank):
    reviews_tab = importlib.import_module("seqcompare.ui.reviews_tab")
    message, *answers, trace = reviews_tab.review_changed(review_bank, "  ")
    assert message == "" and trace is None and unanswered(answers)
    message, *answers, trace = reviews_tab.review_changed(review_bank, "A wonderful, moving film.")
    assert message == "" and answers[0].value and trace is not None                    # typed: classified
    assert "type or paste a review first" in ui.review_view(review_bank, "  ")[0]       # Classify still asks


def test_the_picture_button_without_a_picture_asks_for_one(digit_bank):
    import importlib

    digits_tab = importlib.import_module("seqcompare.ui.digits_tab")      # the module (ui exports the function)
    seen, message, *rest = digits_tab.picture_view(digit_bank, None)
    assert seen is None and "choose a picture first" in message and unanswered(rest)
    assert digits_tab.picture_changed(digit_bank, None)[1] == ""              # a cleared upload: no notice
    class Chinese:
        headers, cookies = {"accept-language": "zh-CN"}, {}

    assert "请先选择一张图片" in digits_tab.picture_view(digit_bank, None, Chinese())[1]
    picture = digits_tab.example_paths()[0]
    assert digits_tab.picture_view(digit_bank, picture)[0] is not None       # a picture is read as before


def test_review_callback_returns_labels_and_a_trace(review_bank):
    bank = review_bank
    message, *labels, trace = ui.review_view(bank, "Superb acting, a wonderful film.")
    assert message == "" and len(labels) == 3
    assert all(label.value["label"] == "positive" for label in labels)
    assert isinstance(trace, go.Figure) and len(trace.data) == 3
    message, *rest = ui.review_view(bank, "   ")
    assert "type or paste a review first" in message and unanswered(rest)


def test_text_callback_fills_four_columns_and_the_next_character_view(text_bank):
    bank = text_bank
    message, *boxes, nxt = one_request(bank, "早餐", 20, 0.8, 20, 0)
    assert message == "" and len(boxes) == 4                # RNN, LSTM, GRU and the Transformer
    assert all(box.value.startswith("早餐") and " ms" in box.label for box in boxes)
    assert isinstance(nxt, go.Figure) and len(nxt.data) == 4
    for box in boxes:                                       # a model that wrote a review's end before 20 says so
        written = len(box.value) - len("早餐")
        assert f"characters: {written}" in box.label and ("ended the review" in box.label) == (written < 20)
    message, *rest = one_request(bank, "早餐", 0, 0.8, 20, 0)
    assert "length must be at least 1" in message and all(v is None for v in rest)


def test_batched_text_callback_answers_each_request_in_its_place(text_bank):
    """Gradio's batch mode: a list per input, a list per output, each request's answer in its own place."""
    from seqcompare.ui.textgen_tab import text_views

    settings = [["早餐", "房间", "早餐"], [20, 0, 20], [0.8, 0.8, 0.8], [20, 20, 20], [0, 0, 3], [1.0, 1.0, 1.0],
                [1, 1, 1]]
    messages, *columns, plots = text_views(text_bank, *settings)
    assert len(messages) == len(plots) == 3 and len(columns) == 4 and all(len(c) == 3 for c in columns)
    assert "length must be at least 1" in messages[1] and all(c[1] is None for c in columns) and plots[1] is None
    assert all("alongside up to 1 other" in messages[i] for i in (0, 2))
    alone = one_request(text_bank, "早餐", 20, 0.8, 20, 3)
    assert [c[2].value for c in columns] == [box.value for box in alone[1:5]]
    # the server's writer (the requests written with every other under way) answers alike
    from seqcompare import textgen

    messages, *written, plots = text_views(text_bank, *settings, writer=textgen.Writer(text_bank))
    assert [[box.value for box in c if box] for c in written] == [[box.value for box in c if box] for c in columns]
    assert "length must be at least 1" in messages[1] and all("alongside up to 1 other" in messages[i] for i in (0, 2))


def test_a_checkpoint_without_its_metrics_only_disables_that_model(tmp_path):
    """The dashboard still builds; the model whose JSON lacks its metrics is marked unavailable."""
    import shutil

    from seqcompare import checkpoints, textgen

    for task in ("mnist", "imdb"):
        (tmp_path / task).symlink_to(CHECKPOINTS / task)
    shutil.copytree(CHECKPOINTS / "hotel", tmp_path / "hotel")
    meta = checkpoints.read_json(tmp_path / "hotel" / "gru.json")
    del meta["validation"]
    checkpoints.write_json(tmp_path / "hotel" / "gru.json", meta)
    bank = textgen.TextModels(tmp_path / "hotel")
    assert set(bank.models) == {"rnn", "lstm", "transformer"} and "lacks validation" in bank.errors["gru"]
    assert "error" in bank.generate("早餐", 5)["models"]["gru"]
    ui.build(tmp_path)


def test_next_character_view_never_offers_the_unknown_character(text_bank):
    from seqcompare import textgen

    for seed in ("😀", "", "早餐"):
        for name, top in text_bank.next_chars(seed).items():
            assert textgen.UNK not in [c for c, _ in top] and len(top) == 10


def test_the_dashboard_reads_stored_results_from_its_own_folder_and_shows_broken_ones_as_notices(tmp_path):
    """ui.build(folder) reads the stored views (saturation, sentiment probes, distance curves, studies, bench)
    from `folder`, not the shipped one; a file there that is not valid JSON, or of another shape, is a notice
    where its view would be, and the dashboard builds."""
    import shutil

    import gradio as gr

    from seqcompare.ui import locale

    for task in ("mnist", "imdb", "hotel"):
        shutil.copytree(CHECKPOINTS / task, tmp_path / task)
    for broken in ("hotel/saturation.json", "hotel/sentiment.json", "mnist/memory.json", "imdb/study.json",
                   "bench.json", "precision.json"):
        (tmp_path / broken).write_text("{not json", encoding="utf-8")
    (tmp_path / "imdb" / "memory.json").write_text('{"models": {}}', encoding="utf-8")
    (tmp_path / "mnist" / "study.json").unlink(missing_ok=True)
    demo = ui.build(tmp_path)
    shown = " ".join(locale.shown(b.value) for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    assert f"{tmp_path / 'hotel' / 'saturation.json'} cannot be shown (CheckpointError" in shown
    assert f"{tmp_path / 'mnist' / 'memory.json'} cannot be shown (CheckpointError" in shown
    assert f"{tmp_path / 'imdb' / 'memory.json'} cannot be shown (KeyError" in shown
    assert "checkpoints/imdb/study.json cannot be shown" in shown and "No study shipped yet for mnist" in shown
    assert f"{tmp_path / 'hotel' / 'sentiment.json'} cannot be shown (CheckpointError" in shown
    chinese = " ".join(locale.shown(b.value, "zh-CN") for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    assert f"无法显示 {tmp_path / 'hotel' / 'saturation.json'}" in chinese
    (tmp_path / "hotel" / "saturation.json").write_text('{"models": {"lstm": 3}, "characters": 5}', encoding="utf-8")
    shown = " ".join(locale.shown(b.value) for b in ui.build(tmp_path).blocks.values() if isinstance(b, gr.Markdown))
    assert "saturation.json cannot be shown (TypeError" in shown
