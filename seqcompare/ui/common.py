"""What the tabs share: notices, the comparison block (table, confusion matrices, curves), JSON wrappers."""

from __future__ import annotations

import gradio as gr

from seqcompare import UserError, metrics, plots
from seqcompare.checkpoints import CHECKPOINTS  # noqa: F401  (the tabs read the shipped checkpoints here)

UPLOAD_MB = 5          # the largest upload the server takes (a digit picture or a text); app.MAX_FILE_SIZE
# Writing text is the one long request (four models × up to 500 steps of Python-driven small operations).
# All its events share one pool of two slots, about one per core, and each slot takes the requests
# waiting in the queue as one batch (up to MAX_BATCH): a decoding step over 30 sequences costs about
# 2.5× one sequence, since the weights are read once for all of them (`textgen.sample_many`). A burst
# of generations is then written in a few batched passes instead of queueing one by one, and the quick
# digit and review requests keep their own slots (app.CONCURRENCY each).
MAX_BATCH = 32
GENERATION = {"concurrency_id": "text-generation", "concurrency_limit": 2, "batch": True,
              "max_batch_size": MAX_BATCH}


def notice(text: str) -> str:
    return f"⚠️ **{text}**" if text else ""


def model_table(meta: dict[str, dict], columns: list[str]) -> list[list]:
    """One row per model: test metrics, parameters and training time from its checkpoint."""
    rows = []
    for name, m in meta.items():
        test = m.get("test", {})
        rows.append([plots.label(name)] + [metrics.with_interval(test[c], test["n"]) if c == "accuracy" and "n" in test
                                           else round(test.get(c, float("nan")), 4) for c in columns]
                    + [f"{m.get('parameters', 0):,}", round(m.get("train_seconds", 0))])
    return rows


def comparison(meta: dict, errors: dict, columns: list[str], classes: list[str] | None, curves: list[str],
               table: list[list] | None = None, headers: list[str] | None = None) -> None:
    """The comparison block every tab ends with: a table, confusion matrices, training curves."""
    if errors:
        gr.Markdown(notice("Unavailable: " + "; ".join(f"{plots.label(n)} ({r})" for n, r in errors.items())))
    gr.Dataframe(table if table is not None else model_table(meta, columns),
                 headers=headers or ["model", *(c if c != "accuracy" else "accuracy (95% interval)" for c in columns),
                                     "parameters", "train seconds"], interactive=False,
                 show_label=False)
    if classes:
        with gr.Row():
            for name, m in meta.items():
                gr.Plot(plots.confusion_matrix(m["test"]["confusion_matrix"], classes, plots.label(name)),
                        show_label=False)
    if meta:
        gr.Plot(plots.curves({n: m["history"] for n, m in meta.items()}, curves), show_label=False)


def as_json(fn):
    """An API callback: the answer as JSON, or {"error": message} for input the models cannot use."""
    def call(*args):
        try:
            return fn(*args)
        except UserError as exc:
            return {"error": str(exc)}
    return call
