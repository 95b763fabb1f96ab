"""The kernels behind the serving plans and the decoding step, one operation at a time on the shipped weights:
`python -m seqcompare bench --tasks kernels [--save]` times them, the variants of each taking turns, and
`--save` writes docs/artifacts/kernels.json, which docs/precision.md's block "kernels" reads.

- The output layer of the recurrent text models (3,073 × 384, the LSTM's) for one row and for 30: float32
  (`F.linear`), weight-only int8 (`Int8Linear`), int8 activations scaled row by row (`DynamicInt8Linear`, the
  w8a8 plan), and `torch._int_mm` alone on activations already rounded to int8.
- The Transformer's first attention input product (576 × 192) for one row, weight-only and w8a8.
- The exact GELU of one row of 768 values: `F.gelu` on a contiguous tensor (oneDNN) and `transformer.gelu`
  (PyTorch's own kernel).
- One new position of a key/value cache for 30 rows of 100 positions: concatenated onto the window (a copy
  of every row's window), and written in place (`transformer.extend`)."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqcompare.machine import machine, take_turns
from seqcompare.report import artifact_block

ARTIFACT = Path("docs/artifacts/kernels.json")      # beside the repository root, what `bench --save` writes
CALLS = 200                                        # calls per timed run: µs per call is their mean
ROWS = 30                                          # a burst of concurrent requests (bench's BURST)


def cases(root: Path) -> dict:
    """{case: (what it is, {variant: a call})} on the shipped fp32 weights."""
    from seqcompare import tasks
    from seqcompare.models.int8 import DynamicInt8Linear, Int8Linear
    from seqcompare.models.transformer import extend, gelu

    bank = tasks.HOTEL.bank(tasks.HOTEL.folder(root), names=("lstm", "transformer"), precision="fp32")
    head, qkv = bank.models["lstm"].decoder, bank.models["transformer"].blocks[0].attn.qkv
    out = {}
    for rows in (1, ROWS):
        x = torch.randn(rows, head.in_features)
        int8, w8a8 = Int8Linear(head.weight, head.bias), DynamicInt8Linear(head.weight, head.bias)
        a = torch.randint(-127, 128, (rows, head.in_features), dtype=torch.int8)
        out[f"head_{rows}"] = (f"the recurrent models' output layer ({head.out_features:,} × {head.in_features}), "
                               f"{rows} row{'s' if rows > 1 else ''}", {
            "fp32": lambda x=x: F.linear(x, head.weight, head.bias), "int8": lambda x=x, m=int8: m(x),
            "w8a8": lambda x=x, m=w8a8: m(x), "int_mm": lambda a=a, w=w8a8.weight: torch._int_mm(a, w.t())})
    x = torch.randn(1, qkv.in_features)
    int8, w8a8 = Int8Linear(qkv.weight, qkv.bias), DynamicInt8Linear(qkv.weight, qkv.bias)
    out["qkv_1"] = (f"the Transformer's attention input product ({qkv.out_features} × {qkv.in_features}), 1 row",
                    {"int8": lambda: int8(x), "w8a8": lambda: w8a8(x)})
    y = torch.randn(1, 4 * qkv.in_features)
    out["gelu_1"] = (f"the exact GELU of one row of {y.shape[1]} values",
                     {"onednn": lambda: F.gelu(y), "native": lambda: gelu(y)})
    heads, width = bank.models["transformer"].cfg.heads, bank.models["transformer"].cfg.width
    keys, values = (torch.randn(ROWS, heads, 100, width // heads) for _ in range(2))
    new = torch.randn(ROWS, 2, heads, 1, width // heads)
    with torch.no_grad():                                   # `extend` writes in place only without gradients
        grown = extend(keys[:, :, :99], values[:, :, :99], new, 1024)     # 100 positions, views of a buffer

    def in_place():                                         # position 100 written again on every call
        grown[0].buffer.written = 100
        return extend(*grown, new, 1024)

    out["cache_30"] = (f"one more position of a key/value cache, {ROWS} rows × {heads} heads × 100 positions", {
        "concatenated": lambda: (torch.cat([keys, new[:, 0]], 2), torch.cat([values, new[:, 1]], 2)),
        "in_place": in_place})
    return out


def run(root: Path, runs: int) -> dict:
    """{"machine", "runs", "calls", "load_average", "us": {case: {variant: median µs per call}}, "what": {…}}."""
    rounds = max(5, runs // 5)
    us, what = {}, {}
    with torch.inference_mode():
        for case, (about, calls) in cases(root).items():
            def timed(variant, _):
                fn = calls[variant]
                t0 = time.perf_counter()
                for _ in range(CALLS):
                    fn()
                return (time.perf_counter() - t0) / CALLS * 1e6
            kept = take_turns(calls, rounds, timed)
            us[case] = {v: round(statistics.median(t), 1) for v, t in kept.items()}
            what[case] = about
    return {"machine": machine(), "runs": rounds, "calls": CALLS, "load_average": round(os.getloadavg()[0], 2),
            "us": us, "what": what}


def lines(r: dict) -> list[str]:
    """What `bench --tasks kernels` prints."""
    return [f"kernels: {r['machine']}; µs per call, median of {r['runs']} runs of {r['calls']} calls, taking turns "
            f"(load {r['load_average']})"] + [f"  {r['what'][c]}: " + ", ".join(f"{v} {t:.1f}" for v, t in per.items())
                                              for c, per in r["us"].items()]


# --- the report block ----------------------------------------------------------------------------

@artifact_block("kernels", ARTIFACT, "No kernels measured yet: `python -m seqcompare bench --tasks kernels --save`.")
def kernels_block(r: dict) -> str:
    u, w = r["us"], r["what"]
    one, many = u["head_1"], u[f"head_{ROWS}"]
    return (f"Measured one operation at a time on the shipped weights (`python -m seqcompare bench --tasks kernels "
            f"--save`; {r['machine']}; µs per call, median of {r['runs']} runs of {r['calls']} calls, the variants "
            f"taking turns; load average {r['load_average']}):\n\n"
            f"- {w[f'head_{ROWS}']}: fp32 {many['fp32']:.0f} µs, weight-only int8 "
            f"{many['int8']:.0f} µs (its kernel reads the weights once per row), w8a8 {many['w8a8']:.0f} µs, "
            f"`torch._int_mm` alone (on activations already in int8) {many['int_mm']:.0f} µs;\n"
            f"- {w['head_1']}: fp32 {one['fp32']:.0f} µs, weight-only int8 {one['int8']:.0f} µs, w8a8 "
            f"{one['w8a8']:.0f} µs, `torch._int_mm` alone {one['int_mm']:.0f} µs;\n"
            f"- {w['qkv_1']}: weight-only int8 {u['qkv_1']['int8']:.0f} "
            f"µs, w8a8 {u['qkv_1']['w8a8']:.0f} µs;\n"
            f"- {w['gelu_1']}: `F.gelu` (oneDNN) {u['gelu_1']['onednn']:.1f} µs, "
            f"`transformer.gelu` (PyTorch's kernel) {u['gelu_1']['native']:.1f} µs;\n"
            f"- {w['cache_30']}: concatenated "
            f"{u['cache_30']['concatenated']:.0f} µs, written in place (`transformer.extend`) "
            f"{u['cache_30']['in_place']:.0f} µs.")
