"""A trial, not a serving setting: the text models' generation time with their weight matrices stored
column-major, against the checkpoints' row-major storage, at fp32 and at the plans `auto` serves, taking turns
request by request in one run. `python -m seqcompare bench --tasks layout --save` writes the artifact
docs/artifacts/layout_trial.json (docs/experiments.md, "Weight layout").

Why: at one row, y = x Wᵀ is a matrix-vector product. With W (out, in) stored row after row, as PyTorch stores
it, the CPU's kernel reads it through its transposed operand; stored column-major (the transpose of a
contiguous (in, out) copy: the same values and shape) it streams it row by row. Nothing else changes: every
product computes the same sums, up to the order of the additions."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from seqcompare import precision, precision_table
from seqcompare.machine import machine
from seqcompare.report import artifact_block

ARTIFACT = Path("docs/artifacts/layout_trial.json")      # beside the repository root, what `bench --save` writes
SETTINGS = ("fp32", "auto")
COLUMN_MAJOR = "column-major"


def column_major(model):
    """A copy of `model` whose 2-D weights with more rows than columns are stored column-major (strides
    (1, rows)); embedding tables that are only looked up keep their rows (a tied output layer is relaid)."""
    from torch import nn

    served = copy.deepcopy(model)
    tied = served.output_weights()[0] if getattr(served, "decoder", None) is None else None
    for module in served.modules():
        for p in module.parameters(recurse=False):
            if p.dim() == 2 and p.shape[0] > p.shape[1] and (not isinstance(module, nn.Embedding) or p is tied):
                p.data = p.data.t().contiguous().t()
    return served


def run(root: Path, runs: int) -> dict:
    """{model: {variant: median ms for 100 characters}} for fp32 and auto, each as served and column-major."""
    from seqcompare import textgen

    bank = textgen.TextModels(Path(root) / precision_table.TASK, precision="fp32")
    served, plans = {}, {}
    for setting in SETTINGS:
        served[setting], plans[setting] = precision.serve_all(bank.models, setting, precision_table.TASK, Path(root))
        served[f"{setting}, {COLUMN_MAJOR}"] = {n: column_major(m) for n, m in served[setting].items()}
    rounds = max(3, runs // 5)
    ms, _ = precision_table.time_plans(bank, served, rounds, bursts=False)
    return {"machine": machine(), "runs": rounds, "plans": plans, "ms": ms,
            "total_ms": {v: round(sum(per[v] for per in ms.values()), 1) for v in served},
            "load_average": round(os.getloadavg()[0], 2)}


def lines(r: dict) -> list[str]:
    """What `bench --tasks layout` prints."""
    out = [f"layout: {r['machine']}; 100 characters, median of {r['runs']} per variant, taking turns (load "
           f"{r['load_average']}); total " + ", ".join(f"{v} {ms:.1f} ms" for v, ms in r["total_ms"].items())]
    for n, per in r["ms"].items():
        out.append(f"  {n:11s} " + "  ".join(f"{v} {ms:.1f}" for v, ms in per.items()))
    return out


# --- the report block ----------------------------------------------------------------------------

@artifact_block("layout_trial", ARTIFACT,
                "No layout trial saved yet: `python -m seqcompare bench --tasks layout --save`.")
def layout_block(r: dict) -> str:
    from seqcompare.plots import label
    from seqcompare.results import table

    variants = list(r["total_ms"])
    rows = [[label(n), *(f"{per[v]:.1f}" for v in variants)] for n, per in r["ms"].items()]
    rows.append(["all four", *(f"**{r['total_ms'][v]:.1f}**" for v in variants)])
    total, cm = r["total_ms"], f", {COLUMN_MAJOR}"
    plans = ", ".join(f"{label(n)} {p}" for n, p in r["plans"]["auto"].items())
    caption = (f"100 characters from 早餐, ms per model, median of {r['runs']} requests per variant taking turns "
               f"(`python -m seqcompare bench --tasks layout --save`; {r['machine']}; load average "
               f"{r['load_average']}). `auto` ran {plans}.")
    summary = (f"Column-major storage made fp32 {total['fp32'] / total['fp32' + cm]:.2f}× faster and `auto` "
               f"{total['auto'] / total['auto' + cm]:.2f}× faster; `auto` was {total['fp32'] / total['auto']:.2f}× "
               f"faster than fp32 as served, and {total['fp32' + cm] / total['auto' + cm]:.2f}× with both "
               f"column-major.")
    return caption + "\n\n" + table(["model", *variants], rows) + "\n\n" + summary
