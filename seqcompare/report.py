"""The README's results tables, made from the checkpoints' metrics (`python -m seqcompare report`)."""

from __future__ import annotations

import re
from pathlib import Path

from seqcompare import checkpoints, digits, plots, reviews, textgen

START, END = "<!-- results:start -->", "<!-- results:end -->"


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
    return [[plots.label(n), *(f"{m['test'][k]:.4f}" for k in ("accuracy", "precision", "recall", "f1")),
             f"{m['parameters']:,}", f"{m['train_seconds']:.0f}", f"{m['best_epoch']}/{m['train']['epochs']}"]
            for n, m in meta.items()]


def tables(root: Path) -> str:
    """Markdown for the three tasks' results; a task without checkpoints says so."""
    parts = []
    cols = ["model", "accuracy", "precision", "recall", "F1", "parameters", "train s", "best epoch"]
    mnist = _meta(root / "mnist", digits.MODELS)
    parts.append("**Digits** — MNIST test set, 10,000 images; macro precision/recall/F1.\n\n" +
                 (_table(cols, _classifier_rows(mnist)) if mnist else "_no checkpoints yet_"))
    imdb = _meta(root / "imdb", reviews.MODELS)
    parts.append("**Reviews** — IMDb test split, 25,000 reviews; precision/recall/F1 of the positive class.\n\n" +
                 (_table(cols, _classifier_rows(imdb)) if imdb else "_no checkpoints yet_"))
    hotel = _meta(root / "hotel", textgen.MODELS)
    if hotel:
        rows = [[plots.label(n), f"{m['validation']['bpc']:.3f}", f"{m['validation']['perplexity']:.1f}",
                 f"{m['parameters']:,}", f"{m['textbook_parameters']:,}", f"{m['train_seconds']:.0f}",
                 f"{m['best_epoch']}/{m['train']['epochs']}"] for n, m in hotel.items()]
        chars = next(iter(hotel.values()))["validation"]["characters"]
        parts.append(f"**Text generation** — ChnSentiCorp validation reviews (every 10th), {chars:,} characters "
                     "scored.\n\n" + _table(["model", "bits/char", "perplexity", "parameters",
                                              "textbook count", "train s", "best epoch"], rows))
    else:
        parts.append("**Text generation**\n\n_no checkpoints yet_")
    bench = root / "bench.json"
    if bench.is_file():
        b = checkpoints.read_json(bench)
        rows = [[task, plots.label(n), f"{m['median']:.2f}", f"{m['p95']:.2f}",
                 f"{b[task]['total_ms']['median']:.1f}" if i == 0 else ""]
                for task in ("digits", "reviews", "textgen") if task in b
                for i, (n, m) in enumerate(b[task]["model_ms"].items())]
        parts.append(f"**Latency** — `python -m seqcompare bench`, one request at a time ({b['machine']}); "
                     "milliseconds per model, and for the whole request (all models, preprocessing included).\n\n"
                     + "\n".join(f"- {task}: {b[task]['request']}" for task in ("digits", "reviews", "textgen") if task in b)
                     + "\n\n" + _table(["task", "model", "median ms", "p95 ms", "request median ms"], rows)
                     + (f"\n\nCold start, `python app.py` to the first HTTP 200: {b['coldstart']['seconds']} s."
                        if b.get("coldstart", {}).get("seconds") else ""))
    return "\n\n".join(parts)


def update_readme(readme: Path, root: Path) -> bool:
    """Rewrite the block between the results markers; True if the README changed."""
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{tables(root)}\n{END}",
                 text, flags=re.S)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text
