"""The Train tab: train RNN, LSTM and GRU (and the Transformer, for text) side by side in the browser,
watch them learn, try them, download them — and the tutorial's hyperparameter study."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import closing
from pathlib import Path

import gradio as gr

from seqcompare import UserError, checkpoints, digits, live, plots, sweep, textgen
from seqcompare.ui.common import CHECKPOINTS, UPLOAD_MB, notice

CONCURRENCY_ID = "live-training"      # one training at a time on the whole server; the others queue
CAPS_NOTE = (f"**Limits on this server** (no setting can lift them): {live.CAPS['seconds']} s of training per run, "
             f"shared equally by the models; at most {live.CAPS['epochs']} epochs, hidden size {live.CAPS['hidden']}, "
             f"{live.CAPS['layers']} layers, {live.CAPS['images']:,} digit images, {live.CAPS['characters']:,} characters "
             f"of text (uploads up to {UPLOAD_MB} MB of UTF-8), learning rate {live.MIN_LR:g}–{live.CAPS['lr']:g}. One training "
             "runs at a time (others wait in the queue and see their place) on one CPU thread, so the other tabs stay "
             "responsive. What you train lives in your session only and is freed when you close the tab.")


def _free(session) -> None:
    """Delete a session's downloads when Gradio drops its state (tab closed, or an hour unused)."""
    if isinstance(session, dict) and session.get("dir"):
        shutil.rmtree(session["dir"], ignore_errors=True)


def _table(final: dict) -> list[list]:
    metric = final["metric"]
    rows = []
    for name, m in final["models"].items():
        best = (m.get("history") or [{}])[max(m.get("best_epoch", 1), 1) - 1] if m.get("history") else {}
        rows.append([plots.label(name), m.get("status", ""), m.get("epochs_run", m.get("epoch", 0)),
                     best.get("train_loss"), best.get(f"val_{metric}"), f"{m.get('parameters', 0):,}",
                     m.get("seconds")])
    return rows


def _downloads(final: dict, models: dict) -> tuple[str, list[str]]:
    """Weights (safetensors + JSON per model) and the curves (CSV) in a fresh folder of this session's."""
    folder = Path(tempfile.mkdtemp(prefix="seqcompare-live-"))
    for name, model in models.items():
        m = final["models"][name]
        checkpoints.save(folder, name, model, {"task": f"live-{final['task']}", "config": dict(vars(model.cfg)),
                                               "settings": final["settings"], "history": m.get("history", []),
                                               "parameters": m.get("parameters")})
    (folder / "curves.csv").write_text(live.curves_csv(final), encoding="utf-8")
    return str(folder), sorted(str(p) for p in folder.iterdir())


def run(task, models, hidden, layers, dropout, lr, epochs, seconds, text, images, seed, session):
    """The Train button: stream the curves while the models learn; keep them in this session."""
    outputs = lambda msg, progress="", fig=None, rows=None, files=None, sess=session: \
        [msg, progress, fig, rows, files, sess]
    try:
        s, notices = live.check(task, ",".join(models or []), hidden, layers, dropout, lr, epochs, seconds, text,
                                images, seed)
        keep, steps = {}, {n: [] for n in s.models}
        with closing(live.train(s, notices, keep=keep)) as updates:   # Stop or a closed tab closes this
            for update in updates:                                    # generator, and so the training
                for name, m in update["models"].items():        # training loss against updates made so far
                    if m.get("loss") is not None and (not steps[name] or steps[name][-1][0] != m["updates"]):
                        steps[name].append((m["updates"], m["loss"]))
                histories = {n: m.get("history") or [] for n, m in update["models"].items()}
                fig = plots.live_curves(steps, histories, update["metric"])
                progress = f"**{update['progress']:.0%}** · {update['elapsed']:.0f} s · " + ", ".join(
                    f"{plots.label(n)} {m['status']}" + (f" (epoch {m['epoch']})" if m["status"] == "training" else "")
                    for n, m in update["models"].items())
                messages = update["notices"] + ([update["error"]] if update.get("error") else [])
                if not update["done"]:
                    yield outputs(notice("; ".join(messages)), progress, fig, None, None)
                    continue
                trained = {n: keep[n] for n in s.models if n in keep}
                folder, files = _downloads(update, trained)
                _free(session)
                new = {"task": s.task, "models": trained, "vocab": keep.get("vocab"), "dir": folder}
                if update.get("stopped"):
                    messages.append("stopped: the models keep what they learned so far")
                yield outputs(notice("; ".join(messages)), progress, fig, _table(update), files, new)
    except UserError as exc:
        yield outputs(notice(str(exc)))


