"""Report blocks for the shipped models' results: metrics, training, memory, latency, load tests, studies.

Every figure comes from a file under checkpoints/ and is labelled with the machine that file names.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from seqcompare import tasks
from seqcompare.machine import NOT_RECORDED, label as machine_label
from seqcompare.metrics import with_interval
from seqcompare.plots import STUDY_FACTORS, label, study_rows
from seqcompare.report import artifact_block, block, read

ORDER = ("rnn", "lstm", "gru", "lenet", "transformer")


def models(root: Path, task: str) -> dict[str, dict]:
    """The checkpoints' JSONs of one task, by model name, in the dashboard's order."""
    found = {n: read(root / "checkpoints" / task / f"{n}.json") for n in ORDER}
    return {n: m for n, m in found.items() if m and "config" in m}


def machines(*artifacts: dict) -> str:
    """The machine(s) the artifacts name, once each: "AMD EPYC, 2 cores, …" or "machine not recorded"."""
    names = list(dict.fromkeys(machine_label(a.get("machine")) for a in artifacts if a is not None))
    return "; ".join(names) or NOT_RECORDED


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


# --- per-task tables ---------------------------------------------------------------------------------

CLASSIFIER_COLUMNS = ["model", "accuracy (95% interval)", "precision", "recall", "F1", "parameters", "train s",
                      "best epoch"]


def classifier_table(meta: dict[str, dict]) -> str:
    return table(CLASSIFIER_COLUMNS, [
        [label(n), with_interval(m["test"]["accuracy"], m["test"]["n"]),
         *(f"{m['test'][k]:.4f}" for k in ("precision", "recall", "f1")), f"{m['parameters']:,}",
         f"{m['train_seconds']:.0f}", f"{m['best_epoch']}/{m['train']['epochs']}"] for n, m in meta.items()])


def classifier_block(root: Path, task: str, caption: str) -> str:
    meta = models(root, task)
    if not meta:
        return f"_no {tasks.get(task).title.lower()} checkpoints yet_"
    n = next(iter(meta.values()))["test"]["n"]
    return f"{caption.format(n=n)} Trained on: {machines(*meta.values())}.\n\n" + classifier_table(meta)


@block("digits")
def digits_table(root: Path) -> str:
    return classifier_block(root, "mnist", "**Digits** — MNIST test set, {n:,} images; macro precision/recall/F1.")


@block("reviews")
def reviews_table(root: Path) -> str:
    w2v = max((m.get("word2vec_seconds", 0) for m in models(root, "imdb").values()), default=0)
    return classifier_block(root, "imdb", "**Reviews** — IMDb test split, {n:,} reviews; precision/recall/F1 of the "
                            "positive class" + (f"; the word2vec starting embeddings, shared by the three, took "
                                                f"{w2v:.0f} s more" if w2v else "") + ".")


@block("text")
def text_table(root: Path) -> str:
    meta = models(root, "hotel")
    if not meta:
        return "_no text checkpoints yet_"
    rows = [[label(n), f"{m['validation']['bpc']:.3f}", f"{m['validation']['perplexity']:.1f}",
             f"{m['validation']['characters']:,}", f"{m['parameters']:,}", f"{m['textbook_parameters']:,}",
             f"{m['train_seconds']:.0f}", f"{m['best_epoch']}/{m['train']['epochs']}"] for n, m in meta.items()]
    return ("**Text generation** — ChnSentiCorp validation reviews (every 10th row); the Transformer scores each "
            f"character with at least half its context of history. Trained on: {machines(*meta.values())}.\n\n"
            + table(["model", "bits/char", "perplexity", "characters", "parameters", "textbook count", "train s",
                     "best epoch"], rows))


@block("headline")
def headline(root: Path) -> str:
    """One line per task: each model's main test or validation figure."""
    rows = []
    for spec in tasks.TASKS.values():
        meta, metric = models(root, spec.name), spec.metric
        what = "accuracy" if metric == "accuracy" else "bits/char (lower is better)"
        figure = {n: m[spec.split][metric] for n, m in meta.items()}
        rows.append([f"{spec.title}: {spec.split} {what}", *(f"{figure[n]:.4f}" if metric == "accuracy" and n in figure
                                                  else f"{figure[n]:.3f}" if n in figure else "—" for n in ORDER)])
    return table(["task", *(label(n) for n in ORDER)], rows)


