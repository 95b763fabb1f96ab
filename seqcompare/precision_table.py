"""The serving-precision table, checkpoints/precision.json: each text model's generation time and validation
bits per character at every plan (seqcompare.precision.PLANS), measured by `python -m seqcompare bench
--tasks precision [--save]`, and the plan `auto` serves on each kind of CPU; its report block "precision".

The plans are timed in one run, taking turns request by request (100 characters from 早餐, as `bench`'s
textgen request), so a loaded machine slows them alike. Quality depends on the weights, not on the
CPU: it is measured once on the whole validation text and kept in the table (a plan or model missing
from it is measured, which needs the data folder).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from seqcompare import UserError, checkpoints, precision
from seqcompare.machine import bf16_features, machine, take_turns
from seqcompare.report import block

BARS = {"rnn": 5.20, "lstm": 4.95, "gru": 4.95, "transformer": 5.00}    # the most bits per character served
TASK = "hotel"


def time_plans(bank, served: dict, runs: int) -> dict:
    """{model: {plan: median ms for 100 characters}}, the plans taking turns (order flipped every run)."""
    def request(plan, run):
        bank.served = served[plan]
        return bank.generate("早餐", 100, 0.8, 20, run, stop_at_end=False)["models"]

    answers = take_turns(served, runs, request)                    # the first round warms up
    return {n: {plan: round(statistics.median(a[n]["ms"] for a in answers[plan]), 2) for plan in served}
            for n in bank.models}


def quality(bank, served: dict, known: dict, data_dir: Path | None) -> dict:
    """{"hotel/model": {plan: {"bpc": …}}}: the known figures, and the missing ones measured on the whole
    validation text (read from `data_dir`, or the online source without one)."""
    import torch

    from seqcompare import data, textgen

    out, ids = {}, None
    for n in bank.models:
        key = f"{TASK}/{n}"
        out[key] = dict(known.get(key, {}))
        for plan in served:
            if plan in out[key]:
                continue
            if ids is None:
                _, val = textgen.split_reviews(data.hotel_reviews(data_dir))
                ids = torch.tensor(bank.vocab.encode(textgen.corpus(val)))
            out[key][plan] = {"bpc": textgen.score_text(served[plan][n], ids)["bpc"]}
    return out


def choose(ms: dict, scores: dict) -> dict:
    """{"hotel/model": plan}: each model's fastest plan whose bits per character keep to the limits."""
    chosen = {}
    for n, per in ms.items():
        q = scores[f"{TASK}/{n}"]
        fine = [p for p in per if p == "fp32" or precision.within_limits(q["fp32"], q[p], BARS.get(n))]
        chosen[f"{TASK}/{n}"] = min(fine, key=lambda p: per[p])
    return chosen


