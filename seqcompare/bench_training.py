"""`bench --tasks training`: the training step of each text model in float32 and under bfloat16 autocast,
timed in the same run, one step of each in turn, on the CPU the bench runs on.

Each model is built as its shipped recipe builds it (textgen.architecture, over the shipped vocabulary)
and reads its text as it trains (textgen.reading_of: 32 streams of 50-character windows, the state carried,
for RNN, LSTM and GRU; 32 random windows of its 128-character context for the Transformer). The text is
random characters of the vocabulary: a step costs the same whatever characters it reads. Two copies of a
model start from the same weights, one trained at each precision; after warm-up, step i of each is timed,
the fp32 one first on even i, the bf16 one first on odd i, so both see the same load. The result: the
medians per step and their ratio, and the CPU with its bfloat16 features (`machine.bf16_features`). A CPU
without native bfloat16 times fp32 alone: training refuses bf16 there (`devices.precision`).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch

from seqcompare import checkpoints, machine, tasks, textgen
from seqcompare.training import optimise, step

STEPS = 20
WARMUP = 2
PRECISIONS = ("fp32", "bf16")
ARTIFACT = Path("docs/artifacts/bench_training.json")     # beside the repository root, what `bench --save` writes


def trainer(name: str, vocab_size: int, precision: str, steps: int):
    """(one training step as a function, the window it reads) for a fresh `name` model at `precision`."""
    torch.manual_seed(0)
    model = textgen.build(name, textgen.architecture(name, vocab_size))
    cfg = textgen.recipe(name)
    reading = textgen.reading_of(model)
    n = (steps + WARMUP + 1) * cfg.batch_size * (reading.window + 1) * 2
    ids = torch.randint(0, vocab_size, (n,), generator=torch.Generator().manual_seed(1))
    fitting = reading.fit_batches(ids, ids[:4 * (reading.window + 1)], cfg)
    batches = iter(fitting["train_batches"](1))
    optimizer, scheduler = optimise(model, cfg, fitting["steps_per_epoch"])
    model.train()
    cpu = torch.device("cpu")
    return (lambda: step(model, next(batches), fitting["batch_fn"], cpu, precision, optimizer, scheduler, cfg.clip),
            reading.window, cfg.batch_size)


def time_model(name: str, vocab_size: int, steps: int = STEPS, precisions=PRECISIONS) -> dict:
    """{"fp32_ms", "bf16_ms", "speedup", "batch", "window"}: the median step of each precision, alternated
    (bf16_ms and speedup None when bf16 is not among `precisions`)."""
    runs = {p: trainer(name, vocab_size, p, steps) for p in precisions}

    def timed(p, _):
        t0 = time.perf_counter()
        runs[p][0]()
        return (time.perf_counter() - t0) * 1000

    times = machine.take_turns(precisions, steps, timed, WARMUP)
    ms = {p: round(statistics.median(times[p]), 2) for p in precisions}
    _, window, batch = runs["fp32"]
    bf16 = ms.get("bf16")
    return {"fp32_ms": ms["fp32"], "bf16_ms": bf16, "speedup": round(ms["fp32"] / bf16, 3) if bf16 else None,
            "batch": batch, "window": window}


def run(root: Path, steps: int = STEPS, models=textgen.MODELS) -> dict:
    """Every text model's fp32 and bf16 training step (see the module's note), with the CPU that ran them."""
    vocab = checkpoints.read_json(tasks.HOTEL.folder(root) / textgen.VOCAB_FILE)
    load = os.getloadavg()[0]                             # how busy the CPU was: timings on a shared one are noisy
    out = {"steps": steps, "threads": torch.get_num_threads(), "cpu": {"name": machine.cpu_name(),
                                                                       **machine.bf16_features()}}
    precisions = PRECISIONS if machine.native_bf16() else ("fp32",)
    for name in models:
        out[name] = time_model(name, len(vocab), steps, precisions)
    return {**out, "load_average": [round(load, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count()}


def lines(r: dict) -> list[str]:
    """`bench --tasks training` as text."""
    cpu = r["cpu"]
    features = ", ".join(f for f in ("avx512_bf16", "amx_bf16") if cpu.get(f)) or "no native bf16"
    out = [f"training: one step of batch × window characters, median of {r['steps']} (CPU: {cpu['name']}; {features})"]
    for name in textgen.MODELS:
        if name in r:
            m = r[name]
            bf16 = (f"bf16 {m['bf16_ms']:.1f} ms  ×{m['speedup']:.2f}" if m["bf16_ms"] is not None
                    else "bf16 not timed: not native on this CPU")
            out.append(f"  {name:11s} {m['batch']}×{m['window']}  fp32 {m['fp32_ms']:.1f} ms  {bf16}")
    return out


def save(result: dict, repo: Path) -> None:
    """The training figures of a saved bench, with the machine line, as the artifact the report reads (a run
    without bf16 timings, on a CPU without native bf16, leaves the artifact as it is: it compares nothing)."""
    timed = result.get("training", {})
    if any(timed.get(name, {}).get("bf16_ms") for name in textgen.MODELS):
        checkpoints.write_json(repo / ARTIFACT, {"machine": result["machine"], "training": result["training"]})
