"""The Train tab: train RNN, LSTM and GRU (and the Transformer, for text) side by side in the browser,
watch them learn, try them, download them — and the tutorial's hyperparameter study."""

from __future__ import annotations

import shutil
import tempfile
import threading
from contextlib import closing
from functools import partial
from pathlib import Path

import gradio as gr

from seqcompare import UserError, checkpoints, digits, i18n, live, plots, sweep, textgen
from seqcompare.ui import locale
from seqcompare.ui.common import UNSHOWABLE, UPLOAD_MB, WIDE, figure_box, joined, notice, slider, table, uploaded

CONCURRENCY_ID = "live-training"      # one training at a time on the whole server; the others queue
# each session's training, from its click until it ends: its stop, and whether it runs yet (else it is queued)
RUNS: dict[str, dict] = {}
CAPS = dict(seconds=live.CAPS["seconds"], epochs=live.CAPS["epochs"], hidden=live.CAPS["hidden"],
            layers=live.CAPS["layers"], images=f"{live.CAPS['images']:,}", characters=f"{live.CAPS['characters']:,}",
            mb=UPLOAD_MB, min_lr=f"{live.MIN_LR:g}", max_lr=f"{live.CAPS['lr']:g}")
RESULTS = ("model", "status", "epochs", "train_loss", "metric", "parameters", "seconds")
STUDY = ("model", "hidden", "layers", "dropout", "val_accuracy", "test_accuracy", "parameters", "seconds")


def _free(session) -> None:
    """Delete a session's downloads when Gradio drops its state (tab closed, or an hour unused)."""
    if isinstance(session, dict) and session.get("dir"):
        shutil.rmtree(session["dir"], ignore_errors=True)


def _table(final: dict, lang: str = "en"):
    metric = final["metric"]
    rows = []
    for name, m in final["models"].items():
        best = (m.get("history") or [{}])[max(m.get("best_epoch", 1), 1) - 1] if m.get("history") else {}
        rows.append([plots.label(name), status(m.get("status", ""), lang), m.get("epochs_run", m.get("epoch", 0)),
                     best.get("train_loss"), best.get(f"val_{metric}"), f"{m.get('parameters', 0):,}",
                     m.get("seconds")])
    return table(rows, [i18n.t(f"train.results.{c}", lang) for c in RESULTS])


def empty_results(lang: str):
    """The results table before a training has ended: its columns, named in `lang`, and no rows."""
    return table([], [i18n.t(f"train.results.{c}", lang) for c in RESULTS])


def status(word: str, lang: str) -> str:
    """A model's training status (training, done, stopped …) in `lang`."""
    return i18n.t(f"train.status.{word}", lang) if i18n.has(f"train.status.{word}") else word


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


def _session(request) -> str | None:
    return getattr(request, "session_hash", None)


def queued(request: gr.Request = None) -> None:
    """The Train button, at once (before the queue): the session's training is waiting for its turn."""
    key = _session(request)
    if key and not RUNS.get(key, {}).get("running"):
        RUNS[key] = {"stop": threading.Event(), "running": False}