def measure(root: Path, runs: int, data_dir: Path | None) -> dict:
    """Time every plan of every text model (one run, taking turns), score the ones the table lacks, and
    choose `auto`'s plans for this CPU."""
    from seqcompare import textgen

    t0 = time.perf_counter()
    bank = textgen.TextModels(Path(root) / TASK, precision="fp32")
    if bank.errors:
        raise UserError("precision.errors.missing_models", reasons="; ".join(bank.errors.values()))
    served = {plan: {n: precision.convert(m, plan)[0] for n, m in bank.models.items()} for plan in precision.PLANS}
    ms = time_plans(bank, served, max(3, runs // 5))
    scores = quality(bank, served, precision.load_table(root).get("quality", {}), data_dir)
    plans = choose(ms, scores)
    fp32 = sum(per["fp32"] for per in ms.values())
    auto = sum(ms[n][plans[f"{TASK}/{n}"]] for n in ms)
    features = bf16_features()
    return {"machine": machine(), "cpu_features": {**features, "key": precision.cpu_key(features)},
            "runs": max(3, runs // 5), "ms": ms, "quality": scores, "auto": plans,
            "total_ms": {"fp32": round(fp32, 1), "auto": round(auto, 1)}, "speedup": round(fp32 / auto, 2),
            "seconds": round(time.perf_counter() - t0, 1), "load_average": round(os.getloadavg()[0], 2)}


def save(root: Path, measured: dict) -> Path:
    """Merge one measurement into checkpoints/precision.json (other kinds of CPU keep their entries)."""
    table = precision.load_table(root)
    key = measured["cpu_features"]["key"]
    table["limits"] = {"bpc": precision.BPC_LIMIT, "accuracy": precision.ACCURACY_LIMIT, "bpc_bars": BARS}
    table["quality"] = {**table.get("quality", {}), **measured["quality"]}
    table.setdefault("auto", {})[key] = measured["auto"]
    kept = ("machine", "cpu_features", "runs", "ms", "total_ms", "speedup", "load_average")
    table.setdefault("measured", {})[key] = {k: measured[k] for k in kept if k in measured}
    path = Path(root) / precision.TABLE
    checkpoints.write_json(path, table)
    return path


# --- the report block ----------------------------------------------------------------------------

@block("precision")
def precision_block(root: Path) -> str:
    """Per text model and kind of CPU: the plan `auto` serves, fp32 and served bits per character, and
    fp32 and served ms per 100 characters; then the bench's floor (the machine's own limit)."""
    from seqcompare.results import label, read, table

    t = read(root / "checkpoints" / precision.TABLE) or {}
    if not t.get("measured"):
        return "_no precision table yet (`python -m seqcompare bench --tasks precision --save`)_"
    parts = []
    for key, m in t["measured"].items():
        rows = []
        for n, per in m["ms"].items():
            plan, q = t["auto"][key][f"{TASK}/{n}"], t["quality"][f"{TASK}/{n}"]
            rows.append([label(n), plan, f"{q['fp32']['bpc']:.4f}", f"{q[plan]['bpc']:.4f}",
                         f"{per['fp32']:.1f}", f"{per[plan]:.1f}", f"{per['fp32'] / per[plan]:.2f}×"])
        f = m["cpu_features"]
        parts.append(f"**{m['machine']}** (torch kernels {f['torch_capability']}, AVX512-BF16 "
                     f"{'yes' if f['avx512_bf16'] else 'no'}, AMX-BF16 {'yes' if f['amx_bf16'] else 'no'}; "
                     f"medians of {m['runs']} requests per plan, taking turns"
                     + (f"; load average {m['load_average']} when measured" if "load_average" in m else "")
                     + "): all four models "
                     f"{m['total_ms']['fp32']:.1f} ms at fp32, {m['total_ms']['auto']:.1f} ms at auto, "
                     f"{m['speedup']:.2f}× faster.\n\n"
                     + table(["model", "auto serves", "fp32 bpc", "served bpc", "fp32 ms / 100 chars",
                              "served ms", "speed-up"], rows))
    text = ("`--precision auto` (the default) serves each text model at the fastest plan measured on this kind "
            f"of CPU whose validation bits per character stay within {precision.BPC_LIMIT} of fp32 and under "
            "the model's ceiling (`python -m seqcompare bench --tasks precision --save`; int8: every matrix product "
            "in weight-only int8; int8-head: the output layer alone; int8+bf16: the output layer in int8 and the "
            "rest in bfloat16). The digit and review classifiers are "
            "served in fp32 (no layer large enough to gain). Analysis views always run in fp32.\n\n"
            + "\n\n".join(parts))
    return text + floor_text(root)


def floor_text(root: Path) -> str:
    from seqcompare.results import label, machines, read, table

    b = read(root / "checkpoints" / "bench.json") or {}
    floors = b.get("textgen", {}).get("floor")
    if not floors:
        return ""
    rows = [[label(n), b["textgen"]["precision"][n], f"{f['bytes_per_char'] / 1e6:.2f}", f"{f['matvec_us']:.1f}",
             f"{f['floor_ms']:.2f}", f"{b['textgen']['model_ms'][n]['median']:.1f}", f"{f['times_floor']:.1f}×"]
            for n, f in floors.items()]
    return ("\n\n**The machine's own limit** (`bench`, textgen; " + machines(b) + "): a step reads every weight "
            "once, so 100 characters cannot take less than 100 matrix-vector products over as many bytes.\n\n"
            + table(["model", "precision", "MB read per character", "µs per product of those bytes",
                     "floor ms / 100 chars", "model ms", "× floor"], rows))
