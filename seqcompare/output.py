"""What the commands print: each task's answers as lines for a person, or the same data as JSON.

The registry (`seqcompare.tasks`) points each task's `predict` and `explain` here; the other printers serve
every task alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seqcompare import UserError
from seqcompare.checkpoints import none_loaded
from seqcompare.tasks import Ref

EXPLAINED = ("target", "influence", "attention", "window_start", "error")     # `explain --json` per model


def shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def dump(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


# --- predict --------------------------------------------------------------------------------------

def answer_each(items: list[str], key: str, ask) -> list[dict]:
    """{key: item, **ask(item)} for each item, or {key: item, "error": message} for one the models refuse."""
    results = []
    for item in items:
        try:
            results.append({key: item, **ask(item)})
        except UserError as exc:
            results.append({key: item, "error": str(exc)})
    return results


def predict_digits(folder: Path, paths: list[str], as_json: bool, precision: str | None = None) -> None:
    from seqcompare import digits

    bank = digits.DigitModels(folder, precision=precision)
    if not bank.models:
        raise none_loaded(bank.errors, "digit")
    results = answer_each(paths, "image", lambda path: {"models": {
        n: {f: v for f, v in a.items() if f != "rows"} for n, a in bank.predict(path)["models"].items()}})
    if as_json:
        print(json.dumps(results))
    else:
        for r in results:
            print(r["image"] + ("  error: " + r["error"] if "error" in r else ""))
            for name, a in r.get("models", {}).items():
                print(f"  {name:6s} " + (a["error"] if "error" in a else
                                          f"{a['label']}  confidence {a['confidence']:.3f}  {a['ms']:.2f} ms"))
    if all("error" in r for r in results):
        raise UserError("no image could be used")


def predict_reviews(folder: Path, texts: list[str], as_json: bool, precision: str | None = None) -> None:
    from seqcompare import reviews

    bank = reviews.ReviewModels(folder, precision=precision)
    if not bank.models:
        raise none_loaded(bank.errors, "review")
    def ask(text):
        answer = bank.predict(text, trace=False)
        return {"models": answer["models"], **({"notices": answer["notices"]} if answer["notices"] else {})}

    results = answer_each(texts, "text", ask)
    if as_json:
        dump(results)
    else:
        for r in results:
            print(shorten(r["text"]) + ("  error: " + r["error"] if "error" in r else ""))
            for note in r.get("notices", []):
                print(f"  note: {note}")
            for name, a in r.get("models", {}).items():
                print(f"  {name:6s} " + (a["error"] if "error" in a else f"{reviews.CLASS_NAMES[a['label']]:8s} "
                                                                          f"P(positive) {a['positive']:.3f}  {a['ms']:.2f} ms"))
    if all("error" in r for r in results):
        raise UserError(results[0]["error"] if len(results) == 1 else "no review could be classified")


# --- generate, evaluate ---------------------------------------------------------------------------

def generation(result: dict, as_json: bool) -> None:
    if as_json:
        dump(result)
        return
    for note in result["notices"]:
        print(f"note: {note}")
    for name, a in result["models"].items():
        print(f"[{name}] " + (a["error"] if "error" in a else f"({a['ms']:.0f} ms) {a['text']}"))


def evaluation(result: dict, as_json: bool) -> None:
    if all("error" in m for m in result.values()):
        raise none_loaded({n: m["error"] for n, m in result.items()})
    if as_json:
        print(json.dumps(result))
        return
    for name, m in result.items():
        if "error" in m:
            print(f"{name:6s} unavailable: {m['error']}")
        else:
            print(f"{name:6s} " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in m.items() if k != "confusion_matrix"))


# --- explain: each task's inputs, answers and the labels of its inputs -----------------------------

def _models(result: dict) -> dict:
    return {n: {k: v for k, v in a.items() if k in EXPLAINED} for n, a in result["models"].items()}


def explain_digit(folder: Path, inputs: list[str]) -> tuple[dict, dict, list[str]]:
    from seqcompare import influence

    if len(inputs) != 1:
        raise UserError("explain digits takes one image file")
    result = influence.explain_digit(influence.load_bank("mnist", folder), inputs[0])
    return result, {"image": inputs[0], "models": _models(result)}, [f"row {i}" for i in range(1, 29)]


def explain_review(folder: Path, inputs: list[str]) -> tuple[dict, dict, list[str]]:
    from seqcompare import influence

    result = influence.explain_review(influence.load_bank("imdb", folder), " ".join(inputs))
    return result, {"text": result["text"], "tokens": result["tokens"], "models": _models(result)}, result["tokens"]


def explain_text(folder: Path, inputs: list[str]) -> tuple[dict, dict, list[str]]:
    from seqcompare import influence

    result = influence.explain_text(influence.load_bank("hotel", folder), " ".join(inputs))
    out = {"text": result["text"], "target": result["target"], "inputs": result["inputs"], "models": _models(result)}
    return result, out, influence.shown(result["inputs"])


def strongest(labels: list[str], influence: list[float], k: int = 5) -> str:
    """The k most influential inputs: label, distance back from the prediction, share of the total."""
    total = sum(influence) or 1.0
    top = sorted(range(len(influence)), key=lambda i: -influence[i])[:k]
    return ", ".join(f"{labels[i]!r} (d={len(influence) - i}) {influence[i] / total:.0%}" for i in top)


def explained(result: dict, out: dict, labels: list[str], as_json: bool) -> None:
    for note in result.get("notices", []):
        print(f"seqcompare: note: {note}", file=sys.stderr)
    if as_json:
        dump(out)
        return
    if "target" in out:
        print(f"predicting {out['target']!r} from the {len(labels)} inputs before it")
    for name, a in out["models"].items():
        target = f"answer {a['target']}  " if "target" in a else ""
        print(f"{name:11s} " + (a["error"] if "error" in a else target + "strongest inputs: "
                                 + strongest(labels, a["influence"])))


# --- memory, bench --------------------------------------------------------------------------------

def memory(task: str, result: dict, as_json: bool) -> None:
    from seqcompare import influence

    if as_json:
        print(json.dumps(result))
        return
    unit, shown = result["unit"], (1, 2, 5, 10, 20, 50, 100)
    print(f"{task}: {result['targets']} targets; memory length = first distance (in {unit}) whose relative "
          f"influence is below {result['threshold']:.0%}, trained / untrained")
    for name, m in result["models"].items():
        u = result["untrained"]["models"][name]
        ds = sorted({d for d in shown if d <= len(m["distance"])} | {len(m["distance"])})
        curve = ", ".join(f"d={d}: {m['relative_influence'][d - 1]:.3g}" for d in ds)
        print(f"  {name:11s} {influence.length_text(m):>5s} / {influence.length_text(u):>5s}   {curve}")


def _cold_start(r: dict) -> list[str]:
    return [f"cold start: python app.py → first HTTP 200 in {r['seconds']} s" if r["seconds"] else r["error"]]


def _evaluation_speed(r: dict) -> list[str]:
    return [f"evaluation, {unit}: " + ", ".join(f"{n} {v:,.0f}" for n, v in r[part].items())
            for part, unit in r["units"].items()]


def _explain_speed(r: dict) -> list[str]:
    from seqcompare import tasks

    return [f"explain {part}: {e['request']} — total median {e['total_ms']['median']:.1f} ms, p95 "
            f"{e['total_ms']['p95']:.1f} ms (bar {r['bar_ms']} ms); "
            + ", ".join(f"{n} {m['median']:.1f}" for n, m in e["model_ms"].items())
            for part, e in r.items() if part in tasks.BENCH]


def _cells_speed(r: dict) -> list[str]:
    return [f"cells {key}: {v['request']} — median {v['total_ms']['median']:.1f} ms, p95 {v['total_ms']['p95']:.1f} ms "
            f"(bar {r['bar_ms']} ms)" for key, v in r.items() if isinstance(v, dict) and "total_ms" in v]


def _precision_speed(r: dict) -> list[str]:
    lines = [f"precision: {r['machine']} ({r['cpu_features']['key']}); 100 characters, median of {r['runs']} per plan, "
             f"taking turns: fp32 {r['total_ms']['fp32']:.1f} ms, auto {r['total_ms']['auto']:.1f} ms ({r['speedup']:.2f}×)"]
    if "burst_total_ms" in r:
        lines.append(f"  30 such requests at once: fp32 {r['burst_total_ms']['fp32']:.1f} ms, "
                     f"auto {r['burst_total_ms']['auto']:.1f} ms")
    for n, per in r["ms"].items():
        q, burst = r["quality"][f"hotel/{n}"], r.get("burst_ms", {}).get(n, {})
        lines.append(f"  {n:11s} auto {r['auto'][f'hotel/{n}']:9s} " + "  ".join(
            f"{plan} {ms:.1f} ms" + (f" ({burst[plan]:.0f} for 30)" if plan in burst else "")
            + f" bpc {q[plan]['bpc']:.4f}" for plan, ms in per.items()))
    return lines


BENCH_EXTRA = {"precision": _precision_speed, "evaluation": _evaluation_speed, "coldstart": _cold_start,
               "explain": _explain_speed, "training": Ref("bench_training", "lines"),
               "cells": _cells_speed, "layout": Ref("bench_layout", "lines"),
               "kernels": Ref("bench_kernels", "lines"), "compiled": Ref("bench_compiled", "lines")}


def bench(result: dict, names: list[str], as_json: bool) -> None:
    if as_json:
        dump(result)
        return
    print(result["machine"])
    for name in names:
        r = result[name]
        if name in BENCH_EXTRA:
            print("\n".join(BENCH_EXTRA[name](r)))
            continue
        print(f"{name}: {r['request']} — total median {r['total_ms']['median']:.1f} ms, p95 {r['total_ms']['p95']:.1f} ms")
        for model, s in r["model_ms"].items():
            extra = f", {r['chars_per_second'][model]} chars/s" if "chars_per_second" in r else ""
            print(f"  {model:6s} median {s['median']:.2f} ms  p95 {s['p95']:.2f} ms{extra}")
        if "seeds_apart_ms" in r.get("burst", {}):
            b = r["burst"]
            print(f"  {b['requests']} requests at once: one seed {b['batched_ms']['median']:.0f} ms, seeds of "
                  f"{b['requests']} lengths {b['seeds_apart_ms']['median']:.0f} ms; per model "
                  + ", ".join(f"{n} {b['model_ms'][n]:.0f}/{b['seeds_apart_model_ms'][n]:.0f}" for n in b["model_ms"]))
