"""Report blocks for training in bfloat16: the per-step timings of `bench --tasks training`
(docs/artifacts/bench_training.json) and the paired 2-epoch run of the text LSTM in bf16 and fp32
(docs/artifacts/bf16_pair.json), and `pair_artifact`, which writes the latter from the two runs' folders."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from seqcompare import checkpoints
from seqcompare.bench_training import ARTIFACT as BENCH_ARTIFACT
from seqcompare.machine import label as machine_label
from seqcompare.report import artifact_block, read
from seqcompare.plots import NAMES, label
from seqcompare.results import table

PAIR_ARTIFACT = Path("docs/artifacts/bf16_pair.json")
EPOCH_LINE = re.compile(r"epoch (?P<epoch>\d+)/\d+ \((?P<seconds>[\d.]+)s\)\s+(?P<metrics>.*?)\s*\*?$")


def cpu_features(cpu: dict) -> str:
    """"AVX512-BF16, no AMX" and the like, from machine.bf16_features()'s record."""
    return (f"{'AVX512-BF16' if cpu.get('avx512_bf16') else 'no AVX512-BF16'}, "
            f"{'AMX' if cpu.get('amx_bf16') else 'no AMX'}")


def load(figures: list | None, cpus: int | None, own: int = 0) -> str:
    """"; load average 3.1–9.6 on 2 CPUs (a shared CPU)" — or nothing when it was not recorded. `own`: the
    processes of the measurement itself (the paired run's two), which are no sign of other work."""
    if not figures:
        return ""
    shared = " (a shared CPU: timings under load)" if max(figures) > own + 1 else ""
    return f"; load average {min(figures):.1f}–{max(figures):.1f} on {cpus} CPUs{shared}"


@artifact_block("bf16_training", BENCH_ARTIFACT,
                "No training benchmark saved yet: `python -m seqcompare bench --tasks training --save`.")
def training_block(found: dict) -> str:
    r = found["training"]
    rows = [[label(n), f"{r[n]['batch']} × {r[n]['window']}", f"{r[n]['fp32_ms']:.0f}", f"{r[n]['bf16_ms']:.0f}",
             f"{r[n]['speedup']:.2f}×"] for n in NAMES if n in r]
    caption = (f"One training step (forward, backward, AdamW) of each text model in float32 and under bfloat16 "
               f"autocast, median of {r['steps']} steps of each, alternated in one run "
               f"(`python -m seqcompare bench --tasks training --save`; {r['cpu']['name']}, "
               f"{cpu_features(r['cpu'])}, torch kernels {r['cpu']['torch_capability']}; "
               f"{r['threads']} torch thread{'s' if r['threads'] != 1 else ''}"
               f"{load(r.get('load_average'), r.get('cpus'))}).")
    return caption + "\n\n" + table(["model", "batch × characters", "fp32 ms per step", "bf16 ms per step",
                                      "speed-up"], rows)


@artifact_block("bf16_pair", PAIR_ARTIFACT, "No paired run saved yet (docs/artifacts/bf16_pair.json).")
def pair_block(found: dict) -> str:
    runs = found["runs"]
    together = side_by_side(runs)
    rows = [[precision, e["epoch"], f"{e['seconds']:.0f}", "throughout" if together[precision][i] else "ended during it",
             f"{e['train_bpc']:.4f}", f"{e['val_bpc']:.4f}"]
            for precision, run in runs.items() for i, e in enumerate(run["history"])]
    caption = (f"The text LSTM of the shipped recipe, trained {found['epochs']} epochs from the same seed in each "
               f"precision ({found['conditions']}; `{found['command']}`; {machine_label(found['machine'])}, "
               f"{cpu_features(found['machine'])}{load(found.get('load_average'), found['machine'].get('cores'), own=len(found['runs']))}). "
               "Validation bits per character are read in float32 after each epoch; seconds cover the epoch's "
               "training and its validation; \"the other run\" says whether the other precision's run was going "
               "for the whole epoch, so that both shared the CPU alike.")
    header = ["precision", "epoch", "seconds", "the other run", "training bpc", "validation bpc"]
    return caption + "\n\n" + table(header, rows) + "\n\n" + pair_summary(runs, together)


def side_by_side(runs: dict) -> dict[str, list[bool]]:
    """For each run (all started at once) and epoch: whether every other run was still going at its end."""
    ends = {p: list(itertools.accumulate(e["seconds"] for e in r["history"])) for p, r in runs.items()}
    return {p: [all(end <= (ends[q][-1] if ends[q] else 0) or not runs[q]["finished"] for q in runs if q != p)
                for end in ends[p]] for p in runs}


def pair_summary(runs: dict, together: dict[str, list[bool]]) -> str:
    """The comparison in one sentence: time per epoch where both ran throughout, and the last common
    epoch's validation bpc."""
    if set(runs) != {"bf16", "fp32"}:
        return ""
    bf16, fp32 = runs["bf16"]["history"], runs["fp32"]["history"]
    common = min(len(bf16), len(fp32))
    if not common:
        return ""
    fair = [i for i in range(common) if together["bf16"][i] and together["fp32"][i]]
    last = {"bf16": bf16[common - 1]["val_bpc"], "fp32": fp32[common - 1]["val_bpc"]}
    timing = ""
    if fair:
        seconds = {p: sum(h[i]["seconds"] for i in fair) for p, h in (("bf16", bf16), ("fp32", fp32))}
        shown = ", ".join(str(i + 1) for i in fair)
        timing = (f"In epoch{'s' if len(fair) > 1 else ''} {shown}, both runs going throughout, bf16 took "
                  f"{seconds['bf16']:.0f} s and fp32 {seconds['fp32']:.0f} s: {seconds['fp32'] / seconds['bf16']:.2f}× "
                  "less time in bf16. ")
    return (timing + f"After epoch {common} the validation bits per character are {last['bf16']:.4f} (bf16) and "
            f"{last['fp32']:.4f} (fp32), {last['bf16'] - last['fp32']:+.4f}.")


def epochs_from_log(text: str) -> list[dict]:
    """The epoch lines `train` prints ("lstm epoch 1/2 (780s)  train_loss …  val_bpc … *") as history rows."""
    rows = []
    for line in text.splitlines():
        m = EPOCH_LINE.search(line.strip())
        if m:
            values = m["metrics"].split()
            rows.append({"epoch": int(m["epoch"]), "seconds": float(m["seconds"]),
                         **{k: float(v) for k, v in zip(values[::2], values[1::2])}})
    return rows


def pair_run(folder: Path, log: Path, model: str = "lstm") -> dict:
    """One run of the pair: its checkpoint's history and score when it finished, else the epochs its log shows."""
    meta = read(folder / f"{model}.json")
    if meta:
        return {"history": meta["history"], "finished": True, "validation_fp16": meta["validation"],
                "train_seconds": meta["train_seconds"], "best_epoch": meta["best_epoch"]}
    return {"history": epochs_from_log(log.read_text(encoding="utf-8")), "finished": False}


def pair_artifact(repo: Path, scratch: Path, *, machine: dict, command: str, conditions: str, epochs: int,
                  load_average: list[float]) -> dict:
    """Write PAIR_ARTIFACT from the runs in scratch/bf16 and scratch/fp32 (with their logs scratch/P.log)."""
    result = {"machine": machine, "command": command, "conditions": conditions, "epochs": epochs,
              "load_average": load_average,
              "runs": {p: pair_run(scratch / p, scratch / f"{p}.log") for p in ("bf16", "fp32")}}
    checkpoints.write_json(repo / PAIR_ARTIFACT, result)
    return result