def run(task, models, hidden, layers, dropout, lr, epochs, seconds, text, images, seed, session,
        request: gr.Request = None):
    """The Train button: stream the curves while the models learn; keep them in this session. Stop ends the
    training early, and what the models learned is kept and shown as at the end of a run."""
    lang, key = locale.of(request), _session(request)
    outputs = lambda msg, progress="", fig=None, rows=None, files=None, sess=session: \
        [msg, progress, fig, empty_results(lang) if rows is None else rows, files, sess]
    entry = RUNS.get(key) if key else None
    if entry and entry["stop"].is_set() and not entry["running"]:       # Stop pressed while it was queued
        RUNS.pop(key, None)
        yield outputs(notice(i18n.t("train.stopped_queued", lang)))
        return
    entry = {"stop": threading.Event(), "running": True} if entry is None else {**entry, "running": True}
    if key:
        RUNS[key] = entry
    try:
        s, notices = live.check(task, ",".join(models or []), hidden, layers, dropout, lr, epochs, seconds, text,
                                images, seed)
        keep, steps = {}, {n: [] for n in s.models}
        with closing(live.train(s, notices, stop=entry["stop"], keep=keep)) as updates:   # a closed tab closes
            for update in updates:                                    # this generator, and so the training
                for name, m in update["models"].items():        # training loss against updates made so far
                    if m.get("loss") is not None and (not steps[name] or steps[name][-1][0] != m["updates"]):
                        steps[name].append((m["updates"], m["loss"]))
                histories = {n: m.get("history") or [] for n, m in update["models"].items()}
                fig = plots.live_curves(steps, histories, update["metric"], lang)
                progress = f"**{update['progress']:.0%}** · {update['elapsed']:.0f} s · " + joined((
                    f"{plots.label(n)} {status(m['status'], lang)}"
                    + (i18n.t("train.epoch", lang, n=m["epoch"]) if m["status"] == "training" else "")
                    for n, m in update["models"].items()), lang)
                messages = [locale.say(n, lang) for n in update["notices"]] + \
                    ([locale.say(update["error"], lang)] if update.get("error") else [])
                if not update["done"]:
                    yield outputs(notice(joined(messages, lang)), progress, fig, None, None)
                    continue
                trained = {n: keep[n] for n in s.models if n in keep}
                folder, files = _downloads(update, trained)
                _free(session)
                new = {"task": s.task, "models": trained, "vocab": keep.get("vocab"), "dir": folder}
                if update.get("stopped"):
                    messages.append(i18n.t("train.stopped_kept", lang))
                yield outputs(notice(joined(messages, lang)), progress, fig, _table(update, lang), files, new)
    except UserError as exc:
        yield outputs(notice(exc.render(lang)))
    finally:
        if key and RUNS.get(key) is entry:
            RUNS.pop(key, None)


def try_digit(session, image, bank: digits.DigitModels, lang: str = "en"):
    """The session's freshly trained digit models next to the shipped ones, as a small table."""
    if not session or session.get("task") != live.DIGITS.name:
        return notice(i18n.t("train.digits_first", lang))
    try:
        mine = live.classify(session["models"], image)
        shipped = bank.predict(image)["models"]
    except UserError as exc:
        return notice(exc.render(lang))
    lines = [i18n.t("train.try_header", lang), "| --- | --- | --- |"]
    for name in dict.fromkeys([*mine, *digits.MODELS]):
        a, b = mine.get(name), shipped.get(name, {})
        lines.append(f"| {plots.label(name)} | " + (f"{a['label']} ({a['confidence']:.2f})" if a else "—") + " | "
                     + (f"{b['label']} ({b['confidence']:.2f})" if "label" in b else "—") + " |")
    return "\n".join(lines)


def try_text(session, seed, bank: textgen.TextModels, lang: str = "en"):
    if not session or session.get("task") != live.TEXT.name:
        return notice(i18n.t("train.text_first", lang))
    seed, cut = textgen.clean_seed(seed)                  # as every model reads it (a seed too long is cut)
    try:
        mine = live.generate(session["models"], session["vocab"], seed, 120, 0.8, 0)
        shipped = bank.generate(seed, 120, 0.8, 20, 0)["models"] if bank.models else {}
    except UserError as exc:
        return notice(exc.render(lang))
    lines = [notice(i18n.render(n, lang)) for n in cut] + [i18n.t("train.mine", lang, model=plots.label(n), text=text) for n, text in mine.items()]
    lines += [i18n.t("train.theirs", lang, model=plots.label(n), text=a["text"]) for n, a in shipped.items() if "text" in a]
    return "\n\n".join(lines)


def load_text(path, request: gr.Request = None):
    """An uploaded file into the text box, or a visible notice of what is wrong with it."""
    if not path:
        return gr.update(), ""
    try:
        return live.read_upload(uploaded(path)), ""
    except UserError as exc:
        return gr.update(), notice(exc.render(locale.of(request)))


def hotel_corpus(request: gr.Request = None):
    try:
        return live.hotel_text(), ""
    except UserError as exc:
        return gr.update(), notice(exc.render(locale.of(request)))


def stopped(request: gr.Request = None) -> str:
    """The Stop button: ends this session's training (kept as far as it got) or its place in the queue."""
    entry = RUNS.get(_session(request))
    if entry:
        entry["stop"].set()
    said = "train.not_running" if entry is None else "train.stopping" if entry["running"] else "train.stopped_queued"
    return notice(i18n.t(said, locale.of(request)))


