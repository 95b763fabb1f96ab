"""The README's results tables, made from the checkpoints' metrics (`python -m seqcompare report`)."""

from __future__ import annotations

import re
from pathlib import Path

from seqcompare import checkpoints, digits, influence, metrics, plots, reviews, textgen

START, END = "<!-- results:start -->", "<!-- results:end -->"
TUTORIAL_START, TUTORIAL_END = "<!-- tutorials:start -->", "<!-- tutorials:end -->"

# Published figures of the tutorials this project grew from (and the baselines named in its issues).
TUTORIAL = {
    "mnist": {"lenet": 0.9908, "lstm": 0.9890, "rnn": 0.9644, "time": "≈ 33 min, its recipe timed on this CPU"},
    "imdb": {"lstm": 0.8850, "rnn": 0.6548, "time": "2,054 s (LSTM) + 804 s (RNN) on a GPU"},
    "hotel": {"bpc": "9.5 bits per character (a 2-layer LSTM of 512; only the characters its vocabulary knows "
                     "counted) after 68 s of training, timed on this CPU", "ms50": 48.2},
}


def _meta(folder: Path, names) -> dict[str, dict]:
    out = {}
    for name in names:
        try:
            out[name] = checkpoints.read_json(folder / f"{name}.json")
        except checkpoints.CheckpointError:
            pass
    return out


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _classifier_rows(meta: dict[str, dict]) -> list[list]:
    return [[plots.label(n), metrics.with_interval(m["test"]["accuracy"], m["test"]["n"]),
             *(f"{m['test'][k]:.4f}" for k in ("precision", "recall", "f1")),
             f"{m['parameters']:,}", f"{m['train_seconds']:.0f}", f"{m['best_epoch']}/{m['train']['epochs']}"]
            for n, m in meta.items()]


