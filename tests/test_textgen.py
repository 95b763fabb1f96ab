"""Text generation with the shipped checkpoints: validation bpc, generation, next characters, the CLI."""

import importlib
import json

import pytest
import torch

from conftest import CHECKPOINTS
from seqcompare import UserError, checkpoints, data, precision, textgen
from test_digits import cli


def test_validation_bpc_on_a_slice(data_dir):
    result = textgen.evaluate(CHECKPOINTS / "hotel", data_dir, limit=150)
    _, val = textgen.split_reviews(data.hotel_reviews(data_dir))
    n = len(textgen.corpus(val[:150]))
    # the same characters for every model: all of 16 contiguous streams but each one's first
    assert {result[name]["characters"] for name in textgen.MODELS} == {n // 16 * 16 - 16}
    for name in textgen.MODELS:
        m = result[name]
        assert m["characters"] > 10_000
        assert m["perplexity"] == pytest.approx(2 ** m["bpc"], rel=1e-3)
        assert m["bpc"] < 6.0, (name, m)                        # better than a character bigram model


def test_generation_is_reproducible_and_reads_like_a_review(text_bank):
    a = text_bank.generate("早餐", 60, 0.8, 20, 7)
    b = text_bank.generate("早餐", 60, 0.8, 20, 7)
    for name in textgen.MODELS:
        assert a["models"][name]["text"] == b["models"][name]["text"]
        text = a["models"][name]["text"]
        assert text.startswith("早餐") and "\n" not in text and "□" not in text
        assert 0 < a["models"][name]["characters"] <= 60 and a["models"][name]["ms"] > 0
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= len(text) // 2   # mostly hanzi


def test_concurrent_requests_in_one_batch_get_the_answers_they_get_alone(text_bank):
    """A server's burst of requests, decoded together: each gets its own text (settings, seed, random
    seed), a bad one its own error, and beam search (stepped in the same batch) its own deterministic answer."""
    requests = [("早餐", 30, 0.8, 20, 1), ("房间很", 25, 1.0, 0, 2, 0.9), ("早餐", 0, 0.8, 20, 1),
                ("服务", 20, 0.8, 20, 3, 1.0, 2), ("早餐", 30, 0.8, 20, 5)]
    answers = text_bank.generate_many(requests)
    assert isinstance(answers[2], UserError) and "length" in str(answers[2])
    texts = lambda answer: {n: a["text"] for n, a in answer["models"].items()}
    for request, answer in zip(requests, answers):
        if not isinstance(answer, UserError):
            assert texts(answer) == texts(text_bank.generate(*request))
    assert [a.get("batch") for i, a in enumerate(answers) if i != 2] == [4, 4, 4, 4]
    assert texts(answers[0]) != texts(answers[4])                  # other random seed, other text


def test_an_eight_beam_search_is_stepped_with_the_sampled_requests(text_bank, monkeypatch):
    """One 8-beam request among sampled ones: every step runs each model once for all of them (the beams
    ride along the batch), and every request still gets the answer it gets alone."""
    requests = [("早餐", 25, 0.8, 20, seed) for seed in range(5)] + [("房间", 25, 0.8, 20, 0, 1.0, 8)]
    alone = [text_bank.generate(*r) for r in requests]
    calls = []
    decode = importlib.import_module("seqcompare.textgen.decode")     # (textgen.decode is the function)
    step = decode.step
    monkeypatch.setattr(decode, "step", lambda model, chars, state, device=None: calls.append(len(chars)) or
                        step(model, chars, state, device))
    answers = text_bank.generate_many(requests)
    for one, answer in zip(alone, answers):
        assert {n: a["text"] for n, a in answer["models"].items()} == {n: a["text"] for n, a in one["models"].items()}
    assert answers[-1]["models"]["lstm"]["score"] == alone[-1]["models"]["lstm"]["score"]
    # the first steps hold the 5 sampled rows and the beams (1 to 8) together; at most 25 steps per model
    assert max(calls) == 13 and len(calls) <= 25 * len(text_bank.served) + 4


def test_unseen_seed_characters_still_work(text_bank):
    result = text_bank.generate("😀 Hotel 龘", 20, 0.0, 0, 0)
    assert any("never saw" in n for n in result["notices"])
    assert all(len(a["text"]) > len("😀 Hotel 龘") for a in result["models"].values())


def test_empty_seed_starts_a_fresh_review_and_length_is_capped(text_bank):
    result = text_bank.generate("", 10_000, 1.0, 0, 1)
    assert any("capped" in n for n in result["notices"])
    for a in result["models"].values():
        assert 0 < a["characters"] <= textgen.MAX_LENGTH


def test_next_characters_are_a_distribution(text_bank):
    top = text_bank.next_chars("早餐", k=10)
    assert set(top) == set(textgen.MODELS)
    for pairs in top.values():
        probs = [p for _, p in pairs]
        assert len(pairs) == 10 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_parameter_counts_in_the_checkpoints():
    for name in ("rnn", "lstm", "gru"):
        meta = checkpoints.read_json(CHECKPOINTS / "hotel" / f"{name}.json")
        gates = {"rnn": 1, "gru": 3, "lstm": 4}[name]
        layers = meta["config"]["num_layers"]
        assert meta["parameters"] - meta["textbook_parameters"] == gates * meta["config"]["hidden_size"] * layers


def test_cli_generate_json():
    run = cli("generate", "房间", "--length", "30", "--temperature", "0", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["seed"] == "房间" and set(out["models"]) == {"rnn", "lstm", "gru", "transformer"}
    assert all(set(a) == {"text", "ms", "characters", "ended"} for a in out["models"].values())
    assert all(a["ended"] == (a["characters"] < 30) for a in out["models"].values())


@pytest.mark.parametrize("args, message", [
    (["--length", "0"], "length must be at least 1"),
    (["--temperature", "-1"], "temperature must be"),
    (["--top-k", "-3"], "top-k must be"),
    (["--top-p", "0"], "top-p must be"),
    (["--top-p", "nan"], "top-p must be"),
    (["--beams", "9"], "beams must be"),
    (["--beams", "0"], "beams must be"),
])
def test_cli_generate_errors(args, message):
    run = cli("generate", "早餐", *args)
    assert run.returncode == 2 and message in run.stderr and run.stderr.count("\n") == 1


def test_bad_settings_raise_user_errors(text_bank):
    with pytest.raises(UserError):
        text_bank.generate("早餐", "many", 1, 1, 0)
    with pytest.raises(UserError):
        text_bank.generate("早餐", 10, 1, 1, "seed")


def test_training_writes_checkpoints_the_app_loads(data_dir, tmp_path):
    """A smoke run of the real pipeline (one epoch on 200 reviews) round-trips through the app's loader,
    for a recurrent model and the Transformer; the weights are stored as float16 and scored after that."""
    textgen.train(["lstm", "transformer"], data_dir, tmp_path, epochs=1, limit=200)
    bank = textgen.TextModels(tmp_path, names=("lstm", "transformer"))
    assert not bank.errors
    assert bank.meta["lstm"]["config"] == {"cell": "lstm", "vocab_size": len(bank.vocab), "num_layers": 1, **textgen.ARCH}
    assert bank.meta["transformer"]["config"] == {"vocab_size": len(bank.vocab), **textgen.TRANSFORMER_ARCH}
    _, val = textgen.split_reviews(data.hotel_reviews(data_dir)[:200])
    ids = torch.tensor(bank.vocab.encode(textgen.corpus(val)))
    for name in ("lstm", "transformer"):
        meta = bank.meta[name]
        assert meta["validation"]["bpc"] > 0 and len(meta["history"]) == 1 and meta["train"]["world_size"] == 1
        assert meta["validation"] == textgen.score_text(bank.models[name], ids)    # recomputed from the file
        assert meta["train_characters"] > 10_000
        out = bank.generate("早餐", 20, 0.8, 20, 0)["models"][name]
        assert out["text"].startswith("早餐")
    from safetensors import safe_open
    with safe_open(str(tmp_path / "transformer.safetensors"), "pt") as f:
        assert all(f.get_tensor(k).dtype == torch.float16 for k in f.keys())


def test_train_jobs_runs_the_models_side_by_side_and_records_the_wall_time(data_dir, tmp_path):
    """`train --jobs 2`: one process per model on one thread each; both checkpoints load, the run's wall
    time is written, and report quotes it only for a full run (no --epochs or --limit)."""
    from seqcompare import results

    run = cli("train", "hotel", "--models", "rnn,gru", "--epochs", "1", "--limit", "200", "--jobs", "2",
              "--out", str(tmp_path), "--data-dir", str(data_dir))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[rnn] rnn epoch 1/1" in run.stdout and "[gru] gru epoch 1/1" in run.stdout
    assert "it/s" not in run.stdout + run.stderr                  # epoch lines, no progress bars
    bank = textgen.TextModels(tmp_path, names=("rnn", "gru"))
    assert not bank.errors and all(m["train"]["world_size"] == 1 for m in bank.meta.values())
    record = checkpoints.read_json(tmp_path / "training_run.json")
    assert sorted(record["models"]) == ["gru", "rnn"] and record["jobs"] == 2 and record["wall_seconds"] > 0
    assert "one after another" in results.training_time(tmp_path, bank.meta)   # a smoke run is not quoted
    checkpoints.write_json(tmp_path / "training_run.json", {**record, "epochs": None, "limit": None})
    assert "wall time, 2 at a time" in results.training_time(tmp_path, bank.meta)
    retrained = {**bank.meta, "gru": {**bank.meta["gru"], "train_seconds": 60.0}}     # a later run wrote the GRU
    partly = results.training_time(tmp_path, retrained)
    wall = record["wall_seconds"] + 60
    assert partly.startswith(f"{wall / 60:.0f} min: RNN in ") and partly.endswith("then GRU in 1 min of its own training")
    checkpoints.write_json(tmp_path / "training_run.json", {**record, "train_seconds": {}})
    assert "one after another" in results.training_time(tmp_path, bank.meta)      # a run that wrote none of them


def test_train_jobs_reports_a_failed_model_in_one_line(data_dir, tmp_path):
    """Two reviews are too little text: each process stops at once, and the run says why in one line."""
    run = cli("train", "hotel", "--models", "rnn,gru", "--jobs", "2", "--limit", "2", "--out", str(tmp_path),
              "--data-dir", str(data_dir))
    assert run.returncode == 2 and "Traceback" not in run.stderr and "epoch" not in run.stdout
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("seqcompare: error: training gru, rnn failed: too "
                                                                "little text to train on")
    run = cli("train", "hotel", "--models", "rnn,gru", "--jobs", "2", "--data-dir", str(tmp_path / "missing"))
    assert run.returncode == 2 and run.stderr.startswith("seqcompare: error: data folder") and not run.stdout


def test_bench_keeps_its_shape_and_times_a_burst():
    """`bench --json` keeps textgen.model_ms.<model>.median and textgen.total_ms.median, and adds the
    burst of concurrent requests written as one batch."""
    from seqcompare import bench

    r = bench.bench_textgen(CHECKPOINTS / "hotel", 2)
    assert set(r["model_ms"]) == set(textgen.MODELS) and all(m["median"] > 0 for m in r["model_ms"].values())
    assert r["total_ms"]["median"] >= max(m["median"] for m in r["model_ms"].values())
    assert r["burst"]["requests"] == bench.BURST and r["burst"]["batched_ms"]["runs"] == 3
    assert 0 < r["burst"]["batched_ms"]["median"] and r["burst"]["one_at_a_time_ms"] > 0
    assert r["burst"]["seeds_apart_ms"]["runs"] == 3 and r["burst"]["seeds_apart_ms"]["median"] > 0
    assert set(r["burst"]["model_ms"]) == set(r["burst"]["seeds_apart_model_ms"]) == set(textgen.MODELS)
    # the serving precision each model ran, and the machine's own limit: bytes per character → floor
    assert set(r["precision"].values()) <= set(precision.PLANS) and set(r["floor_ms"]) == set(textgen.MODELS)
    for name, f in r["floor"].items():
        assert f["floor_ms"] == r["floor_ms"][name] > 0 and f["bytes_per_char"] > 800_000   # the RNN at int4+int8: 0.88 MB
        assert f["times_floor"] == pytest.approx(r["model_ms"][name]["median"] / f["floor_ms"], rel=0.01)
    # one float32 step against its matrix products alone: three for a one-layer cell, four a block and the head
    assert {n: s["products"] for n, s in r["fp32_step"].items()} == {"rnn": 3, "lstm": 3, "gru": 3, "transformer": 13}
    for s in r["fp32_step"].values():
        assert s["step_us"] > 0 and s["products_us"] > 0 and s["rest_us"] == pytest.approx(
            s["step_us"] - s["products_us"], abs=0.11)
    fp32 = bench.bench_textgen(CHECKPOINTS / "hotel", 1, precision="fp32")
    assert set(fp32["precision"].values()) == {"fp32"}
    assert fp32["floor"]["lstm"]["bytes_per_char"] > 1.5 * r["floor"]["lstm"]["bytes_per_char"] or \
        r["precision"]["lstm"] == "fp32"


def test_the_view_benches_time_each_view_and_print_a_line_for_each(capsys):
    """`bench --tasks explain,cells`: each view timed as the tabs answer it, with its bar; the explain views also
    per model; `bench` prints one line per view."""
    from seqcompare import bench, output

    r = bench.run(CHECKPOINTS, ["explain", "cells"], runs=1)
    assert set(r["explain"]) == {"bar_ms", "textgen", "reviews", "digits"}
    assert set(r["explain"]["textgen"]["model_ms"]) == set(textgen.MODELS)
    assert set(r["explain"]["digits"]["model_ms"]) == {"rnn", "lstm", "gru"}
    views = {"gates_textgen", "gates_reviews", "gates_digits", "sentiment"}
    assert views <= set(r["cells"]) and r["cells"]["bar_ms"] == r["explain"]["bar_ms"] == bench.VIEW_BAR_MS
    assert all(r["cells"][v]["total_ms"]["runs"] == 1 and r["cells"][v]["total_ms"]["median"] > 0 for v in views)
    output.bench(r, ["explain", "cells"], as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("explain ") for line in lines) == 3 and sum(line.startswith("cells ") for line in lines) == 4


def test_a_draw_gives_the_numbers_its_generator_gives_one_at_a_time():
    """A Draw takes its uniform numbers a text's length at a time; they are the ones one call per character gives
    (so a seed writes the same text), on past a block too."""
    draw = textgen.Draw("早餐", 30, 0.8, 20, 1.0, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    assert [draw.uniform() for _ in range(70)] == [float(torch.rand(1, generator=g)) for _ in range(70)]
