"""Training in the browser (live.py, the Train tab, train_models) and the Optuna sweep, on small slices."""

import importlib
import json
import math
import threading

import numpy as np
import pytest

from seqcompare import UserError, live, sweep, textgen

train_tab = importlib.import_module("seqcompare.ui.train_tab")   # the module, not the function ui exports


def settings(**kw):
    args = {**live.DEFAULTS, "images": 600, "epochs": 2, "hidden": 16, **kw}
    return live.check(args["task"], args["models"], args["hidden"], args["layers"], args["dropout"], args["lr"],
                      args["epochs"], args["seconds"], args["text"], args["images"])


@pytest.fixture(scope="module")
def hotel(data_dir):
    return live.hotel_text(data_dir, 8000)


def test_caps_clamp_with_a_notice():
    s, notices = settings(hidden=10**6, layers=99, epochs=10**4, seconds=1e9, lr=1e9, images=10**9)
    assert (s.hidden, s.layers, s.epochs, s.seconds, s.images) == (live.CAPS["hidden"], live.CAPS["layers"],
                                                                   live.CAPS["epochs"], live.CAPS["seconds"],
                                                                   live.CAPS["images"])
    assert s.lr == live.CAPS["lr"] and len(notices) == 6 and any("learning rate" in n for n in notices)


def test_a_cleared_seed_box_trains_with_seed_0_and_says_so():
    from seqcompare import i18n

    args = {**live.DEFAULTS, "images": 600, "epochs": 2, "hidden": 16}
    rest = [args[k] for k in ("task", "models", "hidden", "layers", "dropout", "lr", "epochs", "seconds", "text",
                              "images")]
    for cleared in (None, ""):
        s, notices = live.check(*rest, cleared)
        assert s.seed == 0 and [i18n.render(n, "zh-CN") for n in notices] == ["未填写随机种子：使用种子 0"]
    s, notices = live.check(*rest, 7)
    assert s.seed == 7 and notices == []


@pytest.mark.parametrize("change, message", [
    (dict(hidden=0), "hidden size must be at least 1"), (dict(layers=-2), "layers must be at least 1"),
    (dict(epochs=1.5), "whole number"), (dict(epochs=True), "whole number"), (dict(lr=0), "above 0"),
    (dict(lr=float("nan")), "finite"),
    (dict(dropout=1.0), "dropout"), (dict(seconds="soon"), "must be a number"), (dict(task="speech"), "task must be"),
    (dict(models=""), "choose at least one model among RNN, LSTM, GRU"), (dict(models="rnn,cnn"), "not cnn"),
    (dict(task="text", models="transformer", text=""), "paste or upload"),
    (dict(task="text", models="rnn", text="short"), "too short"),
    (dict(task="digits", models="transformer"), "choose models"),
])
def test_nonsense_gets_a_sentence(change, message):
    with pytest.raises(UserError, match=message):
        settings(**change)