def try_digit(session, image, bank: digits.DigitModels):
    """The session's freshly trained digit models next to the shipped ones, as a small table."""
    if not session or session.get("task") != live.DIGITS.name:
        return notice("train digit models first (task: digits), then draw here")
    try:
        mine = live.classify(session["models"], image)
        shipped = bank.predict(image)["models"]
    except UserError as exc:
        return notice(str(exc))
    lines = ["| model | trained here | shipped |", "| --- | --- | --- |"]
    for name in dict.fromkeys([*mine, *digits.MODELS]):
        a, b = mine.get(name), shipped.get(name, {})
        lines.append(f"| {plots.label(name)} | " + (f"{a['label']} ({a['confidence']:.2f})" if a else "—") + " | "
                     + (f"{b['label']} ({b['confidence']:.2f})" if "label" in b else "—") + " |")
    return "\n".join(lines)


def try_text(session, seed, bank: textgen.TextModels):
    if not session or session.get("task") != live.TEXT.name:
        return notice("train text models first (task: your own text), then write here")
    try:
        mine = live.generate(session["models"], session["vocab"], seed or "", 120, 0.8, 0)
        shipped = bank.generate(seed or "", 120, 0.8, 20, 0)["models"] if bank.models else {}
    except UserError as exc:
        return notice(str(exc))
    lines = [f"**{plots.label(n)}, trained here:** {t}" for n, t in mine.items()]
    lines += [f"**{plots.label(n)}, shipped (hotel reviews):** {a['text']}" for n, a in shipped.items() if "text" in a]
    return "\n\n".join(lines)


def load_text(path):
    """An uploaded file into the text box, or a visible notice of what is wrong with it."""
    if not path:
        return gr.update(), ""
    try:
        return live.read_upload(path), ""
    except UserError as exc:
        return gr.update(), notice(str(exc))


def hotel_corpus():
    try:
        return live.hotel_text(), ""
    except UserError as exc:
        return gr.update(), notice(str(exc))


def train_tab(digit_bank: digits.DigitModels, text_bank: textgen.TextModels) -> None:
    d = live.DEFAULTS
    gr.Markdown("Train the cells yourself, side by side on the same data with the same settings, and watch them "
                "learn. " + CAPS_NOTE)
    session = gr.State(None, time_to_live=3600, delete_callback=_free)
    with gr.Row():
        with gr.Column(scale=2):
            task = gr.Radio([("Digits (MNIST)", "digits"), ("Your own text", "text")], value=d["task"], label="Task")
            models = gr.CheckboxGroup([("RNN", "rnn"), ("LSTM", "lstm"), ("GRU", "gru"),
                                       ("Transformer (text only)", "transformer")],
                                      value=d["models"].split(","), label="Models")
            with gr.Row():
                hidden = gr.Slider(8, live.CAPS["hidden"], value=d["hidden"], step=8, label="Hidden size")
                layers = gr.Slider(1, live.CAPS["layers"], value=d["layers"], step=1, label="Layers")
                dropout = gr.Slider(0, 0.9, value=d["dropout"], step=0.05, label="Dropout")
            with gr.Row():
                lr = gr.Number(value=d["lr"], label="Learning rate (peak)")
                epochs = gr.Slider(1, live.CAPS["epochs"], value=d["epochs"], step=1, label="Epochs")
                seconds = gr.Slider(5, live.CAPS["seconds"], value=d["seconds"], step=5, label="Time budget (s)")
            with gr.Row():
                images = gr.Slider(500, live.CAPS["images"], value=d["images"], step=500, label="Digit images")
                seed = gr.Number(value=0, precision=0, label="Random seed")
        with gr.Column(scale=2):
            text = gr.Textbox(label="Your text (task: your own text) — any language, UTF-8", lines=8, max_lines=8,
                              placeholder="Paste a text here, upload a .txt file, or use the hotel reviews.",
                              elem_id="train-text")
            with gr.Row():
                upload = gr.File(label="Upload a .txt file", file_types=[".txt", "text"], type="filepath", height=100,
                                 elem_id="train-upload")
                hotel = gr.Button("Use the hotel reviews")
    with gr.Row():
        train = gr.Button("Train", variant="primary", elem_id="train-button")
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
    message = gr.Markdown(elem_id="train-notice")
    progress = gr.Markdown(elem_id="train-progress")
    curves = gr.Plot(show_label=False)
    results = gr.Dataframe(headers=["model", "status", "epochs", "train loss", "validation metric", "parameters",
                                    "seconds"], interactive=False, show_label=False)
    files = gr.File(label="Download what you trained (weights as safetensors + JSON, curves as CSV)",
                    file_count="multiple", interactive=False)
    try_section(session, digit_bank, text_bank)

    upload.change(load_text, upload, [text, message], api_visibility="private")
    hotel.click(hotel_corpus, None, [text, message], api_visibility="private")
    event = train.click(run, [task, models, hidden, layers, dropout, lr, epochs, seconds, text, images, seed, session],
                        [message, progress, curves, results, files, session], api_visibility="private",
                        concurrency_limit=1, concurrency_id=CONCURRENCY_ID, trigger_mode="once")
    stop.click(lambda: notice("stopped — a training that was running keeps what its models had learned"), None,
               message, cancels=[event],
               api_visibility="private")
    study_section()