def settings_column(d: dict) -> list:
    """The training settings: task, models, sizes, schedule, data and seed (in the order run() takes them)."""
    task = locale.per_language(gr.Radio(tasks_choices("en"), value=d["task"], label=locale.L("train.task")),
                               lambda lang: gr.Radio(choices=tasks_choices(lang)))
    models = locale.per_language(gr.CheckboxGroup(model_choices("en"), value=d["models"].split(","),
                                                  label=locale.L("train.models")),
                                 lambda lang: gr.CheckboxGroup(choices=model_choices(lang)))
    with gr.Row():
        hidden = slider(8, live.CAPS["hidden"], value=d["hidden"], step=8, label=locale.L("train.hidden"))
        layers = slider(1, live.CAPS["layers"], value=d["layers"], step=1, label=locale.L("train.layers"))
        dropout = slider(0, 0.9, value=d["dropout"], step=0.05, label=locale.L("train.dropout"))
    with gr.Row():
        lr = gr.Number(value=d["lr"], label=locale.L("train.lr"))
        epochs = slider(1, live.CAPS["epochs"], value=d["epochs"], step=1, label=locale.L("train.epochs"))
        seconds = slider(5, live.CAPS["seconds"], value=d["seconds"], step=5, label=locale.L("train.seconds"))
    with gr.Row():
        images = slider(500, live.CAPS["images"], value=d["images"], step=500, label=locale.L("train.images"))
        seed = gr.Number(value=0, precision=0, label=locale.L("train.seed"))
    return [task, models, hidden, layers, dropout, lr, epochs, seconds, images, seed]


def tasks_choices(lang: str) -> list[tuple[str, str]]:
    """What can be trained here (`live.KINDS`), by name."""
    return [(i18n.t(f"train.task_{kind}", lang), kind) for kind in live.KINDS]


def model_choices(lang: str) -> list[tuple[str, str]]:
    """Every model either kind trains; those the digits do not train are named as text only."""
    names = dict.fromkeys(n for kind in live.KINDS.values() for n in kind.models)
    return [(plots.label(n) if n in live.DIGITS.models else i18n.t("train.text_only", lang, model=plots.label(n)), n)
            for n in names]


def train_tab(digit_bank: digits.DigitModels, text_bank: textgen.TextModels) -> None:
    gr.Markdown(locale.L("train.intro", **CAPS))
    session = gr.State(None, time_to_live=3600, delete_callback=_free)
    with gr.Row():
        with gr.Column(scale=2):
            task, models, hidden, layers, dropout, lr, epochs, seconds, images, seed = settings_column(live.DEFAULTS)
        with gr.Column(scale=2):
            text = gr.Textbox(label=locale.L("train.text"), lines=8, max_lines=8,
                              placeholder=locale.L("train.placeholder"), elem_id="train-text")
            with gr.Row():
                # no file_types (their refusal is a toast in English): live.read_upload names what is wrong
                upload = gr.File(label=locale.L("train.upload"), type="filepath", height=140, elem_id="train-upload")
                hotel = gr.Button(locale.L("train.hotel"))
    with gr.Row():
        train = gr.Button(locale.L("train.train"), variant="primary", elem_id="train-button")
        stop = gr.Button(locale.L("train.stop"), variant="stop", elem_id="train-stop")
    message = gr.Markdown(elem_id="train-notice")
    progress = gr.Markdown(elem_id="train-progress")
    curves = figure_box(show_label=False, elem_classes=WIDE, download="training")    # a phone scrolls it sideways
    results = locale.per_language(
        gr.Dataframe(empty_results("en"), interactive=False, show_label=False, elem_id="train-results"), empty_results)
    files = gr.File(label=locale.L("train.files"), file_count="multiple", interactive=False)
    try_section(session, digit_bank, text_bank)

    upload.change(load_text, upload, [text, message], api_visibility="private")
    hotel.click(hotel_corpus, None, [text, message], api_visibility="private")
    train.click(queued, None, None, queue=False, api_visibility="private")
    train.click(run, [task, models, hidden, layers, dropout, lr, epochs, seconds, text, images, seed, session],
                [message, progress, curves, results, files, session], api_visibility="private",
                concurrency_limit=1, concurrency_id=CONCURRENCY_ID, trigger_mode="once")
    stop.click(stopped, None, message, queue=False, api_visibility="private")
    study_section(digit_bank.folder.parent)


