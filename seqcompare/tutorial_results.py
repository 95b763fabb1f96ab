"""Report blocks comparing with the tutorials: their published figures (quotations, `tutorial.QUOTES`),
their recipes rerun here (`checkpoints/tutorial/TASK.json`) and the bigram baseline
(`checkpoints/baselines/bigram.json`), next to the shipped checkpoints."""

from __future__ import annotations

from pathlib import Path

from seqcompare.metrics import with_interval
from seqcompare.plots import label
from seqcompare.report import block, read
from seqcompare.results import bench, machines, minutes, models, table, training_time
from seqcompare.tutorial import QUOTES, RECIPES, SOURCE


def rerun(root: Path, task: str) -> dict | None:
    return read(root / "checkpoints" / "tutorial" / f"{task}.json")


def rerun_line(run: dict) -> str:
    """What a rerun of a tutorial's recipe measured, per model, with its command and machine."""
    ran, unit = run["ran"], run.get("unit", "epoch")
    cmd = f"`python -m seqcompare tutorial {run['task']} --epochs {ran['epochs']}" + \
          (f" --limit {ran['limit']}" if ran.get("limit") else "") + "`"
    per = []
    for n, m in run["models"].items():
        if "seconds_per_epoch" in m:
            secs = m["seconds_per_epoch"]
            per.append(f"{label(n)} {sum(secs) / len(secs):.0f} s per epoch, test accuracy "
                       f"{m['test']['accuracy']:.4f} after {len(secs)} epoch{'s' * (len(secs) > 1)} on "
                       f"{m['test']['n']:,} test items")
        else:
            v = m["validation"]
            per.append(f"{label(n)} {v['bpc']:.2f} bits per character ({v['characters']:,} of "
                       f"{v['characters_total']:,} validation characters, those its vocabulary knows) after "
                       f"{ran['epochs']:,} {unit}s in {m['train_seconds']:.0f} s")
    size = f", {ran['limit']:,} examples per split" if ran.get("limit") and unit == "epoch" else ""
    load = ran.get("load_average")
    busy = (f"; load average {load[0]:.1f} at the start and {load[1]:.1f} at the end on {ran['cpus']} CPUs, "
            "so the timings are those of a shared CPU" if load and max(load) > 1 else "")
    return f"{cmd} ({machines(run)}, {ran['threads']} thread{size}{busy}): " + "; ".join(per) + "."


def recipe_time(run: dict) -> str:
    """The whole recipe's training time, from the measured seconds per epoch, where the recipe states its epochs."""
    epochs = run["recipe"].get("epochs")
    secs = [sum(m["seconds_per_epoch"]) / len(m["seconds_per_epoch"]) for m in run["models"].values()
            if "seconds_per_epoch" in m]
    if not epochs or not secs or run["ran"].get("limit"):
        return ""
    load = run["ran"].get("load_average") or [0]
    shared = f", a shared CPU: load average up to {max(load):.1f}" if max(load) > 1 else ""
    return (f"≈ {minutes(epochs * sum(secs))} for its {epochs} epochs, all models, at the seconds per epoch of "
            f"`tutorial {run['task']}` ({machines(run)}{shared})")


def classifier_comparison(root: Path, task: str, caption: str) -> str:
    meta = models(root, task)
    if not meta:
        return ""
    quoted = QUOTES[task]["accuracy"]
    rows = [[label(n), f"{quoted[n]:.4f}" if n in quoted else "—",
             with_interval(m["test"]["accuracy"], m["test"]["n"])] for n, m in meta.items()]
    theirs = ", ".join(f"{v:,} s ({label(n)})" for n, v in QUOTES[task].get("train_seconds", {}).items())
    run = rerun(root, task)
    timed = recipe_time(run) if run else ""
    rows.append(["training, all models",
                 " + ".join(x for x in (f"{theirs} on {QUOTES[task]['hardware']}" if theirs else "", timed) if x) or "—",
                 f"{training_time(root / 'checkpoints' / task, meta)} ({machines(*meta.values())})"])
    return f"{caption}\n\n" + table(["model", "tutorial", "seqcompare"], rows)


@block("tutorials")
def tutorials(root: Path) -> str:
    """The tutorials' published figures (quoted) next to the shipped checkpoints' measured ones."""
    parts = [f"The “tutorial” column quotes {SOURCE}; nothing reruns those figures. The seqcompare column is "
             "measured from the shipped checkpoints."]
    for task, caption in (("mnist", "**Digits** — MNIST test accuracy"), ("imdb", "**Reviews** — IMDb test accuracy")):
        text = classifier_comparison(root, task, caption)
        if text:
            parts.append(text)
    hotel = models(root, "hotel")
    if hotel:
        parts.append("**Text generation** — validation bits per character (every validation character counted, "
                     "unseen ones as the unknown id); seqcompare trains all "
                     f"{len(hotel)} in {training_time(root / 'checkpoints' / 'hotel', hotel)} "
                     f"({machines(*hotel.values())}).\n\n"
                     + table(["model", "bits/char"], [[label(n), f"{m['validation']['bpc']:.3f}"] for n, m in hotel.items()]))
    b = bench(root)
    gen = b.get("textgen", {}).get("model_ms")
    if gen:
        q = QUOTES["hotel"]
        parts.append(f"Generation speed: the tutorial reports {q['generation_ms']} ms for {q['generation_characters']} "
                     f"characters from its {label(q['model'])} (its hardware); here 100 characters take "
                     + ", ".join(f"{label(n)} {m['median']:.0f} ms" for n, m in gen.items())
                     + f" (medians, one thread; {machines(b)}).")
    return "\n\n".join(parts)


@block("tutorial-reruns")
def tutorial_reruns(root: Path) -> str:
    """The tutorials' own recipes rerun here, and the bigram baseline."""
    parts = []
    for task in RECIPES:
        run = rerun(root, task)
        if run:
            parts.append(f"- **{task}** — {RECIPES[task].words}. {rerun_line(run)}")
    bigram = read(root / "checkpoints" / "baselines" / "bigram.json")
    if bigram:
        v = bigram["validation"]
        parts.append(f"- **bigram** — an {bigram['model']} model, fitted on the training reviews: {v['bpc']:.3f} bits "
                     f"per character on the {v['characters']:,} validation characters (every one after the first) "
                     f"(`python -m seqcompare baseline bigram`; {machines(bigram)}).")
    return "\n".join(parts) or "_no tutorial reruns yet (`python -m seqcompare tutorial TASK`)_"