def try_section(session: gr.State, digit_bank: digits.DigitModels, text_bank: textgen.TextModels) -> None:
    """The session's freshly trained models next to the shipped ones: a drawing to classify, a seed to continue."""
    with gr.Accordion("Try what you trained, next to the shipped models", open=False):
        with gr.Row():
            with gr.Column():
                canvas = gr.Sketchpad(label="Draw a digit", type="numpy", canvas_size=(280, 280), layers=False,
                                      brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=12),
                                      elem_id="digit-canvas-train")
                classify = gr.Button("Classify with my models")
                digit_answer = gr.Markdown()
            with gr.Column():
                gen_seed = gr.Textbox(label="Start of a text", value="早餐")
                generate = gr.Button("Write with my models")
                text_answer = gr.Markdown()
    classify.click(lambda s, img: try_digit(s, img, digit_bank), [session, canvas], digit_answer, api_visibility="private")
    generate.click(lambda s, t: try_text(s, t, text_bank), [session, gen_seed], text_answer, api_visibility="private")


def study_section() -> None:
    """The tutorial's hyperparameter study, as run by `sweep` and shipped in checkpoints/TASK/study.json."""
    gr.Markdown("## The tutorial's hyperparameter study, for every cell")
    missing = []
    for task, caption in (("imdb", "IMDb reviews"), ("mnist", "MNIST digits")):
        study = sweep.load(CHECKPOINTS / task / "study.json")
        if study is None or not study["trials"]:
            missing.append(task)
            continue
        try:                                   # everything computed first: a malformed file shows a notice only
            caption = (f"**{caption}** — {len(study['trials'])} trials ({study['design']}, {study['epochs']} epochs "
                       "each" + (f", {study['limit']:,} examples per split" if study.get("limit") else "")
                       + f"; test accuracy on {study['test_items']:,} test items). Baseline: "
                       + ", ".join(f"{k} {v}" for k, v in study["baseline"].items()) + ".")
            rows, parallel, effects = plots.study_rows(study), plots.study_parallel(study), plots.study_effects(study)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            gr.Markdown(notice(f"checkpoints/{task}/study.json cannot be shown ({type(exc).__name__}: {exc})"))
            continue
        gr.Markdown(caption)
        gr.Dataframe(rows, headers=["model", "hidden", "layers", "dropout", "validation accuracy",
                                    "test accuracy (95% interval)", "parameters", "seconds"],
                     interactive=False, show_label=False)
        gr.Plot(parallel, show_label=False)
        gr.Plot(effects, show_label=False)
    if missing:
        gr.Markdown(f"No study shipped yet for {' and '.join(missing)}: `python -m seqcompare sweep "
                    f"{missing[0]}` runs one and writes `checkpoints/{missing[0]}/study.json`.")
