"""The generated README blocks of the views inside the cells, from the shipped JSON only:
`saturation` (checkpoints/hotel/saturation.json), `sentiment` and `sentiment_fixed`
(checkpoints/hotel/sentiment.json)."""

from __future__ import annotations

from pathlib import Path

from seqcompare import report, tasks
from seqcompare.gates import SATURATION_FILE, saturation_summary
from seqcompare.report import read
from seqcompare.results import machines, table
from seqcompare.plots import label
from seqcompare.sentiment import SENTIMENT_FILE

GATE_NAMES = {"input": "input i", "forget": "forget f", "output": "output o", "reset": "reset r",
              "update": "update z (PyTorch's)"}


def _missing(command: str) -> str:
    return f"_Not measured yet: `{command}`._"


@report.block("saturation")
def saturation_block(root: Path) -> str:
    result = read(tasks.HOTEL.folder(root / "checkpoints") / SATURATION_FILE)
    if result is None:
        return _missing("python -m seqcompare gates hotel --saturation")
    rows = [[label(name), GATE_NAMES.get(gate, gate), f"{tl:.2f}", f"{tr:.2f}", f"{ul:.2f}", f"{ur:.2f}"]
            for name, gate, tl, tr, ul, ur in saturation_summary(result)]
    return (table(["model", "gate", "trained < 0.1", "trained > 0.9", "untrained < 0.1", "untrained > 0.9"], rows)
            + f"\n\nMean over the first layer's units of the fraction of the {result['characters']:,} validation "
              f"characters at which the gate is below 0.1 or above 0.9 (`python -m seqcompare gates hotel "
              f"--saturation`; untrained: the same architecture at initialisation). {machines(result)}.")


@report.block("sentiment")
def sentiment_block(root: Path) -> str:
    result = read(tasks.HOTEL.folder(root / "checkpoints") / SENTIMENT_FILE)
    if result is None:
        return _missing("python -m seqcompare sentiment hotel --generate --save")
    rows = []
    for name, m in result["models"].items():
        r = m["readings"]
        rows.append([label(name), m["reading"], f"{m['all_units']:.3f}", f"{m['single_unit']:.3f}",
                     f"{m['unit']['state']} {m['unit']['index']}", f"{r['last']['all_units']:.3f}",
                     f"{r['mean']['all_units']:.3f}"])
    rows.append(["bag of character 1–2-grams", "", f"{result['baseline']['bag_of_ngrams']:.3f}", "", "", "", ""])
    reviews = result["reviews"]
    return (table(["model", "state (chosen)", "all units", "one unit", "the unit", "all units, last state",
                   "all units, mean state"], rows)
            + f"\n\nBalanced accuracy on the {reviews['validation']:,} validation reviews of the language models' "
              f"split; probes fitted on the {reviews['train']:,} training reviews ({reviews['positive_share']:.0%} "
              "of all reviews are positive). Logistic regression on standardised features, balanced class weights, "
              "C by 5-fold cross-validation; the unit and the state (last or mean over the review) chosen on the "
              f"training reviews (`python -m seqcompare sentiment hotel`). {machines(result)}.")


@report.block("sentiment_fixed")
def sentiment_fixed_block(root: Path) -> str:
    result = read(tasks.HOTEL.folder(root / "checkpoints") / SENTIMENT_FILE)
    if result is None or "fixed" not in result:
        return _missing("python -m seqcompare sentiment hotel --generate --save")
    rows = []
    for name, f in result["fixed"].items():
        u = f["unit"]
        rows.append([label(name), f"{u['state']} {u['index']} at {u['positive']:+.2f} / {u['negative']:+.2f}",
                     *(f"{f[d]['probe_positive']:.2f} / {f[d]['ngram_positive']:.2f}"
                       for d in ("positive", "negative", "free"))])
    g = result["generation"]
    return (table(["model", "unit held (positive / negative value)", "held positive", "held negative", "free"], rows)
            + f"\n\nFraction of {g['reviews']} written reviews per cell judged positive by the model's own all-units "
              "probe / by the bag-of-n-grams classifier (an independent judge). Each review is sampled from the start "
              f"of a review at temperature {g['temperature']}, up to {g['length']} characters, with the unit (the cell "
              "state for the LSTM, the hidden state otherwise) set after every step to the training reviews' 99th or "
              "1st percentile on the side of each label (`python -m seqcompare sentiment hotel --generate`). "
              f"{machines(result)}.")


@report.block("cells-bench")
def cells_bench_block(root: Path) -> str:
    bench = read(root / "checkpoints" / "bench.json") or {}
    cells = bench.get("cells")
    if not cells:
        return _missing("python -m seqcompare bench --tasks cells --save")
    parts = [f"{v['request']}: median {v['total_ms']['median']:.0f} ms, p95 {v['total_ms']['p95']:.0f} ms"
             for v in cells.values() if isinstance(v, dict) and "total_ms" in v]
    load = cells.get("load_average")
    shared = f", load average {load[0]} at the start: a shared CPU" if load else ""
    return ("Each view as the tab answers it, figure or HTML included — "
            + "; ".join(parts) + f" (`python -m seqcompare bench --tasks cells`; {machines(cells)}{shared}).")