def tables(root: Path) -> str:
    """Markdown for the three tasks' results; a task without checkpoints says so."""
    parts = []
    cols = ["model", "accuracy (95% interval)", "precision", "recall", "F1", "parameters", "train s", "best epoch"]
    mnist = _meta(root / "mnist", digits.MODELS)
    parts.append("**Digits** — MNIST test set, 10,000 images; macro precision/recall/F1.\n\n" +
                 (_table(cols, _classifier_rows(mnist)) if mnist else "_no checkpoints yet_"))
    imdb = _meta(root / "imdb", reviews.MODELS)
    w2v = max((m.get("word2vec_seconds", 0) for m in imdb.values()), default=0)
    parts.append("**Reviews** — IMDb test split, 25,000 reviews; precision/recall/F1 of the positive class"
                 + (f"; the word2vec starting embeddings, shared by the three, took {w2v:.0f} s more" if w2v else "")
                 + ".\n\n" +
                 (_table(cols, _classifier_rows(imdb)) if imdb else "_no checkpoints yet_"))
    hotel = _meta(root / "hotel", textgen.MODELS)
    if hotel:
        rows = [[plots.label(n), f"{m['validation']['bpc']:.3f}", f"{m['validation']['perplexity']:.1f}",
                 f"{m['parameters']:,}", f"{m['textbook_parameters']:,}", f"{m['train_seconds']:.0f}",
                 f"{m['best_epoch']}/{m['train']['epochs']}"] for n, m in hotel.items()]
        chars = next(iter(hotel.values()))["validation"]["characters"]
        parts.append(f"**Text generation** — ChnSentiCorp validation reviews (every 10th), {chars:,} characters "
                     "scored (the Transformer: each with at least half its context of history).\n\n"
                     + _table(["model", "bits/char", "perplexity", "parameters", "textbook count", "train s",
                               "best epoch"], rows))
        bench_file = root / "bench.json"
        summary = textgen.summary(hotel, checkpoints.read_json(bench_file) if bench_file.is_file() else None)
        if summary:
            parts.append(summary)
    else:
        parts.append("**Text generation**\n\n_no checkpoints yet_")
    memory = memory_table(root)
    if memory:
        parts.append(memory)
    bench = root / "bench.json"
    if bench.is_file():
        b = checkpoints.read_json(bench)
        rows = [[task, plots.label(n), f"{m['median']:.2f}", f"{m['p95']:.2f}",
                 f"{b[task]['chars_per_second'][n]:,}" if "chars_per_second" in b[task] else "",
                 f"{b[task]['total_ms']['median']:.1f}" if i == 0 else "",
                 f"{b[task]['total_ms']['p95']:.1f}" if i == 0 else ""]
                for task in ("digits", "reviews", "textgen") if task in b
                for i, (n, m) in enumerate(b[task]["model_ms"].items())]
        parts.append(f"**Latency** — `python -m seqcompare bench`, one request at a time; {b['machine']}. "
                     "Milliseconds per model, and for the whole request (all models, preprocessing included).\n\n"
                     + "\n".join(f"- {task}: {b[task]['request']}" for task in ("digits", "reviews", "textgen") if task in b)
                     + "\n\n" + _table(["task", "model", "median ms", "p95 ms", "chars/s", "request median ms",
                                         "request p95 ms"], rows))
        burst = b.get("textgen", {}).get("burst")
        if burst:
            parts.append(f"**A burst of generations** — {burst['requests']} requests for 100 characters at once, "
                         f"written as one batch (`TextModels.generate_many`, what the server does with the "
                         f"generation requests waiting in its queue): {burst['batched_ms']['median'] / 1000:.2f} s "
                         f"for all {burst['requests']}, against {burst['one_at_a_time_ms'] / 1000:.2f} s one at a "
                         "time (the median request above, times the burst).")
        if "explain" in b:
            ex = b["explain"]
            rows = [[part, ex[part]["request"], f"{ex[part]['total_ms']['median']:.1f}", f"{ex[part]['total_ms']['p95']:.1f}",
                     ", ".join(f"{plots.label(n)} {m['median']:.1f}" for n, m in ex[part]["model_ms"].items())]
                    for part in ("textgen", "reviews", "digits") if part in ex]
            parts.append(f"**Memory views** — `bench` task `explain`: every model's influence of each input on its "
                         f"answer, one input at a time (the bar: {ex['bar_ms']} ms for all models).\n\n"
                         + _table(["tab", "input", "median ms", "p95 ms", "per model, median ms"], rows))
        if "evaluation" in b:
            ev = b["evaluation"]
            names = ("rnn", "lstm", "gru", "lenet", "transformer")
            rows = [[unit, *(f"{ev[part][n]:,.0f}" if n in ev[part] else "—" for n in names)]
                    for part, unit in ev["units"].items()]
            parts.append("**Evaluation throughput** — batched scoring as `evaluate` runs it, same machine and "
                         "threads.\n\n" + _table(["items per second", *(plots.label(n) for n in names)], rows))
        if b.get("coldstart", {}).get("seconds"):
            parts.append(f"**Cold start** — `python app.py` to the first HTTP 200: {b['coldstart']['seconds']} s.")
    for name, caption, flag in (("loadtest.json", "Many users", ""),
                                ("loadtest_training.json", "Many users while one trains", " --while-training")):
        if not (root / name).is_file():
            continue
        lt = checkpoints.read_json(root / name)
        parts.append(f"**{caption}** — `python -m seqcompare loadtest URL{flag} --save` ({lt.get('machine', 'this machine')}, "
                     f"app and clients together): {lt['calls']} calls at once from gradio_client on loopback (a third to "
                     f"each endpoint){_training_clause(lt) if flag else ''}, "
                     f"{lt['failed']} failed; latency p50 {lt['p50_s']:.2f} s, p95 {lt['p95_s']:.2f} s, max "
                     f"{lt['max_s']:.2f} s; p95 per endpoint: "
                     + ", ".join(f"{k} {v:.2f} s" for k, v in lt["per_endpoint_p95_s"].items()) + ".")
    return "\n\n".join(parts)


def _training_clause(lt: dict) -> str:
    """What the load test's JSON says of its live training ("training": {"ran", "running_at_end"})."""
    training = lt.get("training") or {"ran": "while_training" in lt,
                                      "running_at_end": lt.get("while_training") == "still training"}
    if not training["ran"]:
        return ", with a live training asked for but not under way when the calls began"
    return (", while a live training (train_models, three digit models) ran"
            + (" to the end" if training["running_at_end"] else ", finishing before the last call"))


MEMORY_TASKS = (("hotel", "Text generation", "validation characters"), ("imdb", "Reviews", "test reviews"),
                ("mnist", "Digits", "test digits"))


