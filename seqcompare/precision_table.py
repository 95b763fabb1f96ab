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


BURST = 30             # concurrent requests, as a server batches them (bench's textgen burst)
BURST_EVERY = 4        # a burst every 4th round of the timing
TIE = 1.10             # plans within 10% of the fastest single request count as equally fast (repeated runs on a
                       # shared host spread as much): the time of a burst of concurrent requests decides


def time_plans(bank, served: dict, runs: int, bursts: bool = True) -> tuple[dict, dict]:
    """({model: {plan: median ms for 100 characters}}, {model: {plan: median ms for a burst of BURST such
    requests written together}}, or {} without `bursts`), the plans taking turns (order flipped every run)."""
    def request(plan, run):
        bank.served = served[plan]
        one = bank.generate("早餐", 100, 0.8, 20, run, stop_at_end=False)["models"]
        if not bursts or run % BURST_EVERY != 1:
            return one, None
        burst = [("早餐", 100, 0.8, 20, run * BURST + i) for i in range(BURST)]
        return one, bank.generate_many(burst, stop_at_end=False)[0]["models"]

    answers = take_turns(served, runs, request)                    # the first round warms up
    median = lambda runs_of, n: round(statistics.median(a[n]["ms"] for a in runs_of if a is not None), 2)
    ms = {n: {plan: median([one for one, _ in answers[plan]], n) for plan in served} for n in bank.models}
    return ms, ({n: {plan: median([many for _, many in answers[plan]], n) for plan in served} for n in bank.models}
                if bursts else {})


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