@block("training-time")
def training_time_block(root: Path) -> str:
    parts = []
    for task in tasks.TASKS.values():
        meta = models(root, task.name)
        if meta:
            parts.append(f"- {task.title}: {training_time(root / 'checkpoints' / task.name, meta)} "
                         f"({machines(*meta.values())})")
    return "\n".join(parts)


def training_time(folder: Path, meta: dict[str, dict]) -> str:
    """How long training all the models took: the wall time of the full `train --jobs N` run that wrote
    these checkpoints (those it wrote: their training seconds match), plus the own training time of any it
    did not write; without such a run, the sum of their own times."""
    run = read(folder / "training_run.json")
    if run and not run.get("epochs") and not run.get("limit"):
        wrote = [n for n, m in meta.items() if run.get("train_seconds", {}).get(n) == m["train_seconds"]]
        if wrote:
            how = (f"{minutes(run['wall_seconds'])} of wall time, {run['jobs']} at a time on one thread each "
                   f"(`train {folder.name} --jobs {run['jobs']}`; their own training times add up to "
                   f"{minutes(sum(meta[n]['train_seconds'] for n in wrote))})")
            rest = [n for n in meta if n not in wrote]
            if not rest:
                return how
            alone = sum(meta[n]["train_seconds"] for n in rest)
            return (f"{minutes(run['wall_seconds'] + alone)}: {', '.join(map(label, wrote))} in {how}, "
                    f"then {', '.join(map(label, rest))} in {minutes(alone)} of its own training")
    w2v = max((m.get("word2vec_seconds", 0) for m in meta.values()), default=0)     # shared starting vectors
    total = sum(m["train_seconds"] for m in meta.values()) + w2v
    return f"{minutes(total)}, one after another" + (" (word2vec included)" if w2v else "")


@block("text-summary")
def text_summary(root: Path) -> str:
    """What the text models' numbers show (`textgen.summary`, as the Text generation tab shows it), with the
    machines that trained and timed them."""
    from seqcompare import textgen

    meta, b = models(root, "hotel"), bench(root)
    text = textgen.summary(meta, b)
    return f"{text} Trained on: {machines(*meta.values())}; generation timed on: {machines(b)}." if text else ""


# --- memory ------------------------------------------------------------------------------------------

MEMORY_TASKS = ("hotel", "imdb", "mnist")


@block("memory")
def memory_table(root: Path) -> str:
    """Each task's memory lengths per model, trained and untrained (the files `memory TASK --save` writes)."""
    from seqcompare import influence

    mems = {t: read(root / "checkpoints" / t / influence.MEMORY_FILE) for t in MEMORY_TASKS}
    names = [n for n in ORDER if any(m and n in m.get("models", {}) for m in mems.values())]
    rows, counts = [], []
    for task in MEMORY_TASKS:
        mem, spec = mems[task], tasks.get(task)
        if not mem:
            continue
        counts.append(f"{spec.title.lower()} {mem['targets']:,} {spec.memory_targets}")
        for state, part in (("trained", mem["models"]), ("untrained", mem.get("untrained", {}).get("models", {}))):
            rows.append([f"{spec.title} ({mem['unit']})" if state == "trained" else "", state,
                         *(influence.length_text(part[n]) if n in part else "—"
                           for n in names)])
    if not rows:
        return "_no memory curves yet_"
    return ("Memory length: the first distance back from a prediction at which an input's influence, divided by "
            "the influence of the last input read and averaged over a fixed sample, falls below 1% "
            "(`python -m seqcompare memory TASK --save`; " + ", ".join(counts) + "). Untrained: the same "
            "architectures at initialisation.\n\n" + table(["task", "", *(label(n) for n in names)], rows))


# --- bench and load tests -------------------------------------------------------------------------------

BENCH_TASKS = tuple(tasks.BENCH)          # digits, reviews, textgen


def bench(root: Path) -> dict:
    return read(root / "checkpoints" / "bench.json") or {}