def test_a_huge_paste_is_cut_to_the_cap_with_a_notice():
    s, notices = settings(task="text", models="rnn", text="好" * (50 * 2**20 // 3))   # a 50 MB paste
    assert len(s.text) == live.CAPS["characters"] and "first" in notices[0]


def test_digits_stream_updates_and_the_loss_falls(data_dir):
    s, notices = settings(models="rnn,gru", epochs=3, hidden=32)
    keep = {}
    updates = list(live.train(s, notices, keep=keep, data_dir=data_dir))
    assert len(updates) >= 2 and all(not u["done"] for u in updates[:-1]) and updates[-1]["done"]
    final = updates[-1]
    json.dumps(final)                                         # the updates are JSON
    for name in ("rnn", "gru"):
        history = final["models"][name]["history"]
        assert [r["epoch"] for r in history] == [1, 2, 3]
        assert history[-1]["train_loss"] < history[0]["train_loss"]
        assert final["models"][name]["status"] == "done" and name in keep
    assert sum(1 for u in updates if u["models"]["rnn"]["history"]) >= 1   # epochs show while it trains
    assert all(0 <= final["models"][n]["history"][-1]["val_accuracy"] <= 1 for n in ("rnn", "gru"))
    from seqcompare import sketches
    answers = live.classify({n: keep[n] for n in ("rnn", "gru")}, np.asarray(sketches.render(3, size=280)))
    assert set(answers) == {"rnn", "gru"}
    assert all(abs(sum(a["probabilities"]) - 1) < 1e-3 and 0 <= a["label"] <= 9 for a in answers.values())
    csv = live.curves_csv(final).splitlines()
    assert csv[0].startswith("model,epoch,") and len(csv) == 1 + 6


def test_text_models_learn_and_write(hotel):
    s, notices = settings(task="text", models="lstm,transformer", text=hotel, epochs=2, hidden=32)
    keep = {}
    final = list(live.train(s, notices, keep=keep))[-1]
    for name in ("lstm", "transformer"):
        history = final["models"][name]["history"]
        assert history[-1]["train_loss"] < history[0]["train_loss"] and math.isfinite(history[-1]["val_bpc"])
    out = live.generate({n: keep[n] for n in ("lstm", "transformer")}, keep["vocab"], "早餐", 20)
    assert all(t.startswith("早餐") and len(t) == 22 for t in out.values())
    # a pasted seed is read as the shipped models read one: its last MAX_SEED characters, on one line
    long = "房间\r\n很好" + "早" * 5000 + "餐"
    out = live.generate({"lstm": keep["lstm"]}, keep["vocab"], long, 5)
    assert out["lstm"].startswith("早" * (textgen.MAX_SEED - 1) + "餐") and len(out["lstm"]) == textgen.MAX_SEED + 5
    train_tab = importlib.import_module("seqcompare.ui.train_tab")      # (seqcompare.ui.train_tab is also a function)
    shown = train_tab.try_text({"task": live.TEXT.name, "models": {"lstm": keep["lstm"]}, "vocab": keep["vocab"]},
                               long, type("NoModels", (), {"models": {}})(), "en")
    assert "last 200" in shown and shown.count("LSTM") == 1


def test_stop_ends_the_run_and_keeps_what_was_learned(data_dir):
    s, notices = settings(models="lstm", epochs=30, images=3000, seconds=120)
    stop, updates = threading.Event(), []
    for update in live.train(s, notices, stop=stop, data_dir=data_dir):
        updates.append(update)
        if update["models"]["lstm"]["step"]:
            stop.set()
    final = updates[-1]
    assert final["done"] and final["stopped"] and len(final["models"]["lstm"]["history"]) < 30
    assert final["models"]["lstm"]["status"] == "stopped"
    assert final["progress"] < 1.0                                   # how far the time budget went, not 100 %


def test_the_time_budget_is_shared(data_dir):
    """4 s for two models that would need minutes for their 30 epochs: each stops within its share."""
    s, notices = settings(models="rnn,lstm", epochs=30, images=5000, seconds=4)
    final = list(live.train(s, notices, data_dir=data_dir))[-1]
    assert all(m["status"] == "out_of_time" and m["epochs_run"] < 30 for m in final["models"].values())
    assert final["elapsed"] < 4 * s.seconds        # elapsed counts from after the data loading


def test_uploads_that_are_not_text(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "latin1.txt").write_bytes("café crème ".encode("latin-1") * 100)
    (tmp_path / "ok.txt").write_text("早餐很好。" * 200, encoding="utf-8")
    for name, message in (("empty.txt", "is empty"), ("binary.txt", "not a text file"), ("latin1.txt", "not UTF-8")):
        with pytest.raises(UserError, match=message):
            live.read_upload(tmp_path / name)
    assert live.read_upload(tmp_path / "ok.txt").startswith("早餐很好")
    text, message = train_tab.load_text(str(tmp_path / "binary.txt"))
    assert "not a text file" in message


def test_the_tab_streams_and_sessions_stay_apart(data_dir, monkeypatch, digit_bank):
    """Each session's trained models live in its own state: another session never sees them."""
    monkeypatch.setenv("SEQCOMPARE_DATA", str(data_dir))
    a = list(train_tab.run("digits", ["rnn"], 16, 1, 0, 0.005, 1, 30, "", 600, 0, None))
    b = list(train_tab.run("digits", ["gru"], 16, 1, 0, 0.005, 1, 30, "", 600, 0, None))
    session_a, session_b = a[-1][-1], b[-1][-1]
    assert set(session_a["models"]) == {"rnn"} and set(session_b["models"]) == {"gru"}
    assert len(a) >= 2 and a[-1][2] is not None and a[-1][4]          # curves, then the downloads
    assert sorted(p.rsplit("/", 1)[-1] for p in a[-1][4]) == ["curves.csv", "rnn.json", "rnn.safetensors"]
    from seqcompare import sketches
    import numpy as np
    drawing = np.asarray(sketches.render(3, size=280))
    table = train_tab.try_digit(session_a, drawing, digit_bank)
    assert "| RNN |" in table and "| GRU | — |" in table               # only this session's own model
    assert "train digit models first" in train_tab.try_digit(None, drawing, digit_bank)
    bad = list(train_tab.run("digits", ["rnn"], 0, 1, 0, 0.005, 1, 30, "", 600, 0, None))
    assert len(bad) == 1 and "hidden size" in bad[0][0] and bad[0][-1] is None
    train_tab._free(session_a)


def test_sweep_runs_a_grid_and_resumes_from_its_storage(data_dir, tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    kwargs = dict(models=("rnn",), grid=sweep.parse_grid(["hidden=8", "layers=1,2"]), epochs=1, limit=300,
                  storage=storage, data_dir=data_dir)
    first = sweep.run("mnist", **kwargs)
    assert len(first["trials"]) == 2 and {t["params"]["layers"] for t in first["trials"]} == {1, 2}
    for t in first["trials"]:
        assert len(t["history"]) == 1 and 0 <= t["metrics"]["test_accuracy"] <= 1 and t["parameters"] > 0
    assert "0 trials done, 2 to run" in capsys.readouterr().out
    again = sweep.run("mnist", **kwargs, trainer=lambda *a: pytest.fail("a finished trial ran again"))
    assert again["trials"] == first["trials"] and "2 trials done, 0 to run" in capsys.readouterr().out
    sweep.save(again, tmp_path / "study.json")
    assert sweep.load(tmp_path / "study.json")["trials"] == first["trials"]


def test_the_default_study_is_one_factor_at_a_time():
    grid = sweep.settings_for("imdb", {})
    assert grid[0] == sweep.STUDIES["imdb"].baseline and len(grid) == 4
    assert all(sum(g[k] != grid[0][k] for k in g) == 1 for g in grid[1:])
    assert len(sweep.settings_for("imdb", sweep.parse_grid(["hidden=128,256", "layers=1,2", "dropout=0.1,0.5"]))) == 8
    for bad in (["width=3"], ["hidden=0"], ["dropout=1.5"], ["layers=two"]):
        with pytest.raises(UserError):
            sweep.parse_grid(bad)


def test_an_interrupted_sweep_resumes_the_interrupted_trial_only(tmp_path, capsys):
    """Ctrl-C marks the running trial failed, which GridSampler counts as visited: the resumed study must run
    that point again — and nothing that finished — and end with every point exactly once."""
    calls = []

    def trainer(name, params):
        calls.append((name, params["layers"]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return {"model": name, "params": params, "history": [{"epoch": 1}], "parameters": 1, "seconds": 0.0,
                "metrics": {"val_accuracy": 0.5 + 0.1 * params["layers"], "test_accuracy": 0.5, "test_n": 10}}

    kwargs = dict(models=("rnn", "gru"), grid=sweep.parse_grid(["layers=1,2"]), epochs=1,
                  storage=f"sqlite:///{tmp_path / 'study.db'}", trainer=trainer)
    with pytest.raises(KeyboardInterrupt):
        sweep.run("mnist", **kwargs)
    first, interrupted = calls[0], calls[1]
    result = sweep.run("mnist", **kwargs)
    assert "1 trials done, 3 to run" in capsys.readouterr().out
    assert first not in calls[2:] and interrupted in calls[2:] and len(calls) == 2 + 3
    assert sorted((t["model"], t["params"]["layers"]) for t in result["trials"]) == \
        [("gru", 1), ("gru", 2), ("rnn", 1), ("rnn", 2)]
    again = sweep.run("mnist", **kwargs)
    assert len(calls) == 5 and again["trials"] == result["trials"]


def test_word2vec_vectors_are_computed_once_per_data(tmp_path, monkeypatch):
    """The IMDb study's trials (and a resumed study) share word2vec vectors cached under the data's key."""
    from seqcompare import data, reviews

    monkeypatch.setattr(data, "CACHE_DIR", tmp_path)
    ids = [[1, 2, 3, 4, 2, 3], [4, 3, 2, 1, 5], [5, 1, 2]] * 5
    first = reviews.cached_word_vectors(ids, 6, 8)
    real = reviews.word_vectors
    monkeypatch.setattr(reviews, "word_vectors", lambda *a, **k: pytest.fail("word2vec ran again"))
    assert first.shape == (6, 8) and reviews.cached_word_vectors(ids, 6, 8).equal(first)
    monkeypatch.setattr(reviews, "word_vectors", real)
    other = reviews.cached_word_vectors(ids[:-1], 6, 8)                  # other reviews: another key
    assert other.shape == (6, 8) and len(list((tmp_path / "word2vec").glob("*.safetensors"))) == 2


def _training_threads() -> int:
    return sum(t.name == "seqcompare-live-training" and t.is_alive() for t in threading.enumerate())


def _wait(condition, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_cancelled_or_vanished_client_ends_the_training(data_dir, monkeypatch):
    """Through a real Gradio server (in this process, so its threads can be counted): a client that cancels
    (the Stop button's path) and a client process that dies (a closed tab) both end the training thread."""
    import subprocess
    import sys

    import gradio as gr
    from gradio_client import Client

    from seqcompare.ui import api

    monkeypatch.setenv("SEQCOMPARE_DATA", str(data_dir))
    with gr.Blocks() as demo:
        inputs = [gr.Textbox(), gr.Textbox(), *(gr.Number() for _ in range(6)), gr.Textbox(), gr.Number()]
        gr.Button().click(api.api_train_models, inputs, gr.JSON(), api_name="train_models")
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    long_run = ("digits", "lstm", 256, 3, 0, 0.005, 30, 120, "", 10000)    # minutes of work, cut at 120 s
    try:
        job = Client(demo.local_url, verbose=False).submit(*long_run, api_name="/train_models")
        assert _wait(lambda: any(u["models"]["lstm"]["step"] for u in job.outputs()), 60)
        job.cancel()
        assert _wait(lambda: _training_threads() == 0, 20), "Stop left the training running"
        script = ("import sys, time; from gradio_client import Client; "
                  f"Client(sys.argv[1], verbose=False).submit(*{long_run!r}, api_name='/train_models'); time.sleep(600)")
        client = subprocess.Popen([sys.executable, "-c", script, demo.local_url])
        try:
            assert _wait(lambda: _training_threads() == 1, 60), "the second training did not start"
        finally:
            client.kill()
            client.wait()
        assert _wait(lambda: _training_threads() == 0, 30), "a closed client left the training running"
    finally:
        demo.close()


def test_the_study_section_survives_a_missing_or_broken_file(tmp_path):
    import gradio as gr

    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "study.json").write_text('{"trials": [{"model": "lstm"}]}', encoding="utf-8")
    with gr.Blocks() as demo:
        train_tab.study_section(tmp_path)
    from seqcompare.ui import locale
    shown = " ".join(locale.shown(b.value) for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    assert "imdb/study.json cannot be shown" in shown and "No study shipped yet for mnist" in shown
    chinese = " ".join(locale.shown(b.value, "zh-CN") for b in demo.blocks.values() if isinstance(b, gr.Markdown))
    assert "无法显示 checkpoints/imdb/study.json" in chinese


def test_stop_in_the_tab_keeps_the_training_as_far_as_it_got_and_stops_only_that_session(data_dir, monkeypatch):
    """Stop ends this session's running training: its last answer holds the models, the results table (with its
    column names) and the downloads. Stop while the training waits in the queue ends it before it starts; with
    nothing to stop, the button says so. Another session's training is not touched."""
    monkeypatch.setenv("SEQCOMPARE_DATA", str(data_dir))
    mine, other = type("Request", (), {"session_hash": "mine"})(), type("Request", (), {"session_hash": "other"})()
    assert "no training is running" in train_tab.stopped(mine)
    train_tab.queued(other)                                             # another session waits in the queue
    train_tab.queued(mine)
    answers = []
    for answer in train_tab.run("digits", ["lstm", "gru"], 32, 1, 0, 0.005, 30, 120, "", 3000, 0, None, mine):
        answers.append(answer)
        if len(answers) == 2:
            assert "stopping" in train_tab.stopped(mine)
    message, progress, curves, rows, files, session = answers[-1]
    assert "stopped: the models keep what they learned so far" in message
    assert set(session["models"]) == {"lstm"} and any(f.endswith("lstm.safetensors") for f in files)   # the GRU waited
    assert list(rows["status"]) == ["stopped", "not started"] and "**100%**" not in progress     # stopped early
    assert "GRU not started" in progress
    assert list(rows.columns)[:3] == ["model", "status", "epochs"] and len(rows) == 2
    assert list(answers[0][3].columns)[:2] == ["model", "status"]             # the header while it trains
    assert "mine" not in train_tab.RUNS and not train_tab.RUNS["other"]["stop"].is_set()
    assert "stopped before it started" in train_tab.stopped(other)
    (said, *_), = list(train_tab.run("digits", ["rnn"], 16, 1, 0, 0.005, 1, 30, "", 600, 0, None, other))
    assert "stopped before it started" in said and "other" not in train_tab.RUNS
    train_tab._free(session)