def choose(ms: dict, scores: dict, burst: dict | None = None) -> dict:
    """{"hotel/model": plan}: each model's fastest plan for one request whose bits per character keep to the
    limits; among the plans within TIE of it, the fastest for a burst of concurrent requests."""
    chosen = {}
    for n, per in ms.items():
        q = scores[f"{TASK}/{n}"]
        fine = [p for p in per if p == "fp32" or precision.within_limits(q["fp32"], q[p], BARS.get(n))]
        fastest = min(per[p] for p in fine)
        close = [p for p in fine if per[p] <= TIE * fastest]
        chosen[f"{TASK}/{n}"] = min(close, key=lambda p: (burst[n][p] if burst else 0, per[p]))
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
    ms, burst = time_plans(bank, served, max(3 * BURST_EVERY, runs // 5))
    scores = quality(bank, served, precision.load_table(root).get("quality", {}), data_dir)
    plans = choose(ms, scores, burst)
    fp32 = sum(per["fp32"] for per in ms.values())
    auto = sum(ms[n][plans[f"{TASK}/{n}"]] for n in ms)
    burst_fp32 = sum(per["fp32"] for per in burst.values())
    burst_auto = sum(burst[n][plans[f"{TASK}/{n}"]] for n in burst)
    features = bf16_features()
    return {"machine": machine(), "cpu_features": {**features, "key": precision.cpu_key(features)},
            "runs": max(3 * BURST_EVERY, runs // 5), "ms": ms, "burst_ms": burst, "quality": scores, "auto": plans,
            "total_ms": {"fp32": round(fp32, 1), "auto": round(auto, 1)}, "speedup": round(fp32 / auto, 2),
            "burst_total_ms": {"fp32": round(burst_fp32, 1), "auto": round(burst_auto, 1)},
            "seconds": round(time.perf_counter() - t0, 1), "load_average": round(os.getloadavg()[0], 2)}


def save(root: Path, measured: dict) -> Path:
    """Merge one measurement into checkpoints/precision.json (other kinds of CPU keep their entries)."""
    table = precision.load_table(root)
    key = measured["cpu_features"]["key"]
    table["limits"] = {"bpc": precision.BPC_LIMIT, "accuracy": precision.ACCURACY_LIMIT, "bpc_bars": BARS}
    table["quality"] = {**table.get("quality", {}), **measured["quality"]}
    table.setdefault("auto", {})[key] = measured["auto"]
    kept = ("machine", "cpu_features", "runs", "ms", "burst_ms", "total_ms", "burst_total_ms", "speedup", "load_average")
    table.setdefault("measured", {})[key] = {k: measured[k] for k in kept if k in measured}
    path = Path(root) / precision.TABLE
    checkpoints.write_json(path, table)
    return path


# --- the report block ----------------------------------------------------------------------------

NO_TABLE = "_no precision table yet (`python -m seqcompare bench --tasks precision --save`)_"


def shipped_table(root: Path) -> dict:
    """The repository's checkpoints/precision.json, or {} when it has no measurement yet (the report blocks)."""
    from seqcompare.report import read

    t = read(root / "checkpoints" / precision.TABLE) or {}
    return t if t.get("measured") else {}


@block("precision")
def precision_block(root: Path) -> str:
    """Per text model and kind of CPU: the plan `auto` serves, fp32 and served bits per character, and
    fp32 and served ms per 100 characters; then the bench's floor (the machine's own limit)."""
    from seqcompare.results import label, table

    t = shipped_table(root)
    if not t:
        return NO_TABLE
    parts = []
    for key, m in kinds_of(t):
        rows = []
        burst = m.get("burst_ms", {})
        for n, per in m["ms"].items():
            plan, q = t["auto"][key][f"{TASK}/{n}"], t["quality"][f"{TASK}/{n}"]
            rows.append([label(n), plan, f"{q['fp32']['bpc']:.4f}", f"{q[plan]['bpc']:.4f}",
                         f"{per['fp32']:.1f}", f"{per[plan]:.1f}", f"{per['fp32'] / per[plan]:.2f}×"]
                        + ([f"{burst[n]['fp32']:.0f}", f"{burst[n][plan]:.0f}"] if burst else []))
        f = m["cpu_features"]
        parts.append(f"**{m['machine']}** (torch kernels {f['torch_capability']}, AVX512-BF16 "
                     f"{'yes' if f['avx512_bf16'] else 'no'}, AMX-BF16 {'yes' if f['amx_bf16'] else 'no'}; "
                     f"medians of {m['runs']} requests per plan, taking turns"
                     + (f"; load average {m['load_average']} when measured" if "load_average" in m else "")
                     + "): all four models "
                     f"{m['total_ms']['fp32']:.1f} ms at fp32, {m['total_ms']['auto']:.1f} ms at auto, "
                     f"{m['speedup']:.2f}× faster" + transformer_to_lstm(m["ms"])
                     + (f"; 30 such requests written together {m['burst_total_ms']['fp32']:.0f} ms at fp32, "
                        f"{m['burst_total_ms']['auto']:.0f} ms at auto" if "burst_total_ms" in m else "") + ".\n\n"
                     + table(["model", "auto serves", "fp32 bpc", "served bpc", "fp32 ms / 100 chars",
                              "served ms", "speed-up"] + (["fp32 ms, 30 at once", "served ms, 30 at once"]
                                                          if burst else []), rows))
    text = ("`--precision auto` (the default) serves each text model at the fastest plan measured on this kind "
            f"of CPU whose validation bits per character stay within {precision.BPC_LIMIT} of fp32 and under "
            f"the model's ceiling; among plans within {round((TIE - 1) * 100)}% of the fastest for one request, "
            f"the fastest for {BURST} requests written together (`python -m seqcompare bench --tasks precision "
            "--save`; int8: every matrix product in weight-only int8; w8a8: int8 activations too in the output "
            "layer and the cells; int8-head: the output layer alone; int8+bf16: the output layer in int8 and the "
            "rest in bfloat16; int4+int8: the output layer in weight-only int4, groups of 64 inputs, and the rest as "
            "int8). " + classifier_text(root) + " Analysis views always run in fp32.\n\n"
            + "\n\n".join(parts))
    return text + floor_text(root) + step_text(root)


def kinds_of(table: dict) -> list[tuple[str, dict]]:
    """The table's measured kinds of CPU as (key, entry), the most capable first (precision.CPU_KEYS)."""
    order = {k: i for i, k in enumerate(precision.CPU_KEYS)}
    return sorted(table["measured"].items(), key=lambda kv: order.get(kv[0], len(order)))


TRANSFORMER_BAR = 1.5      # the Transformer's generation time at most 1.5× the LSTM's, both at fp32


def transformer_to_lstm(ms: dict) -> str:
    """The Transformer's time as a multiple of the LSTM's, both at fp32 in the same run, against its bar
    (TRANSFORMER_BAR), as a clause of the precision paragraph; "" when a table lacks either."""
    if "transformer" not in ms or "lstm" not in ms:
        return ""
    ratio = ms["transformer"]["fp32"] / ms["lstm"]["fp32"]
    return (f"; at fp32 the Transformer took {ratio:.2f}× the LSTM's time, "
            f"{'within' if ratio <= TRANSFORMER_BAR else 'over'} the {TRANSFORMER_BAR:g}× bar")


@block("precision_summary")
def precision_summary_block(root: Path) -> str:
    """The README's view of the table: per text model, its fp32 bits per character, and on each kind of CPU
    the plan `auto` serves, its bits per character and the ms per 100 characters at fp32 and served; then the
    bench's floor. docs/precision.md has the whole table (block "precision")."""
    from seqcompare.results import label, table

    t = shipped_table(root)
    if not t:
        return NO_TABLE
    kinds = kinds_of(t)
    header, rows = ["model", "fp32 bpc"], []
    for key, _ in kinds:
        header += [f"{key}: auto serves", "bpc", "ms fp32 → served"]
    for n in kinds[0][1]["ms"]:
        q = t["quality"][f"{TASK}/{n}"]
        row = [label(n), f"{q['fp32']['bpc']:.4f}"]
        for key, m in kinds:
            plan = t["auto"][key][f"{TASK}/{n}"]
            row += [plan, f"{q[plan]['bpc']:.4f}", f"{m['ms'][n]['fp32']:.1f} → {m['ms'][n][plan]:.1f}"]
        rows.append(row)
    totals = "; ".join(f"{m['machine']} ({key}): all four {m['total_ms']['fp32']:.1f} ms at fp32, "
                       f"{m['total_ms']['auto']:.1f} ms at auto ({m['speedup']:.2f}×)" for key, m in kinds)
    return (f"Medians of {kinds[0][1]['runs']} requests of 100 characters per plan, the plans taking turns "
            f"(`python -m seqcompare bench --tasks precision --save`): {totals}.\n\n" + table(header, rows)
            + floor_text(root))


EARLIER = "docs/artifacts/precision_avx512_earlier.json"     # an earlier entry of the same kind of CPU


@block("precision_earlier")
def earlier_block(root: Path) -> str:
    """The shipped entry of a kind of CPU beside an earlier measurement of the same kind (EARLIER): the four
    models' fp32 and auto times in each, and how much each moved between them."""
    from seqcompare.report import read

    t, e = shipped_table(root), read(Path(root) / EARLIER)
    key = (e or {}).get("cpu_features", {}).get("key")
    if not t or key not in t["measured"]:
        return "_no earlier measurement of a kind of CPU in the table_"
    now, was = t["measured"][key]["total_ms"], e["total_ms"]
    same = "the same plans chosen" if e.get("auto") == t["auto"][key] else "other plans chosen"
    less = lambda k: f"{(1 - now[k] / was[k]) * 100:.0f}%"
    return (f"The same kind of CPU shows both. The `{key}` entry above gives fp32 {now['fp32']:.1f} ms for the four "
            f"models and auto {now['auto']:.1f} ms, {now['fp32'] / now['auto']:.2f}× faster. An earlier "
            f"measurement on a machine of the same kind, by the same command ([artifacts/{Path(EARLIER).name}]"
            f"(artifacts/{Path(EARLIER).name})), gave fp32 {was['fp32']:.1f} ms and auto {was['auto']:.1f} ms, "
            f"{was['fp32'] / was['auto']:.2f}× faster, with {same}. Between the two, fp32 took {less('fp32')} "
            f"less time and auto {less('auto')} less"
            + ("; the float32 plans, which read four times the bytes, moved most." if now["fp32"] / was["fp32"]
               < now["auto"] / was["auto"] else "."))


def largest_matrix(folder: Path) -> tuple[str, str, tuple[int, int]] | None:
    """(model, weight name, shape) of the largest matrix a product multiplies among the checkpoints in `folder`
    (read from the files' headers; embedding tables, only looked up, are left out), or None."""
    from safetensors import safe_open

    found = []
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(path, "pt") as f:
            found += [(path.stem, k, tuple(f.get_slice(k).get_shape())) for k in f.keys() if not k.startswith("embed.")]
    found = [m for m in found if len(m[2]) == 2]
    return max(found, key=lambda m: m[2][0] * m[2][1]) if found else None


def classifier_text(root: Path) -> str:
    """Why the digit and review classifiers are served in fp32: the largest matrix they multiply, against the
    text models' largest (which a step reads at every character), from the checkpoints."""
    from seqcompare import tasks
    from seqcompare.results import label

    ones = [(t, m) for t in tasks.TASKS if t != TASK and (m := largest_matrix(root / "checkpoints" / t))]
    text = largest_matrix(root / "checkpoints" / TASK)
    if not ones or not text:
        return "The digit and review classifiers are served in fp32."
    task, (name, weight, (rows, cols)) = max(ones, key=lambda o: o[1][2][0] * o[1][2][1])
    mb = lambda r, c: f"{r * c * 4 / 1e6:.2f} MB"
    return (f"The digit and review classifiers are served in fp32: the largest matrix they multiply, the "
            f"{label(name)}'s `{weight}` in checkpoints/{task}, is {rows:,} × {cols:,} ({mb(rows, cols)} in fp32; "
            f"embedding tables are only looked up, a row per input), against {text[2][0]:,} × {text[2][1]:,} "
            f"({mb(*text[2])}) for the text models' largest, which a step reads at every character; no int8 copy "
            "of them is timed.")


def floor_text(root: Path) -> str:
    from seqcompare.report import read
    from seqcompare.results import label, machines, table

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


def step_text(root: Path) -> str:
    """The bench's anatomy of one float32 step (`bench.anatomy`): per text model, its matrix products alone
    against the whole step, and the Transformer's figures as multiples of the LSTM's."""
    from seqcompare.results import bench, label, machines, table

    b = bench(root)
    steps = b.get("textgen", {}).get("fp32_step")
    if not steps:
        return ""
    rows = [[label(n), str(s["products"]), f"{s['products_us']:.0f}", f"{s['rest_us']:.0f}", f"{s['step_us']:.0f}"]
            for n, s in steps.items()]
    text = ("\n\n**One float32 step** (`bench`, textgen; " + machines(b) + "): 100 greedy steps from a three-character "
            "seed, taking turns with the step's matrix products alone (`step_products`: the same weights, layer by "
            "layer, one row each); µs per step, medians. The rest is the model's other operations (norms, "
            "attention, GELU; the cell's nonlinearities) and the decoding loop's own work around the model (the "
            "input tensor, the masked unknown character, the argmax), which is alike for every model.\n\n"
            + table(["model", "matrix products", "products alone µs", "the rest µs", "whole step µs"], rows))
    if "transformer" in steps and "lstm" in steps:
        t, l = steps["transformer"], steps["lstm"]
        text += (f"\n\nThe Transformer's step took {t['step_us'] / l['step_us']:.2f}× the LSTM's: its "
                 f"{t['products']} products alone {t['products_us'] / l['products_us']:.2f}× the LSTM's "
                 f"{l['products']}, and the rest {t['rest_us']:.0f} against {l['rest_us']:.0f} µs.")
    return text