@block("latency")
def latency(root: Path) -> str:
    b = bench(root)
    if not any(t in b for t in BENCH_TASKS):
        return "_no benchmark yet (`python -m seqcompare bench --save`)_"
    rows = [[task, label(n), f"{m['median']:.2f}", f"{m['p95']:.2f}",
             f"{b[task]['chars_per_second'][n]:,}" if "chars_per_second" in b[task] else "",
             f"{b[task]['total_ms']['median']:.1f}" if i == 0 else "", f"{b[task]['total_ms']['p95']:.1f}" if i == 0 else ""]
            for task in BENCH_TASKS if task in b for i, (n, m) in enumerate(b[task]["model_ms"].items())]
    text = (f"`python -m seqcompare bench --save`, one request at a time; {machines(b)}. Milliseconds per model, "
            "and for the whole request (all models, preprocessing included).\n\n"
            + "\n".join(f"- {task}: {b[task]['request']}" for task in BENCH_TASKS if task in b) + "\n\n"
            + table(["task", "model", "median ms", "p95 ms", "chars/s", "request median ms", "request p95 ms"], rows))
    burst = b.get("textgen", {}).get("burst")
    if burst:
        text += (f"\n\n**A burst of generations** — {burst['requests']} requests for 100 characters at once, written "
                 "together (as the server's writer steps the requests of a stage): "
                 f"{burst['batched_ms']['median'] / 1000:.2f} s for all {burst['requests']}, against "
                 f"{burst['one_at_a_time_ms'] / 1000:.2f} s one at a time (the median request above, times the burst)"
                 + (f"; {burst['seeds_apart_ms']['median'] / 1000:.2f} s when their seeds have {burst['requests']} "
                    "different lengths (the Transformer's rows at as many positions, padded into one batch)"
                    if "seeds_apart_ms" in burst else "") + ".")
    return text


@block("explain")
def explain_table(root: Path) -> str:
    b = bench(root)
    ex = b.get("explain")
    if not ex:
        return "_no memory-view benchmark yet (`python -m seqcompare bench --tasks explain --save`)_"
    rows = [[part, ex[part]["request"], f"{ex[part]['total_ms']['median']:.1f}", f"{ex[part]['total_ms']['p95']:.1f}",
             ", ".join(f"{label(n)} {m['median']:.1f}" for n, m in ex[part]["model_ms"].items())]
            for part in BENCH_TASKS[::-1] if part in ex]
    return (f"Every model's influence of each input on its answer, one input at a time (`bench` task `explain`; "
            f"{machines(b)}).\n\n" + table(["tab", "input", "median ms", "p95 ms", "per model, median ms"], rows))


@block("explain-inline")
def explain_inline(root: Path) -> str:
    b = bench(root)
    ex = b.get("explain", {})
    parts = [f"{ex[p]['total_ms']['median']:.0f} ms for {ex[p]['request'].split(',')[0]}" for p in BENCH_TASKS[::-1]
             if p in ex]
    if not parts:
        return "Their timings are measured by `python -m seqcompare bench --tasks explain`."
    return (f"All models together take a median of {'; '.join(parts)} (`python -m seqcompare bench`, one thread; "
            f"{machines(b)}).")


@block("throughput")
def throughput(root: Path) -> str:
    b = bench(root)
    parts = []
    if "evaluation" in b:
        ev = b["evaluation"]
        rows = [[unit, *(f"{ev[part][n]:,.0f}" if n in ev[part] else "—" for n in ORDER)]
                for part, unit in ev["units"].items()]
        parts.append(f"**Evaluation throughput** — batched scoring as `evaluate` runs it ({machines(b)}).\n\n"
                     + table(["items per second", *(label(n) for n in ORDER)], rows))
    if b.get("coldstart", {}).get("seconds"):
        parts.append(f"**Cold start** — `python app.py` to the first HTTP 200: {b['coldstart']['seconds']} s "
                     f"({machines(b)}).")
    return "\n\n".join(parts) or "_no throughput benchmark yet_"


LOADTESTS = ("loadtest.json", "loadtest_training.json")


def training_clause(lt: dict) -> str:
    """What a load test's JSON says of its live training ("training": {"ran", "running_at_end"}, or the
    older "while_training" string); empty when it asked for none."""
    training = lt.get("training")
    if training is None and "while_training" in lt:
        training = {"ran": True, "running_at_end": lt["while_training"] == "still training"}
    if not training:
        return ""
    if not training["ran"]:
        return ", with a live training asked for but not under way when the calls began"
    return (", while a live training (`train_models`) ran"
            + (" all along" if training["running_at_end"] else " and finished before the calls did"))


def users(lt: dict) -> str:
    """Who made a load test's calls: users with a session each over Gradio's HTTP API, or (older files, no
    "client") gradio_client."""
    return f"{lt['users']} users, a session each, through Gradio's HTTP API" if lt.get("client") else "gradio_client"


