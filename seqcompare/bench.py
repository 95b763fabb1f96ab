"""Benchmarks on this machine: per-request latency per task and model (median, p95), generation speed,
evaluation throughput and cold start."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from seqcompare import bench_compiled, bench_kernels, bench_layout, bench_training, checkpoints, data, digits, precision as precisions, reviews, sketches, tasks, textgen
from seqcompare.machine import bf16_features, machine

REVIEW_250 = " ".join((("The film opens with a long, quiet shot of a harbour at dawn, and for the first half hour "
                        "it trusts its audience to watch and listen. ") * 12).split()[:250])
BURST = 30              # concurrent generation requests timed as one batch (the load test's generate_text calls)


def summary(samples: list[float]) -> dict:
    return {"median": round(statistics.median(samples), 3),
            "p95": round(float(np.percentile(samples, 95)), 3), "runs": len(samples)}


def timed(fn, runs: int) -> tuple[list[float], list]:
    fn()                                                # warm-up
    total, outs = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        outs.append(fn())
        total.append((time.perf_counter() - t0) * 1000)
    return total, outs


def bench_digits(folder: Path, runs: int, precision: str | None = None) -> dict:
    bank = digits.DigitModels(folder, precision=precision)
    sketch = np.asarray(sketches.render(8, size=800))   # what the Sketchpad sends: 800×800 RGBA
    total, outs = timed(lambda: bank.predict(sketch), runs)
    per_model = {n: summary([o["models"][n]["ms"] for o in outs]) for n in bank.models}
    return {"request": "one 800×800 sketch, all models (preprocessing included)", "total_ms": summary(total),
            "model_ms": per_model}


def bench_reviews(folder: Path, runs: int, precision: str | None = None) -> dict:
    bank = reviews.ReviewModels(folder, precision=precision)
    words = len(REVIEW_250.split())
    total, outs = timed(lambda: bank.predict(REVIEW_250, trace=False), runs)
    per_model = {n: summary([o["models"][n]["ms"] for o in outs]) for n in bank.models}
    return {"request": f"one {words}-word review, all models", "total_ms": summary(total), "model_ms": per_model}


def bench_textgen(folder: Path, runs: int, precision: str | None = None) -> dict:
    """One request's time per model at the serving `precision` (`precision`: the plan each ran), against
    the machine's own limit (`floor`, see `floor`), and a burst of concurrent requests: with one seed, and with
    seeds of as many lengths (`seeds_apart`: 1 to BURST characters)."""
    bank = textgen.TextModels(folder, precision=precision)
    total, outs = timed(lambda: bank.generate("早餐", 100, 0.8, 20, 0, stop_at_end=False), runs)
    per_model = {n: summary([o["models"][n]["ms"] for o in outs]) for n in bank.models}
    chars = {n: sum(o["models"][n]["characters"] for o in outs) / (sum(o["models"][n]["ms"] for o in outs) / 1000)
             for n in bank.models}
    # a burst of concurrent users, as the server batches them: 30 requests (other random seeds) at once
    burst = [("早餐", 100, 0.8, 20, i) for i in range(BURST)]
    together, together_outs = timed(lambda: bank.generate_many(burst, stop_at_end=False), max(3, runs // 10))
    # … and the same with seeds of BURST different lengths (the Transformer's rows at as many positions)
    apart = [(TEXT_200[:i + 1], 100, 0.8, 20, i) for i in range(BURST)]
    spread, spread_outs = timed(lambda: bank.generate_many(apart, stop_at_end=False), max(3, runs // 10))
    burst_ms = lambda outs: {n: round(statistics.median(o[0]["models"][n]["ms"] for o in outs), 1) for n in bank.models}
    floors = {n: floor(m, per_model[n]["median"]) for n, m in bank.served.items()}
    steps = {n: anatomy(m, max(3, min(15, runs // 3))) for n, m in bank.models.items()}      # the fp32 models
    return {"request": "100 characters from 早餐, all models (written on past a review's end)",
            "total_ms": summary(total), "model_ms": per_model, "precision": bank.plans,
            "floor_ms": {n: f["floor_ms"] for n, f in floors.items()}, "floor": floors, "fp32_step": steps,
            "chars_per_second": {n: round(v) for n, v in chars.items()},
            "burst": {"requests": BURST, "batched_ms": summary(together),
                      "one_at_a_time_ms": round(statistics.median(total) * BURST, 1), "model_ms": burst_ms(together_outs),
                      "seeds_apart_ms": summary(spread), "seeds_apart_model_ms": burst_ms(spread_outs)}}


def weight_bytes(model) -> int:
    """Bytes of weights one decoding step reads: every parameter and buffer once, except an embedding
    table, of which a step reads one row (unless it is also the output layer, read whole)."""
    head = model.output_weights()[0] if getattr(model, "decoder", None) is None else None
    rows = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding) and m.weight is not head}
    tensors = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return sum(t[0].nbytes if key in rows else t.nbytes for key, t in tensors.items())


def floor(model, model_ms: float, repeats: int = 200) -> dict:
    """The machine's own limit for one model: the bytes of weights read per character, the time of a
    float32 matrix-vector product reading as many bytes (median, measured now), the floor they imply in
    ms per 100 characters, and the model's time (`model_ms`, per 100 characters) as a multiple of it."""
    nbytes = weight_bytes(model)
    a = torch.randn(max(1, nbytes // 4 // 1024), 1024)
    x = torch.randn(1024)
    times, _ = timed(lambda: torch.mv(a, x), repeats)
    matvec_us = statistics.median(times) * 1000
    floor_ms = round(matvec_us * 100 / 1000, 3)
    return {"bytes_per_char": nbytes, "matvec_us": round(matvec_us, 1), "floor_ms": floor_ms,
            "times_floor": round(model_ms / floor_ms, 2)}


def anatomy(model, rounds: int, steps: int = 100) -> dict:
    """One decoding step of a float32 text model against its matrix products alone (`step_products`: the same
    weights, layer by layer, one row each), µs per step, medians of `rounds` runs of `steps` greedy steps
    from a three-character seed, the two taking turns. The rest is their difference: the model's other
    operations (norms, attention, GELU; the cell's nonlinearities) and the decoding loop's own work around
    the model (the input tensor, the masked unknown character, the argmax), which is alike for every model."""
    import torch.nn.functional as F

    from seqcompare.textgen.decode import step

    products = [(torch.randn(1, w.shape[1]), w, b) for w, b in model.step_products()]

    def whole() -> float:
        logits, state = model(torch.tensor([[1, 2, 3]]))
        logits = logits[:, -1]
        t0 = time.perf_counter()
        for _ in range(steps):
            logits, state = step(model, [int(logits[0].argmax())], state)
        return time.perf_counter() - t0

    def alone() -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            for x, w, b in products:
                F.linear(x, w, b)
        return time.perf_counter() - t0

    times = {"step": [], "products": []}
    with torch.inference_mode():
        whole(), alone()                                            # warm-up
        for _ in range(rounds):
            times["step"].append(whole())
            times["products"].append(alone())
    step_us, products_us = (round(statistics.median(times[k]) / steps * 1e6, 1) for k in ("step", "products"))
    return {"products": len(products), "step_us": step_us, "products_us": products_us,
            "rest_us": round(step_us - products_us, 1)}


TEXT_200 = ("早餐很丰富，房间干净整洁，服务员的态度也很热情。酒店离地铁站很近，出行方便，周围吃饭的地方也多。" * 5)[:200]


VIEW_BAR_MS = 300         # a view inside the models answers within this, per request


def view_inputs(root: Path) -> tuple:
    """What the view benchmarks read: the three tasks' banks (their fp32 models, which the views run) and one
    800×800 sketch."""
    return (*(task.bank(task.folder(root)) for task in (tasks.HOTEL, tasks.IMDB, tasks.MNIST)),
            np.asarray(sketches.render(8, size=800)))


def time_views(jobs: dict, runs: int, per_model: bool = False) -> dict:
    """{key: {request, total_ms[, model_ms]}} for jobs {key: (request, fn)}; `per_model`: each model's own ms,
    as the answer reports it."""
    out = {}
    for key, (request, fn) in jobs.items():
        total, outs = timed(fn, runs)
        out[key] = {"request": request, "total_ms": summary(total)}
        if per_model:
            names = [n for n, a in outs[0]["models"].items() if "ms" in a]
            out[key]["model_ms"] = {n: summary([o["models"][n]["ms"] for o in outs]) for n in names}
    return out


def bench_explain(root: Path, runs: int) -> dict:
    """The per-input memory views (`influence`): every model's influence of each input on its answer, for a
    200-character text, a 250-word review and one 800×800 sketch (preprocessing included)."""
    from seqcompare import influence

    text_bank, review_bank, digit_bank, sketch = view_inputs(root)
    jobs = {"textgen": (f"a {len(TEXT_200)}-character text, all text models",
                        lambda: influence.explain_text(text_bank, TEXT_200)),
            "reviews": (f"one {len(REVIEW_250.split())}-word review, all review models",
                        lambda: influence.explain_review(review_bank, REVIEW_250)),
            "digits": ("one 800×800 sketch, the recurrent models (preprocessing included)",
                       lambda: influence.explain_digit(digit_bank, sketch))}
    return {"bar_ms": VIEW_BAR_MS, **time_views(jobs, runs, per_model=True)}


def bench_cells(root: Path, runs: int) -> dict:
    """The views inside the cells as the tabs answer them (figure or HTML included, so the tabs' builders are
    timed): the gates for a 200-character hotel text, a 250-word review and one 800×800 sketch, and the
    sentiment for the same text."""
    from seqcompare import sentiment
    from seqcompare.ui import gates_view, sentiment_view

    text_bank, review_bank, digit_bank, sketch = view_inputs(root)
    probes = sentiment.load(tasks.HOTEL.folder(root))
    jobs = {"gates_textgen": (f"gates of a {len(TEXT_200)}-character text, RNN, LSTM and GRU",
                              lambda: gates_view.gates_figure(text_bank, "hotel", TEXT_200)),
            "gates_reviews": (f"gates of one {len(REVIEW_250.split())}-word review, RNN, LSTM and GRU",
                              lambda: gates_view.gates_figure(review_bank, "imdb", REVIEW_250)),
            "gates_digits": ("gates of one 800×800 sketch, RNN, LSTM and GRU (preprocessing included)",
                             lambda: gates_view.gates_figure(digit_bank, "mnist", sketch)),
            "sentiment": (f"P(positive) and the sentiment unit of a {len(TEXT_200)}-character review, all text models",
                          lambda: sentiment_view.sentiment_html(text_bank, TEXT_200, "en", probes))}
    return {"bar_ms": VIEW_BAR_MS, "machine": machine(), "load_average": [round(v, 1) for v in os.getloadavg()],
            **time_views(jobs, runs)}


def cold_start(timeout: float = 120) -> dict:
    """Seconds from `python app.py` to the first HTTP 200 on loopback."""
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    root = Path(__file__).resolve().parent.parent
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200:
                    return {"seconds": round(time.perf_counter() - t0, 2)}
            except OSError:
                time.sleep(0.1)
        return {"seconds": None, "error": f"no answer within {timeout:.0f} s"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def throughput(fn, items: int) -> float:
    """Items per second for one call of fn over `items` items."""
    t0 = time.perf_counter()
    fn()
    return round(items / (time.perf_counter() - t0), 1)


def bench_evaluation(root: Path, data_dir: Path | None) -> dict:
    """Batched scoring speed, as `evaluate` runs it: digits and reviews per second, characters per second."""
    images, _ = data.mnist(data_dir, train=False)
    images = images[:5000]
    bank = tasks.MNIST.bank(tasks.MNIST.folder(root))
    out = {"digits": {n: throughput(lambda m=m: digits.predict_labels(m, images), len(images))
                      for n, m in bank.models.items()}}
    texts, _, _ = data.imdb(data_dir, "test")
    texts = texts[::25]                                     # 1,000 reviews, both labels
    rbank = tasks.IMDB.bank(tasks.IMDB.folder(root))
    ids = reviews.encode(rbank.tokenizer, texts, reviews.MAX_TOKENS)
    out["reviews"] = {n: throughput(lambda m=m: reviews.predict_labels(m, ids), len(ids))
                      for n, m in rbank.models.items()}
    tbank = tasks.HOTEL.bank(tasks.HOTEL.folder(root))
    val = torch.tensor(tbank.vocab.encode(textgen.corpus(textgen.split_reviews(data.hotel_reviews(data_dir))[1])))
    out["textgen"] = {n: throughput(lambda m=m: textgen.score_text(m, val), len(val))
                      for n, m in tbank.models.items()}
    return {"units": {"digits": f"MNIST test images/s ({len(images):,})",
                      "reviews": f"IMDb test reviews/s ({len(ids):,}, tokenized beforehand)",
                      "textgen": f"validation characters/s ({len(val):,})"}, **out}


def bench_precision(root: Path, runs: int, data_dir: Path | None) -> dict:
    from seqcompare import precision_table

    return precision_table.measure(root, runs, data_dir)


EXTRA = {"precision": bench_precision,               # first: with --save, the table the others then read
         "evaluation": lambda root, runs, data_dir: bench_evaluation(root, data_dir),
         "coldstart": lambda root, runs, data_dir: cold_start(),
         "explain": lambda root, runs, data_dir: bench_explain(root, runs),
         "training": lambda root, runs, data_dir: bench_training.run(root),    # fp32 against bf16 steps
         "layout": lambda root, runs, data_dir: bench_layout.run(root, runs),  # a trial: column-major weights
         "kernels": lambda root, runs, data_dir: bench_kernels.run(root, runs),   # one operation at a time
         "compiled": lambda root, runs, data_dir: bench_compiled.run(root, runs),   # a trial: torch.compile
         "cells": lambda root, runs, data_dir: bench_cells(root, runs)}


NEEDS_DATA = {"evaluation", "precision"}


def run(root: Path, names=(*tasks.BENCH, *EXTRA), runs: int = 50, data_dir: Path | None = None,
        precision: str | None = None, save: bool = False) -> dict:
    """Each named benchmark: a task's request latency (`tasks.BENCH`: digits, reviews, textgen) at the
    serving `precision`, or one of EXTRA; {"machine": …, "cpu_features": …, name: result, …}. The precision
    table is measured first and, with `save`, written before the others run (auto reads it)."""
    features = bf16_features()
    result = {"machine": machine(), "cpu_features": {**features, "key": precisions.cpu_key(features)},
              "serving_precision": precisions.resolve(precision)}
    for name in sorted(names, key=lambda n: n != "precision"):
        if name in EXTRA:
            result[name] = EXTRA[name](root, runs, data_dir)
            if name == "precision" and save:
                from seqcompare import precision_table

                precision_table.save(root, result[name])
        else:
            task = tasks.BENCH[name]
            result[name] = task.bench(task.folder(root), runs, precision)
    if save:
        save_result(result, root)
    return result


TRIALS = {"layout": bench_layout.ARTIFACT, "kernels": bench_kernels.ARTIFACT,      # their own artifacts, as they ran
          "compiled": bench_compiled.ARTIFACT}
ARTIFACTS = bench_training.ARTIFACT.parent      # where those and the training steps go, beside the repository root


def save_result(result: dict, folder: Path) -> None:
    """`bench --save`: FOLDER/bench.json (the README's tables) with the tasks that ran, but the precision
    table (already in FOLDER/precision.json), the training steps (bench_training.save) and the TRIALS, which go
    to their own artifacts beside it in the repository; a run of those alone leaves bench.json as it is."""
    rest = {k: v for k, v in result.items() if k not in ("training", "precision", *TRIALS)}
    if set(rest) - {"machine", "cpu_features", "serving_precision"}:
        checkpoints.write_json(folder / "bench.json", rest)
    bench_training.save(result, folder.parent)
    for name, artifact in TRIALS.items():
        if name in result:
            checkpoints.write_json(folder.parent / artifact, result[name])