def try_section(session: gr.State, digit_bank: digits.DigitModels, text_bank: textgen.TextModels) -> None:
    """The session's freshly trained models next to the shipped ones: a drawing to classify, a seed to continue."""
    with gr.Accordion(locale.L("train.try"), open=False):
        with gr.Row():
            with gr.Column():
                canvas = gr.Sketchpad(label=locale.L("train.draw"), type="numpy", canvas_size=(280, 280), layers=False,
                                      brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=12),
                                      elem_id="digit-canvas-train")
                classify = gr.Button(locale.L("train.classify"))
                digit_answer = gr.Markdown()
            with gr.Column():
                gen_seed = gr.Textbox(label=locale.L("train.start"), value="早餐")
                generate = gr.Button(locale.L("train.write"))
                text_answer = gr.Markdown()
    classify.click(locale.bound(_try_digit, digit_bank), [session, canvas], digit_answer, api_visibility="private")
    generate.click(locale.bound(_try_text, text_bank), [session, gen_seed], text_answer, api_visibility="private")


def _try_digit(bank: digits.DigitModels, session, image, request: gr.Request = None):
    return try_digit(session, image, bank, locale.of(request))


def _try_text(bank: textgen.TextModels, session, seed, request: gr.Request = None):
    return try_text(session, seed, bank, locale.of(request))


def study_caption(study: dict, task: str, lang: str) -> str:
    """What a study ran: trials, design, epochs, examples, test items and the baseline."""
    limit = i18n.t("train.study.limit", lang, limit=f"{study['limit']:,}") if study.get("limit") else ""
    baseline = i18n.listed((f"{i18n.t(f'plots.factors.{k}', lang) if i18n.has(f'plots.factors.{k}') else k} {v}"
                            for k, v in study["baseline"].items()), lang)
    return i18n.t("train.study.caption", lang, name=i18n.t(f"train.study.{task}", lang), trials=len(study["trials"]),
                  design=design(study["design"], lang), epochs=study["epochs"], limit=limit, items=f"{study['test_items']:,}",
                  baseline=baseline)


def design(name: str, lang: str) -> str:
    """A study's design (grid, one factor at a time) in `lang`."""
    key = "train.study.designs." + name.replace(" ", "_")
    return i18n.t(key, lang) if i18n.has(key) else name


def study_section(root: Path) -> None:
    """The tutorial's hyperparameter study, as run by `sweep` and shipped in ROOT/TASK/study.json (`root`: the
    checkpoints' folder)."""
    gr.Markdown(locale.L("train.study.heading"))
    missing = []
    for task in sweep.TASKS:
        try:                                   # everything computed first: a malformed file shows a notice only
            study = sweep.load(Path(root) / task / sweep.STUDY_FILE)
            if study is None or not study["trials"]:
                missing.append(task)
                continue
            caption = locale.composed(lambda lang: study_caption(study, task, lang))
            rows, parallel, effects = plots.study_rows(study), plots.study_parallel(study), plots.study_effects(study)
        except UNSHOWABLE as exc:
            gr.Markdown(locale.L("train.study.broken", task=task, error=f"{type(exc).__name__}: {exc}"))
            continue
        gr.Markdown(caption)
        header = lambda lang: [i18n.t(f"train.study.columns.{c}", lang) for c in STUDY]
        locale.per_language(gr.Dataframe(table(rows, header("en")), interactive=False, show_label=False),
                            lambda lang, rows=rows, header=header: table(rows, header(lang)))
        locale.per_language(figure_box(parallel, show_label=False, elem_classes=WIDE,
                                       download=f"{task}-study-parallel"),
                            partial(plots.study_parallel, study))
        locale.per_language(figure_box(effects, show_label=False, elem_classes=WIDE, download=f"{task}-study-effects"),
                            partial(plots.study_effects, study))
    if missing:
        gr.Markdown(locale.L("train.study.missing", tasks=" / ".join(missing), task=missing[0]))