def memory_table(root: Path) -> str:
    """Each task's memory lengths per model, trained and untrained (the files `memory TASK --save` writes)."""
    mems = {}
    for task, _, _ in MEMORY_TASKS:
        try:
            mems[task] = influence.load_memory(root / task)
        except checkpoints.CheckpointError:
            mems[task] = None
    names = [n for n in ("rnn", "lstm", "gru", "transformer") if any(m and n in m["models"] for m in mems.values())]
    rows, counts = [], []
    for task, caption, what in MEMORY_TASKS:
        mem = mems[task]
        if not mem:
            continue
        counts.append(f"{caption.lower()} {mem['targets']:,} {what}")
        for state, part in (("trained", mem["models"]), ("untrained", mem.get("untrained", {}).get("models", {}))):
            rows.append([f"{caption} ({mem['unit']})" if state == "trained" else "", state,
                         *(influence.fmt_length(part[n]["memory_length"], len(part[n]["distance"])) if n in part
                           else "—" for n in names)])
    if not rows:
        return ""
    return ("**How far back each model looks** — memory length: the first distance back from a prediction at which "
            "an input's influence (the gradient norm of the log-probability of the answer), divided by the influence "
            "of the last input read and averaged over a fixed sample, falls below 1% (`python -m seqcompare memory "
            "TASK --save`; " + ", ".join(counts) + "). Untrained: the same architectures at initialisation.\n\n"
            + _table(["task", "", *(plots.label(n) for n in names)], rows))


def tutorial_tables(root: Path) -> str:
    """The tutorials' published figures next to the shipped checkpoints' measured ones."""
    parts = []
    for task, names, metric, caption in (
            ("mnist", digits.MODELS, "accuracy", "**Digits** — MNIST test accuracy"),
            ("imdb", reviews.MODELS, "accuracy", "**Reviews** — IMDb test accuracy (NBSVM, the classic "
                                                 "non-neural baseline: 0.912)")):
        meta = _meta(root / task, names)
        if not meta:
            continue
        rows = [[plots.label(n), f"{TUTORIAL[task][n]:.4f}" if n in TUTORIAL[task] else "—",
                 metrics.with_interval(m["test"][metric], m["test"]["n"])] for n, m in meta.items()]
        total = sum(m["train_seconds"] + m.get("word2vec_seconds", 0) / len(meta) for m in meta.values())
        rows.append(["training, all models", TUTORIAL[task]["time"], f"{total / 60:.0f} min on this CPU"])
        parts.append(caption + "\n\n" + _table(["model", "tutorial", "seqcompare"], rows))
    hotel = _meta(root / "hotel", textgen.MODELS)
    if hotel:
        rows = [[plots.label(n), f"{m['validation']['bpc']:.3f}"] for n, m in hotel.items()]
        parts.append("**Text generation** — validation bits per character. The tutorial's recipe scores "
                     f"{TUTORIAL['hotel']['bpc']}; an "
                     "interpolated character bigram model scores 6.0 on the same split. seqcompare trains all "
                     f"{len(hotel)} from scratch in {training_time(root / 'hotel', hotel)} on this CPU.\n\n"
                     + _table(["model", "bits/char"], rows))
    bench = root / "bench.json"
    if bench.is_file() and "textgen" in checkpoints.read_json(bench):
        b = checkpoints.read_json(bench)["textgen"]
        parts.append(f"Generation speed: the tutorial reports {TUTORIAL['hotel']['ms50']} ms for 50 characters "
                     "from its LSTM (its hardware); here 100 characters take "
                     + ", ".join(f"{plots.label(n)} {m['median']:.0f} ms" for n, m in b["model_ms"].items())
                     + " (medians, one thread).")
    if "transformer" in hotel:
        t = hotel["transformer"]
        parts.append("**The tutorial's last step, the Transformer.** The tutorial ends with a causal Transformer "
                     "language model as the answer to the recurrent models' short memory. Here it is trained and "
                     f"measured exactly like the other three: {t['parameters']:,} parameters ({t['config']['layers']} "
                     f"blocks, width {t['config']['width']}, context {t['config']['context']}), "
                     f"{t['validation']['bpc']:.3f} bits per character after {t['train_seconds'] / 60:.0f} min of "
                     "training on one CPU thread. An earlier trial on this CPU (2.4 M parameters, 4 blocks of width "
                     "192) reached 5.54 after 3 epochs, and learned nothing useful until its weights were "
                     "initialised small (std 0.02) instead of PyTorch's default N(0, 1) embeddings.")
    return "\n\n".join(parts)