def seeds(lt: dict) -> str:
    """Which seeds a load test's generations read, where its JSON records them (older files used 早餐 alone)."""
    if not lt.get("seeds"):
        return ""
    lengths = sorted(len(s) for s in lt["seeds"])
    return f"; the generations from {len(lengths)} seeds of {lengths[0]}–{lengths[-1]} characters in turn"


@block("loadtest")
def loadtest(root: Path) -> str:
    """The saved load tests; a training is mentioned only where the file records one."""
    parts = []
    for name in LOADTESTS:
        lt = read(root / "checkpoints" / name)
        if not lt:
            continue
        during = training_clause(lt)
        caption, flag = ("Many users while one trains", " --while-training") if during else ("Many users", "")
        parts.append(f"**{caption}** — `python -m seqcompare loadtest URL{flag} --save` ({machines(lt)}, app and "
                     f"clients together): {lt['calls']} calls at once from {users(lt)} on loopback (a third to "
                     f"each endpoint{seeds(lt)}){during}, {lt['failed']} failed; latency p50 {lt['p50_s']:.2f} s, "
                     f"p95 {lt['p95_s']:.2f} s, max {lt['max_s']:.2f} s; p95 per endpoint: "
                     + ", ".join(f"{k} {v:.2f} s" for k, v in lt["per_endpoint_p95_s"].items()) + ".")
    return "\n\n".join(parts) or "_no load test yet (`python -m seqcompare loadtest URL --save`)_"


WRITER_TRIAL = Path("docs/artifacts/writer_trial.json")


@artifact_block("writer_trial", WRITER_TRIAL, "no writer trial saved yet")
def writer_trial(r: dict) -> str:
    """The load test's p95 under each way of writing generation requests, from the artifact's trials (each
    its own servers taking turns, so compare rows within a trial)."""
    parts = []
    for number, trial in enumerate(r["trials"], 1):
        rows = []
        for setting, variants in trial["runs"].items():
            for name, v in variants.items():
                p95 = sorted(v["p95_s"])
                rows.append([setting, f"{r['variants'][name]} ({v['commit']})", len(p95), sum(v["failed"]),
                             f"**{statistics.median(p95):.2f}**", f"{p95[0]:.2f}–{p95[-1]:.2f}"])
        parts.append(f"Trial {number}: {trial['procedure']} ({trial['machine']}).\n\n"
                     + table(["calls", "generation written by", "runs", "failed", "median p95 (s)", "p95 range (s)"],
                             rows))
    return "\n\n".join(parts)


# --- studies ---------------------------------------------------------------------------------------------

def effects(study: dict) -> list[str]:
    """Each one-factor change's effect on validation accuracy against the baseline trial of its model."""
    base = study["baseline"]
    by = {(t["model"], tuple(t["params"][f] for f in STUDY_FACTORS)): t for t in study["trials"]}
    out = []
    for factor in STUDY_FACTORS:
        for t in study["trials"]:
            if [f for f in STUDY_FACTORS if t["params"][f] != base[f]] != [factor]:
                continue
            b = by.get((t["model"], tuple(base[f] for f in STUDY_FACTORS)))
            if b:
                out.append(f"{label(t['model'])} {factor} {base[factor]}→{t['params'][factor]}: "
                           f"{t['metrics']['val_accuracy'] - b['metrics']['val_accuracy']:+.4f}")
    return out


@block("study")
def study_tables(root: Path) -> str:
    """The shipped studies (`sweep`): every trial, and each factor's effect on validation accuracy."""
    from seqcompare import sweep

    parts = []
    for task in sweep.TASKS:
        study = read(root / "checkpoints" / task / sweep.STUDY_FILE)
        if not study or not isinstance(study.get("trials"), list):
            continue
        rows = study_rows(study)
        title = tasks.get(task).title
        parts.append(f"**{title}** — `sweep {task}`: `{study['design']}` study, {study['epochs']} epochs per "
                     "trial" + (f", {study['limit']:,} examples per split" if study.get("limit") else "")
                     + f", test accuracy on {study['test_items']:,} test items (evenly spaced); seconds on: "
                     f"{machines(study)}. Baseline: " + ", ".join(f"{k} {v}" for k, v in study["baseline"].items())
                     + ".\n\n" + table(["model", "hidden", "layers", "dropout", "validation accuracy",
                                        "test accuracy (95% interval)", "parameters", "seconds"], rows))
        if effects(study):
            parts.append("Change in validation accuracy against the baseline: " + "; ".join(effects(study)) + ".")
    return "\n\n".join(parts) or "_no study yet_"