def training_time(folder: Path, meta: dict[str, dict]) -> str:
    """How long training all the models took: the wall time of the full `train --jobs N` run that wrote
    these checkpoints (those it wrote: their training seconds match), plus the own training time of any it
    did not write; without such a run, the sum of their own times."""
    total = sum(m["train_seconds"] for m in meta.values())
    run = folder / "training_run.json"
    if run.is_file():
        r = checkpoints.read_json(run)
        wrote = [n for n, m in meta.items() if r.get("train_seconds", {}).get(n) == m["train_seconds"]]
        if wrote and not r.get("epochs") and not r.get("limit"):
            how = (f"{r['wall_seconds'] / 60:.0f} min of wall time, {r['jobs']} at a time on one thread each "
                   f"(`train {folder.name} --jobs {r['jobs']}`; their own training times add up to "
                   f"{sum(meta[n]['train_seconds'] for n in wrote) / 60:.0f} min)")
            rest = [n for n in meta if n not in wrote]
            if not rest:
                return how
            alone = sum(meta[n]["train_seconds"] for n in rest)
            return (f"{(r['wall_seconds'] + alone) / 60:.0f} min: {', '.join(map(plots.label, wrote))} in {how}, "
                    f"then {', '.join(map(plots.label, rest))} in {alone / 60:.0f} min of its own training")
    return f"{total / 60:.0f} min (one thread each, one after another)"


STUDY_START, STUDY_END = "<!-- study:start -->", "<!-- study:end -->"


def study_tables(root: Path) -> str:
    """The shipped studies (`sweep`): every trial, and each factor's average effect on validation accuracy."""
    from seqcompare import sweep

    parts = []
    for task, caption in (("imdb", "IMDb reviews"), ("mnist", "MNIST digits")):
        study = sweep.load(root / task / "study.json")
        if not study:
            continue
        rows = plots.study_rows(study)
        parts.append(f"**{caption}** — `{study['design']}` study, {study['epochs']} epochs per trial"
                     + (f", {study['limit']:,} examples per split" if study.get("limit") else "")
                     + f", test accuracy on {study['test_items']:,} test items (evenly spaced). Baseline: "
                     + ", ".join(f"{k} {v}" for k, v in study["baseline"].items()) + ".\n\n"
                     + _table(["model", "hidden", "layers", "dropout", "validation accuracy",
                               "test accuracy (95% interval)", "parameters", "seconds"], rows))
        base = study["baseline"]
        by = {(t["model"], tuple(t["params"][f] for f in plots.STUDY_FACTORS)): t for t in study["trials"]}
        effects = []
        for factor in plots.STUDY_FACTORS:
            for t in study["trials"]:
                changed = [f for f in plots.STUDY_FACTORS if t["params"][f] != base[f]]
                if changed != [factor]:
                    continue
                b = by.get((t["model"], tuple(base[f] for f in plots.STUDY_FACTORS)))
                if b:
                    effects.append(f"{plots.label(t['model'])} {factor} {base[factor]}→{t['params'][factor]}: "
                                   f"{t['metrics']['val_accuracy'] - b['metrics']['val_accuracy']:+.4f}")
        if effects:
            parts.append("Change in validation accuracy against the baseline: " + "; ".join(effects) + ".")
    return "\n\n".join(parts) or "_no study yet_"


def update_readme(readme: Path, root: Path) -> bool:
    """Rewrite the blocks between the results and tutorials markers; True if the README changed."""
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{tables(root)}\n{END}",
                 text, flags=re.S)
    new = re.sub(re.escape(TUTORIAL_START) + ".*?" + re.escape(TUTORIAL_END),
                 lambda _: f"{TUTORIAL_START}\n{tutorial_tables(root)}\n{TUTORIAL_END}", new, flags=re.S)
    new = re.sub(re.escape(STUDY_START) + ".*?" + re.escape(STUDY_END),
                 lambda _: f"{STUDY_START}\n{study_tables(root)}\n{STUDY_END}", new, flags=re.S)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text
